package service_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

var serviceCIDR = netip.MustParsePrefix("10.43.0.0/16")

// newService is a ClusterIP Service on port 80 selecting app=name, changed by mutate.
func newService(name string, mutate func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if mutate != nil {
		mutate(svc)
	}
	return svc
}

func createService(t *testing.T, ns string, svc *corev1.Service) (*corev1.Service, error) {
	t.Helper()
	return cluster.client.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{})
}

func mustCreateService(t *testing.T, ns string, svc *corev1.Service) *corev1.Service {
	t.Helper()
	out, err := createService(t, ns, svc)
	if err != nil {
		t.Fatalf("creating service %s: %v", svc.Name, err)
	}
	return out
}

// ipAddress returns the IPAddress object of ip, or nil when there is none.
func ipAddress(t *testing.T, ip string) *networkingv1.IPAddress {
	t.Helper()
	obj, err := cluster.client.NetworkingV1().IPAddresses().Get(context.Background(), ip, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading IPAddress %s: %v", ip, err)
	}
	return obj
}

// wantError fails unless err is an Invalid error whose message is want.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %q, got success", want)
	}
	if err.Error() != want {
		t.Fatalf("wrong error:\n got: %s\nwant: %s", err, want)
	}
}

func inNodePortRange(p int32) bool { return p >= 30000 && p <= 32767 }

func TestClusterIPAllocation(t *testing.T) {
	ns := namespace(t)
	for _, tc := range []struct {
		name      string
		mutate    func(*corev1.Service)
		clusterIP string // "" means any address of the service CIDR
		families  []corev1.IPFamily
		policy    *corev1.IPFamilyPolicy
		itp       *corev1.ServiceInternalTrafficPolicy
		hasIP     bool
	}{
		{
			name:     "allocated",
			families: []corev1.IPFamily{corev1.IPv4Protocol}, policy: ptr.To(corev1.IPFamilyPolicySingleStack),
			itp: ptr.To(corev1.ServiceInternalTrafficPolicyCluster), hasIP: true,
		},
		{
			name:      "requested",
			mutate:    func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.5" },
			clusterIP: "10.43.0.5",
			families:  []corev1.IPFamily{corev1.IPv4Protocol}, policy: ptr.To(corev1.IPFamilyPolicySingleStack),
			itp: ptr.To(corev1.ServiceInternalTrafficPolicyCluster), hasIP: true,
		},
		{
			name:      "requested-plural-only-singular",
			mutate:    func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.43.0.6", []string{"10.43.0.6"} },
			clusterIP: "10.43.0.6",
			families:  []corev1.IPFamily{corev1.IPv4Protocol}, policy: ptr.To(corev1.IPFamilyPolicySingleStack),
			itp: ptr.To(corev1.ServiceInternalTrafficPolicyCluster), hasIP: true,
		},
		{
			name:      "headless",
			mutate:    func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone },
			clusterIP: corev1.ClusterIPNone,
			families:  []corev1.IPFamily{corev1.IPv4Protocol}, policy: ptr.To(corev1.IPFamilyPolicySingleStack),
			itp: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
		},
		{
			name:      "headless-without-selector",
			mutate:    func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Selector = corev1.ClusterIPNone, nil },
			clusterIP: corev1.ClusterIPNone,
			families:  []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, policy: ptr.To(corev1.IPFamilyPolicyRequireDualStack),
			itp: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
		},
		{
			name: "external-name",
			mutate: func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := mustCreateService(t, ns, newService(tc.name, tc.mutate))
			spec := svc.Spec
			switch {
			case tc.clusterIP != "" && spec.ClusterIP != tc.clusterIP:
				t.Errorf("clusterIP = %q, want %q", spec.ClusterIP, tc.clusterIP)
			case tc.clusterIP == "" && tc.hasIP:
				addr, err := netip.ParseAddr(spec.ClusterIP)
				if err != nil || !serviceCIDR.Contains(addr) {
					t.Errorf("clusterIP %q is not in %s", spec.ClusterIP, serviceCIDR)
				}
			case !tc.hasIP && tc.clusterIP == "" && spec.ClusterIP != "":
				t.Errorf("clusterIP = %q, want none", spec.ClusterIP)
			}
			if spec.ClusterIP == "" && len(spec.ClusterIPs) != 0 || spec.ClusterIP != "" && (len(spec.ClusterIPs) != 1 || spec.ClusterIPs[0] != spec.ClusterIP) {
				t.Errorf("clusterIPs = %v, clusterIP = %q", spec.ClusterIPs, spec.ClusterIP)
			}
			if fmt.Sprint(spec.IPFamilies) != fmt.Sprint(tc.families) {
				t.Errorf("ipFamilies = %v, want %v", spec.IPFamilies, tc.families)
			}
			if !equalPtr(spec.IPFamilyPolicy, tc.policy) {
				t.Errorf("ipFamilyPolicy = %v, want %v", deref(spec.IPFamilyPolicy), deref(tc.policy))
			}
			if !equalPtr(spec.InternalTrafficPolicy, tc.itp) {
				t.Errorf("internalTrafficPolicy = %v, want %v", deref(spec.InternalTrafficPolicy), deref(tc.itp))
			}
			if !tc.hasIP {
				return
			}
			ip := ipAddress(t, spec.ClusterIP)
			if ip == nil {
				t.Fatalf("no IPAddress %s", spec.ClusterIP)
			}
			wantLabels := map[string]string{
				"ipaddress.kubernetes.io/ip-family":  "IPv4",
				"ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
			}
			if fmt.Sprint(ip.Labels) != fmt.Sprint(wantLabels) {
				t.Errorf("IPAddress labels = %v, want %v", ip.Labels, wantLabels)
			}
			wantRef := networkingv1.ParentReference{Resource: "services", Namespace: ns, Name: svc.Name}
			if ip.Spec.ParentRef == nil || *ip.Spec.ParentRef != wantRef {
				t.Errorf("IPAddress parentRef = %+v, want %+v", ip.Spec.ParentRef, wantRef)
			}
		})
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestAllocationErrors(t *testing.T) {
	ns := namespace(t)
	mustCreateService(t, ns, newService("taken-ip", func(s *corev1.Service) {
		s.Spec.ClusterIP = "10.43.0.15"
	}))
	mustCreateService(t, ns, newService("taken-port", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30080
	}))
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Service)
		want   string
	}{
		{
			name:   "ip-taken",
			mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.15" },
			want:   `Service "ip-taken" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.15"]: failed to allocate IP 10.43.0.15: provided IP is already allocated`,
		},
		{
			name:   "ip-outside",
			mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.5" },
			want:   `Service "ip-outside" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided network does not match the current range`,
		},
		{
			name:   "ip-network-address",
			mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.0" },
			want:   `Service "ip-network-address" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.0"]: failed to allocate IP 10.43.0.0: the provided network does not match the current range`,
		},
		{
			name:   "ipv6-ip",
			mutate: func(s *corev1.Service) { s.Spec.ClusterIP = "fd00::5" },
			want:   `Service "ipv6-ip" is invalid: spec.clusterIPs[0]: Invalid value: ["fd00::5"]: IPv6 is not configured on this cluster`,
		},
		{
			name:   "dual-stack",
			mutate: func(s *corev1.Service) { s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack) },
			want:   `Service "dual-stack" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`,
		},
		{
			name:   "ipv6-family",
			mutate: func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} },
			want:   `Service "ipv6-family" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`,
		},
		{
			name: "port-taken",
			mutate: func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = 30080
			},
			want: `Service "port-taken" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`,
		},
		{
			name: "port-outside",
			mutate: func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = 40000
			},
			want: `Service "port-outside" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := createService(t, ns, newService(tc.name, tc.mutate))
			wantError(t, err, tc.want)
			if !apierrors.IsInvalid(err) {
				t.Errorf("want an Invalid (422) error, got %v", apierrors.ReasonForError(err))
			}
		})
	}
}

func TestNodePorts(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()

	t.Run("allocated", func(t *testing.T) {
		svc := mustCreateService(t, ns, newService("np", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443})
		}))
		a, b := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort
		if !inNodePortRange(a) || !inNodePortRange(b) || a == b {
			t.Errorf("nodePorts %d and %d: want two distinct ports in 30000-32767", a, b)
		}
		if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
			t.Errorf("externalTrafficPolicy = %q, want Cluster", svc.Spec.ExternalTrafficPolicy)
		}
	})
	t.Run("same-port-tcp-and-udp", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			nodePort int32
		}{{"dns-auto", 0}, {"dns-explicit", 30053}} {
			svc := mustCreateService(t, ns, newService(tc.name, func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, NodePort: tc.nodePort},
					{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: tc.nodePort},
				}
			}))
			tcp, udp := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort
			if tcp != udp || !inNodePortRange(tcp) || (tc.nodePort != 0 && tcp != tc.nodePort) {
				t.Errorf("%s: nodePorts tcp=%d udp=%d, want one shared port", tc.name, tcp, udp)
			}
		}
	})
	t.Run("load-balancer-local", func(t *testing.T) {
		svc := mustCreateService(t, ns, newService("lb", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}))
		if !inNodePortRange(svc.Spec.Ports[0].NodePort) || !inNodePortRange(svc.Spec.HealthCheckNodePort) ||
			svc.Spec.Ports[0].NodePort == svc.Spec.HealthCheckNodePort {
			t.Errorf("nodePort %d, healthCheckNodePort %d: want two distinct ports", svc.Spec.Ports[0].NodePort, svc.Spec.HealthCheckNodePort)
		}
		if !equalPtr(svc.Spec.AllocateLoadBalancerNodePorts, ptr.To(true)) {
			t.Errorf("allocateLoadBalancerNodePorts = %v, want true", deref(svc.Spec.AllocateLoadBalancerNodePorts))
		}
	})
	t.Run("load-balancer-without-node-ports", func(t *testing.T) {
		svc := mustCreateService(t, ns, newService("lb-no-np", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
		}))
		if svc.Spec.Ports[0].NodePort != 0 {
			t.Errorf("nodePort = %d, want none", svc.Spec.Ports[0].NodePort)
		}
	})
	t.Run("resubmitted-without-node-ports", func(t *testing.T) {
		// A replace of the original manifest keeps what was allocated.
		orig := newService("replaced", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
		created := mustCreateService(t, ns, orig.DeepCopy())
		again := orig.DeepCopy()
		again.ResourceVersion = created.ResourceVersion
		updated, err := cluster.client.CoreV1().Services(ns).Update(ctx, again, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("replacing: %v", err)
		}
		if updated.Spec.ClusterIP != created.Spec.ClusterIP || updated.Spec.Ports[0].NodePort != created.Spec.Ports[0].NodePort {
			t.Errorf("replace changed allocations: %s/%d -> %s/%d", created.Spec.ClusterIP, created.Spec.Ports[0].NodePort,
				updated.Spec.ClusterIP, updated.Spec.Ports[0].NodePort)
		}
	})
}

func TestTypeChanges(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	services := cluster.client.CoreV1().Services(ns)
	update := func(t *testing.T, name string, mutate func(*corev1.Service)) *corev1.Service {
		t.Helper()
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mutate(svc)
		out, err := services.Update(ctx, svc, metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("updating %s: %v", name, err)
		}
		return out
	}

	t.Run("node-port-to-cluster-ip", func(t *testing.T) {
		mustCreateService(t, ns, newService("np-to-cip", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30101
		}))
		svc := update(t, "np-to-cip", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })
		if svc.Spec.Ports[0].NodePort != 0 || svc.Spec.ExternalTrafficPolicy != "" {
			t.Errorf("after the change: nodePort %d, externalTrafficPolicy %q; want both dropped", svc.Spec.Ports[0].NodePort, svc.Spec.ExternalTrafficPolicy)
		}
		// The port is free again.
		mustCreateService(t, ns, newService("np-reuse", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30101
		}))
	})
	t.Run("cluster-ip-to-external-name-and-back", func(t *testing.T) {
		created := mustCreateService(t, ns, newService("cip-to-en", nil))
		ip := created.Spec.ClusterIP
		svc := update(t, "cip-to-en", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
		})
		if svc.Spec.ClusterIP != "" || svc.Spec.ClusterIPs != nil || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil || svc.Spec.InternalTrafficPolicy != nil {
			t.Errorf("ExternalName kept ClusterIP fields: %+v", svc.Spec)
		}
		if ipAddress(t, ip) != nil {
			t.Errorf("IPAddress %s still exists after the change to ExternalName", ip)
		}
		svc = update(t, "cip-to-en", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
		})
		if svc.Spec.ClusterIP == "" || ipAddress(t, svc.Spec.ClusterIP) == nil {
			t.Errorf("back to ClusterIP: clusterIP %q without an IPAddress", svc.Spec.ClusterIP)
		}
		if fmt.Sprint(svc.Spec.IPFamilies) != "[IPv4]" || !equalPtr(svc.Spec.IPFamilyPolicy, ptr.To(corev1.IPFamilyPolicySingleStack)) {
			t.Errorf("back to ClusterIP: ipFamilies %v, ipFamilyPolicy %v", svc.Spec.IPFamilies, deref(svc.Spec.IPFamilyPolicy))
		}
	})
	t.Run("load-balancer-local-to-cluster", func(t *testing.T) {
		created := mustCreateService(t, ns, newService("lb-hc", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}))
		hc := created.Spec.HealthCheckNodePort
		svc := update(t, "lb-hc", func(s *corev1.Service) {
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		})
		if svc.Spec.HealthCheckNodePort != 0 {
			t.Errorf("healthCheckNodePort = %d after switching to Cluster, want 0", svc.Spec.HealthCheckNodePort)
		}
		mustCreateService(t, ns, newService("hc-reuse", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = hc
		}))
	})
}

func TestReleaseOnDelete(t *testing.T) {
	ns := namespace(t)
	svc := mustCreateService(t, ns, newService("gone", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30202
	}))
	if ipAddress(t, svc.Spec.ClusterIP) == nil {
		t.Fatalf("no IPAddress for %s", svc.Spec.ClusterIP)
	}
	if err := cluster.client.CoreV1().Services(ns).Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ipAddress(t, svc.Spec.ClusterIP) != nil {
		t.Errorf("IPAddress %s still exists after the delete", svc.Spec.ClusterIP)
	}
	mustCreateService(t, ns, newService("reuse", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ClusterIP = svc.Spec.ClusterIP
		s.Spec.Ports[0].NodePort = 30202
	}))
}

func TestRollbackOnFailedCreate(t *testing.T) {
	ns := namespace(t)
	mustCreateService(t, ns, newService("holder", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 30303
	}))
	// The ClusterIP is allocated before the NodePort conflict is found; it
	// must be given back.
	_, err := createService(t, ns, newService("loser", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ClusterIP = "10.43.0.33"
		s.Spec.Ports[0].NodePort = 30303
	}))
	wantError(t, err, `Service "loser" is invalid: spec.ports[0].nodePort: Invalid value: 30303: provided port is already allocated`)
	if ipAddress(t, "10.43.0.33") != nil {
		t.Errorf("IPAddress 10.43.0.33 left behind by a failed create")
	}
	// A create that fails after allocating (the name exists) gives back
	// what it allocated.
	dup := newService("holder", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })
	if _, err := createService(t, ns, dup); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("want AlreadyExists, got %v", err)
	}
	ips, err := cluster.client.NetworkingV1().IPAddresses().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, ip := range ips.Items {
		if ip.Spec.ParentRef != nil && ip.Spec.ParentRef.Namespace == ns && ip.Spec.ParentRef.Name == "holder" {
			held = append(held, ip.Name)
		}
	}
	if len(held) != 1 {
		t.Errorf("service holder has IPAddresses %v, want exactly one", held)
	}
}

func TestKubectlGetServices(t *testing.T) {
	ns := namespace(t)
	np := mustCreateService(t, ns, newService("web", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP})
	}))
	cip := mustCreateService(t, ns, newService("api", nil))
	mustCreateService(t, ns, newService("db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }))
	mustCreateService(t, ns, newService("ext", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
	}))
	out, stderr, err := kubectl(t, "get", "svc", "-n", ns)
	if err != nil {
		t.Fatalf("kubectl get svc: %v\n%s", err, stderr)
	}
	want := map[string][]string{
		"NAME": {"TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"},
		"api":  {"ClusterIP", cip.Spec.ClusterIP, "<none>", "80/TCP"},
		"db":   {"ClusterIP", "None", "<none>", "80/TCP"},
		"ext":  {"ExternalName", "<none>", "example.com", "80/TCP"},
		"web": {"NodePort", np.Spec.ClusterIP, "<none>",
			fmt.Sprintf("80:%d/TCP,53:%d/UDP", np.Spec.Ports[0].NodePort, np.Spec.Ports[1].NodePort)},
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		rows[f[0]] = f[1:]
	}
	for name, cols := range want {
		got := rows[name]
		if len(got) < len(cols) || strings.Join(got[:len(cols)], " ") != strings.Join(cols, " ") {
			t.Errorf("row %s = %v, want it to start with %v\n%s", name, got, cols, out)
		}
	}
}

func TestServiceCIDRs(t *testing.T) {
	ctx := context.Background()
	cidrs := cluster.client.NetworkingV1().ServiceCIDRs()
	ready := func(t *testing.T, name string) *networkingv1.ServiceCIDR {
		t.Helper()
		var sc *networkingv1.ServiceCIDR
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			if sc, err = cidrs.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return false, err
			}
			return hasFinalizer(sc) && readyCondition(sc) != nil && readyCondition(sc).Status == metav1.ConditionTrue, nil
		})
		if err != nil {
			t.Fatalf("ServiceCIDR %s not ready with its finalizer: %v (%+v)", name, err, sc)
		}
		return sc
	}

	t.Run("default", func(t *testing.T) {
		sc := ready(t, "kubernetes")
		if fmt.Sprint(sc.Spec.CIDRs) != "[10.43.0.0/16]" {
			t.Errorf("default ServiceCIDR cidrs = %v", sc.Spec.CIDRs)
		}
		kube, err := cluster.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if kube.Spec.ClusterIP != "10.43.0.1" || ipAddress(t, "10.43.0.1") == nil {
			t.Errorf("kubernetes service: clusterIP %q; want 10.43.0.1 with its IPAddress", kube.Spec.ClusterIP)
		}
	})
	t.Run("validation", func(t *testing.T) {
		_, err := cidrs.Create(ctx, &networkingv1.ServiceCIDR{
			ObjectMeta: metav1.ObjectMeta{Name: "two-v4"},
			Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.44.0.0/24", "10.45.0.0/24"}},
		}, metav1.CreateOptions{})
		wantError(t, err, `ServiceCIDR.networking.k8s.io "two-v4" is invalid: spec.cidrs: Invalid value: ["10.44.0.0/24","10.45.0.0/24"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64`)
		sc, err := cluster.client.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sc.Spec.CIDRs = []string{"10.46.0.0/16"}
		_, err = cidrs.Update(ctx, sc, metav1.UpdateOptions{})
		wantError(t, err, `ServiceCIDR.networking.k8s.io "kubernetes" is invalid: spec.cidrs[0]: Invalid value: "10.46.0.0/16": field is immutable`)
	})
	t.Run("extra-cidr-protected-while-used", func(t *testing.T) {
		ns := namespace(t)
		if _, err := cidrs.Create(ctx, &networkingv1.ServiceCIDR{
			ObjectMeta: metav1.ObjectMeta{Name: "extra"},
			Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{"10.44.0.0/24"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ready(t, "extra")
		svc := mustCreateService(t, ns, newService("in-extra", func(s *corev1.Service) { s.Spec.ClusterIP = "10.44.0.10" }))
		if ipAddress(t, svc.Spec.ClusterIP) == nil {
			t.Fatalf("no IPAddress for %s", svc.Spec.ClusterIP)
		}
		if err := cidrs.Delete(ctx, "extra", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// The address in use keeps the ServiceCIDR, marked as terminating.
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			sc, err := cidrs.Get(ctx, "extra", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			c := readyCondition(sc)
			return c != nil && c.Status == metav1.ConditionFalse && c.Reason == networkingv1.ServiceCIDRReasonTerminating, nil
		})
		if err != nil {
			t.Fatalf("ServiceCIDR extra is not held as Terminating: %v", err)
		}
		if err := cluster.client.CoreV1().Services(ns).Delete(ctx, "in-extra", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 25*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := cidrs.Get(ctx, "extra", metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("ServiceCIDR extra not deleted once unused: %v", err)
		}
	})
}

func hasFinalizer(sc *networkingv1.ServiceCIDR) bool {
	for _, f := range sc.Finalizers {
		if f == "networking.k8s.io/service-cidr-finalizer" {
			return true
		}
	}
	return false
}

func readyCondition(sc *networkingv1.ServiceCIDR) *metav1.Condition {
	for i := range sc.Status.Conditions {
		if sc.Status.Conditions[i].Type == networkingv1.ServiceCIDRConditionReady {
			return &sc.Status.Conditions[i]
		}
	}
	return nil
}

func TestIPAddressValidation(t *testing.T) {
	ctx := context.Background()
	ref := &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "x"}
	for _, tc := range []struct {
		name string
		ip   networkingv1.IPAddress
		want string
	}{
		{
			name: "leading-zeros",
			ip:   networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.01.1.1"}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}},
			want: `IPAddress.networking.k8s.io "10.01.1.1" is invalid: metadata.name: Invalid value: "10.01.1.1": must not have leading 0s`,
		},
		{
			name: "not-canonical",
			ip:   networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "2001:db8::0001"}, Spec: networkingv1.IPAddressSpec{ParentRef: ref}},
			want: `IPAddress.networking.k8s.io "2001:db8::0001" is invalid: metadata.name: Invalid value: "2001:db8::0001": must be in canonical form ("2001:db8::1")`,
		},
		{
			name: "no-parent",
			ip:   networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.1.1.1"}},
			want: `IPAddress.networking.k8s.io "10.1.1.1" is invalid: spec.parentRef: Required value`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cluster.client.NetworkingV1().IPAddresses().Create(ctx, &tc.ip, metav1.CreateOptions{})
			wantError(t, err, tc.want)
		})
	}
}

// TestRestartKeepsAllocations restarts the server, so it runs last.
func TestRestartKeepsAllocations(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	kept := mustCreateService(t, ns, newService("kept", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.ClusterIP = "10.43.0.77"
		s.Spec.Ports[0].NodePort = 30777
	}))
	auto := mustCreateService(t, ns, newService("auto", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }))
	// A lost IPAddress is recreated by the repair at start.
	if err := cluster.client.NetworkingV1().IPAddresses().Delete(ctx, auto.Spec.ClusterIP, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	restartServer(t)

	for _, ip := range []string{kept.Spec.ClusterIP, auto.Spec.ClusterIP} {
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return ipAddress(t, ip) != nil, nil
		}); err != nil {
			t.Errorf("no IPAddress %s after the restart", ip)
		}
	}
	_, err := createService(t, ns, newService("ip-clash", func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.77" }))
	wantError(t, err, `Service "ip-clash" is invalid: spec.clusterIPs: Invalid value: ["10.43.0.77"]: failed to allocate IP 10.43.0.77: provided IP is already allocated`)
	for _, port := range []int32{30777, auto.Spec.Ports[0].NodePort} {
		_, err = createService(t, ns, newService(fmt.Sprintf("port-clash-%d", port), func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = port
		}))
		wantError(t, err, fmt.Sprintf(`Service "port-clash-%d" is invalid: spec.ports[0].nodePort: Invalid value: %d: provided port is already allocated`, port, port))
	}
	if _, err := createService(t, ns, newService("after-restart", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort })); err != nil {
		t.Errorf("creating a service after the restart: %v", err)
	}
}
