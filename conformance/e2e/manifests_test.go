package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// field is one value a created object must show, read with a jsonpath.
type field struct {
	jsonpath string
	want     string
	// match, when set, replaces the comparison with want.
	match func(got string) error
}

func inCIDR(cidr string) func(string) error {
	_, n, _ := net.ParseCIDR(cidr)
	return func(got string) error {
		ip := net.ParseIP(got)
		if ip == nil || !n.Contains(ip) {
			return fmt.Errorf("%q is not an address in %s", got, cidr)
		}
		return nil
	}
}

func inRange(lo, hi int) func(string) error {
	return func(got string) error {
		n, err := strconv.Atoi(got)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("%q is not in %d-%d", got, lo, hi)
		}
		return nil
	}
}

// TestManifests applies the workload, service and ingress manifests users
// write most, and checks what the server filled in.
func TestManifests(t *testing.T) {
	ns := namespace(t)
	for _, tc := range []struct {
		file, object, created string
		fields                []field
	}{
		{"pod.yaml", "pod/web", "pod/web created", []field{
			{jsonpath: "{.status.phase}", want: "Pending"},
			{jsonpath: "{.spec.containers[0].ports[0].protocol}", want: "TCP"},
		}},
		{"deployment.yaml", "deployment.apps/frontend", "deployment.apps/frontend created", []field{
			{jsonpath: "{.spec.strategy.type}", want: "RollingUpdate"},
			{jsonpath: "{.spec.strategy.rollingUpdate.maxSurge} {.spec.strategy.rollingUpdate.maxUnavailable}", want: "25% 25%"},
			{jsonpath: "{.spec.revisionHistoryLimit}", want: "10"},
			{jsonpath: "{.spec.progressDeadlineSeconds}", want: "600"},
			{jsonpath: "{.metadata.generation}", want: "1"},
		}},
		{"daemonset.yaml", "daemonset.apps/node-agent", "daemonset.apps/node-agent created", []field{
			{jsonpath: "{.spec.updateStrategy.type}", want: "RollingUpdate"},
			{jsonpath: "{.spec.updateStrategy.rollingUpdate.maxUnavailable}", want: "1"},
			{jsonpath: "{.spec.revisionHistoryLimit}", want: "10"},
			{jsonpath: "{.spec.template.spec.tolerations[0].operator}", want: "Exists"},
		}},
		{"job.yaml", "job.batch/pi", "job.batch/pi created", []field{
			{jsonpath: "{.spec.completions} {.spec.parallelism} {.spec.backoffLimit}", want: "1 1 2"},
			{jsonpath: "{.spec.completionMode}", want: "NonIndexed"},
			{jsonpath: "{.spec.suspend}", want: "false"},
			{jsonpath: "{.spec.podReplacementPolicy}", want: "TerminatingOrFailed"},
			// The server generates the selector from the job's own uid.
			{jsonpath: `{.spec.template.metadata.labels.job-name}`, want: "pi"},
			{jsonpath: `{.spec.selector.matchLabels.batch\.kubernetes\.io/controller-uid}={.metadata.uid}`, match: func(got string) error {
				sel, uid, _ := strings.Cut(got, "=")
				if sel == "" || sel != uid {
					return fmt.Errorf("selector controller-uid %q, job uid %q", sel, uid)
				}
				return nil
			}},
		}},
		{"service-clusterip.yaml", "service/web", "service/web created", []field{
			{jsonpath: "{.spec.type}", want: "ClusterIP"},
			{jsonpath: "{.spec.clusterIP}", match: inCIDR("10.43.0.0/16")},
			{jsonpath: "{.spec.ports[0].protocol} {.spec.ports[0].targetPort}", want: "TCP http"},
			{jsonpath: "{.spec.sessionAffinity}", want: "None"},
			{jsonpath: "{.spec.ipFamilies[0]} {.spec.ipFamilyPolicy}", want: "IPv4 SingleStack"},
			{jsonpath: "{.spec.internalTrafficPolicy}", want: "Cluster"},
		}},
		{"service-nodeport.yaml", "service/web-nodeport", "service/web-nodeport created", []field{
			{jsonpath: "{.spec.type}", want: "NodePort"},
			{jsonpath: "{.spec.clusterIP}", match: inCIDR("10.43.0.0/16")},
			{jsonpath: "{.spec.ports[0].nodePort}", match: inRange(30000, 32767)},
			{jsonpath: "{.spec.externalTrafficPolicy}", want: "Cluster"},
		}},
		{"service-multiport.yaml", "service/multi", "service/multi created", []field{
			{jsonpath: `{range .spec.ports[*]}{.name}:{.port}/{.protocol}->{.targetPort} {end}`, want: "http:80/TCP->8080 https:443/TCP->8443 dns:53/UDP->53 "},
			{jsonpath: "{.spec.clusterIP}", match: inCIDR("10.43.0.0/16")},
		}},
		{"ingress.yaml", "ingress.networking.k8s.io/web", "ingress.networking.k8s.io/web created", []field{
			{jsonpath: "{.spec.rules[0].host}", want: "web.example.test"},
			{jsonpath: "{.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service.name}", want: "Prefix web"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out := kubectl(t, "apply", "-n", ns, "-f", testdata(tc.file))
			if strings.TrimSpace(out) != tc.created {
				t.Errorf("apply printed %q, want %q", out, tc.created)
			}
			for _, f := range tc.fields {
				got := kubectl(t, "get", "-n", ns, tc.object, "-o", "jsonpath="+f.jsonpath)
				if f.match != nil {
					if err := f.match(got); err != nil {
						t.Errorf("%s %s: %v", tc.object, f.jsonpath, err)
					}
				} else if got != f.want {
					t.Errorf("%s %s = %q, want %q", tc.object, f.jsonpath, got, f.want)
				}
			}
		})
	}

	t.Run("distinct cluster IPs", func(t *testing.T) {
		out := kubectl(t, "get", "services", "-n", ns, "-o", `jsonpath={range .items[*]}{.spec.clusterIP}{"\n"}{end}`)
		ips := strings.Fields(out)
		seen := map[string]bool{}
		for _, ip := range ips {
			if seen[ip] {
				t.Errorf("cluster IP %s given to two services: %q", ip, ips)
			}
			seen[ip] = true
		}
		if len(ips) != 3 {
			t.Errorf("services have cluster IPs %q, want 3", ips)
		}
	})
	t.Run("get all", func(t *testing.T) {
		out := kubectl(t, "get", "all", "-n", ns, "-o", "name")
		mustContain(t, "kubectl get all", out, "pod/web\n", "service/web\n", "service/multi\n",
			"deployment.apps/frontend\n", "daemonset.apps/node-agent\n", "job.batch/pi\n")
	})
	t.Run("reapply unchanged", func(t *testing.T) {
		for _, f := range []string{"pod.yaml", "deployment.yaml", "service-multiport.yaml", "ingress.yaml"} {
			out := kubectl(t, "apply", "-n", ns, "-f", testdata(f))
			if !strings.HasSuffix(strings.TrimSpace(out), " unchanged") {
				t.Errorf("re-applying %s printed %q, want unchanged", f, out)
			}
		}
	})
}
