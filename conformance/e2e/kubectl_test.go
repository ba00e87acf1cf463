package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func TestKubectlVersion(t *testing.T) {
	out := kubectl(t, "version", "-o", "json")
	var v struct {
		ServerVersion struct {
			Major, Minor, GitVersion, Platform string
		} `json:"serverVersion"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("decoding kubectl version output: %v\n%s", err, out)
	}
	sv := v.ServerVersion
	if sv.Major != "1" || sv.Minor != "37" || !strings.HasPrefix(sv.GitVersion, "v1.37.") {
		t.Errorf("server version = major %q minor %q gitVersion %q, want 1, 37, v1.37.x", sv.Major, sv.Minor, sv.GitVersion)
	}
	if sv.Platform != "linux/amd64" && sv.Platform != "linux/arm64" {
		t.Errorf("server platform = %q, want linux/<arch>", sv.Platform)
	}
}

// TestKubectlAPIResources checks that every API group Kubernetes 1.37 serves
// by default is discoverable, with one resource of each as a witness.
func TestKubectlAPIResources(t *testing.T) {
	out := kubectl(t, "api-resources", "-o", "name")
	have := map[string]bool{}
	for _, line := range strings.Fields(out) {
		have[line] = true
	}
	for _, tc := range []struct{ group, resource string }{
		{"", "pods"},
		{"", "services"},
		{"", "configmaps"},
		{"", "namespaces"},
		{"", "events"},
		{"admissionregistration.k8s.io", "validatingwebhookconfigurations"},
		{"apiextensions.k8s.io", "customresourcedefinitions"},
		{"apiregistration.k8s.io", "apiservices"},
		{"apps", "deployments"},
		{"apps", "daemonsets"},
		{"authentication.k8s.io", "tokenreviews"},
		{"authorization.k8s.io", "subjectaccessreviews"},
		{"autoscaling", "horizontalpodautoscalers"},
		{"batch", "jobs"},
		{"batch", "cronjobs"},
		{"certificates.k8s.io", "certificatesigningrequests"},
		{"coordination.k8s.io", "leases"},
		{"discovery.k8s.io", "endpointslices"},
		{"events.k8s.io", "events"},
		{"flowcontrol.apiserver.k8s.io", "flowschemas"},
		{"networking.k8s.io", "ingresses"},
		{"networking.k8s.io", "networkpolicies"},
		{"node.k8s.io", "runtimeclasses"},
		{"policy", "poddisruptionbudgets"},
		{"rbac.authorization.k8s.io", "clusterroles"},
		{"resource.k8s.io", "resourceclaims"},
		{"scheduling.k8s.io", "priorityclasses"},
		{"storage.k8s.io", "storageclasses"},
		{"storagemigration.k8s.io", "storageversionmigrations"},
	} {
		name := tc.resource
		if tc.group != "" {
			name += "." + tc.group
		}
		t.Run(name, func(t *testing.T) {
			if !have[name] {
				t.Errorf("kubectl api-resources does not list %s (group %q)", name, tc.group)
			}
		})
	}
}

func TestKubectlCreate(t *testing.T) {
	ns := namespace(t)
	out := kubectl(t, "create", "-n", ns, "-f", testdata("pod.yaml"))
	if strings.TrimSpace(out) != "pod/web created" {
		t.Errorf("create output = %q, want %q", out, "pod/web created")
	}
	errOut := kubectlFails(t, "", "create", "-n", ns, "-f", testdata("pod.yaml"))
	mustContain(t, "second create", errOut, `Error from server (AlreadyExists)`, `pods "web" already exists`)
}

func TestKubectlApplyClientSide(t *testing.T) {
	ns := namespace(t)
	out := kubectl(t, "apply", "-n", ns, "-f", testdata("deployment.yaml"))
	if strings.TrimSpace(out) != "deployment.apps/frontend created" {
		t.Errorf("first apply output = %q", out)
	}
	if g := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.metadata.generation}"); g != "1" {
		t.Errorf("generation after create = %q, want 1", g)
	}
	ann := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", `jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`)
	if !strings.Contains(ann, `"replicas":2`) {
		t.Errorf("last-applied-configuration = %q, want the applied manifest", ann)
	}

	changed := strings.Replace(readTestdata(t, "deployment.yaml"), "replicas: 2", "replicas: 3", 1)
	out = kubectl(t, "apply", "-n", ns, "-f", writeTemp(t, "deployment.yaml", changed))
	if strings.TrimSpace(out) != "deployment.apps/frontend configured" {
		t.Errorf("second apply output = %q, want configured", out)
	}
	got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.metadata.generation} {.spec.replicas}")
	if got != "2 3" {
		t.Errorf("generation and replicas after a changed apply = %q, want %q", got, "2 3")
	}

	out = kubectl(t, "apply", "-n", ns, "-f", writeTemp(t, "deployment.yaml", changed))
	if strings.TrimSpace(out) != "deployment.apps/frontend unchanged" {
		t.Errorf("third apply output = %q, want unchanged", out)
	}
	if g := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.metadata.generation}"); g != "2" {
		t.Errorf("generation after an unchanged apply = %q, want 2", g)
	}
}

func TestKubectlApplyServerSide(t *testing.T) {
	ns := namespace(t)
	cm := func(value string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  key: %s\n", value)
	}
	out := kubectlIn(t, cm("alice"), "apply", "--server-side", "--field-manager=alice", "-n", ns, "-f", "-")
	if strings.TrimSpace(out) != "configmap/ssa serverside-applied" {
		t.Errorf("first server-side apply output = %q", out)
	}

	errOut := kubectlFails(t, cm("bob"), "apply", "--server-side", "--field-manager=bob", "-n", ns, "-f", "-")
	mustContain(t, "conflicting apply", errOut, `Apply failed with 1 conflict: conflict with "alice"`, ".data.key")
	if v := kubectl(t, "get", "-n", ns, "cm/ssa", "-o", "jsonpath={.data.key}"); v != "alice" {
		t.Errorf("after a refused apply data.key = %q, want alice", v)
	}

	kubectlIn(t, cm("bob"), "apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-n", ns, "-f", "-")
	if v := kubectl(t, "get", "-n", ns, "cm/ssa", "-o", "jsonpath={.data.key}"); v != "bob" {
		t.Errorf("after --force-conflicts data.key = %q, want bob", v)
	}
	managers := kubectl(t, "get", "-n", ns, "cm/ssa", "--show-managed-fields", "-o", `jsonpath={range .metadata.managedFields[*]}{.manager}={.operation}{"\n"}{end}`)
	if !strings.Contains(managers, "bob=Apply") {
		t.Errorf("managedFields managers = %q, want bob=Apply", managers)
	}
	owners := kubectl(t, "get", "-n", ns, "cm/ssa", "--show-managed-fields", "-o", `jsonpath={range .metadata.managedFields[?(@.manager=="alice")]}{.fieldsV1}{end}`)
	if strings.Contains(owners, "f:key") {
		t.Errorf("alice still owns data.key after a forced apply: %s", owners)
	}
}

func TestKubectlGetOutputFormats(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("pod.yaml"))
	for _, tc := range []struct {
		name  string
		args  []string
		check func(out string) error
	}{
		{"yaml", []string{"-o", "yaml"}, func(out string) error {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(out), &obj); err != nil {
				return err
			}
			if obj["kind"] != "Pod" || obj["apiVersion"] != "v1" {
				return fmt.Errorf("kind/apiVersion = %v/%v", obj["kind"], obj["apiVersion"])
			}
			return nil
		}},
		{"json", []string{"-o", "json"}, func(out string) error {
			var obj struct {
				Kind     string
				Metadata struct{ Name, Namespace, UID string }
			}
			if err := json.Unmarshal([]byte(out), &obj); err != nil {
				return err
			}
			if obj.Kind != "Pod" || obj.Metadata.Name != "web" || obj.Metadata.Namespace != ns || obj.Metadata.UID == "" {
				return fmt.Errorf("decoded %+v", obj)
			}
			return nil
		}},
		{"name", []string{"-o", "name"}, wantExactly("pod/web\n")},
		{"wide", []string{"-o", "wide"}, func(out string) error {
			want := []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"}
			if h := tableHeader(out); !slices.Equal(h, want) {
				return fmt.Errorf("header %q, want %q", h, want)
			}
			return nil
		}},
		{"jsonpath", []string{"-o", "jsonpath={.metadata.name}/{.spec.containers[0].image}"}, wantExactly("web/nginx:1.27")},
		{"custom-columns", []string{"-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,PORT:.spec.containers[0].ports[0].containerPort"}, func(out string) error {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME IMAGE PORT" || strings.Join(strings.Fields(lines[1]), " ") != "web nginx:1.27 80" {
				return fmt.Errorf("got %q", out)
			}
			return nil
		}},
		{"go-template", []string{"-o", "go-template={{.metadata.name}} {{range .spec.containers}}{{.name}}{{end}}"}, wantExactly("web nginx")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := kubectl(t, append([]string{"get", "-n", ns, "pod", "web"}, tc.args...)...)
			if err := tc.check(out); err != nil {
				t.Errorf("kubectl get -o %s: %v\noutput:\n%s", tc.name, err, out)
			}
		})
	}
}

func wantExactly(want string) func(string) error {
	return func(out string) error {
		if out != want {
			return fmt.Errorf("got %q, want %q", out, want)
		}
		return nil
	}
}

func TestKubectlGetDefaultColumns(t *testing.T) {
	ns := namespace(t)
	for _, f := range []string{"pod.yaml", "service-clusterip.yaml", "service-multiport.yaml", "deployment.yaml"} {
		kubectl(t, "create", "-n", ns, "-f", testdata(f))
	}
	for _, tc := range []struct {
		resource, name string
		header         []string
		// cells are the expected values of the row, "*" matching anything.
		cells []string
	}{
		{"pods", "web", []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"}, []string{"web", "0/1", "Pending", "0", "*"}},
		{"services", "web", []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}, []string{"web", "ClusterIP", "10.43.*", "<none>", "80/TCP", "*"}},
		{"services", "multi", []string{"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"}, []string{"multi", "ClusterIP", "10.43.*", "<none>", "80/TCP,443/TCP,53/UDP", "*"}},
		// Without nodes no pod becomes ready; whether a deployment
		// controller has already made the pods is a matter of timing.
		{"deployments", "frontend", []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}, []string{"frontend", "0/2", "0|2", "0", "*"}},
	} {
		t.Run(tc.resource+"/"+tc.name, func(t *testing.T) {
			out := kubectl(t, "get", "-n", ns, tc.resource, tc.name)
			if h := tableHeader(out); !slices.Equal(h, tc.header) {
				t.Errorf("header = %q, want %q", h, tc.header)
			}
			row, err := tableRow(out, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if len(row) != len(tc.cells) {
				t.Fatalf("row = %q, want %d cells like %q", row, len(tc.cells), tc.cells)
			}
			for i, want := range tc.cells {
				if !cellMatches(row[i], want) {
					t.Errorf("column %s = %q, want %q", tc.header[i], row[i], want)
				}
			}
		})
	}
}

func cellMatches(got, want string) bool {
	if alts := strings.Split(want, "|"); len(alts) > 1 {
		return slices.Contains(alts, got)
	}
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, prefix) && got != ""
	}
	return got == want
}

func TestKubectlDescribe(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("pod.yaml"))
	kubectl(t, "create", "-n", ns, "-f", testdata("deployment.yaml"))
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"-n", ns, "pod", "web"}, []string{
			"Name:         web", "Namespace:    " + ns, "Labels:       app=web", "Status:       Pending",
			"Containers:", "  nginx:", "    Image:        nginx:1.27", "    Port:         80/TCP",
			"QoS Class:        BestEffort", "Events:",
		}},
		{[]string{"-n", ns, "deployment", "frontend"}, []string{
			"Name:                   frontend", "Namespace:              " + ns,
			"Selector:               app=frontend",
			`re:Replicas:\s+2 desired \| [02] updated \| [02] total \| 0 available \| [02] unavailable`,
			"StrategyType:           RollingUpdate", "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
			"Pod Template:", "   nginx:", "    Image:        nginx:1.27", "   sidecar:", "    Image:      busybox:1.36",
		}},
		{[]string{"namespace", ns}, []string{
			"Name:         " + ns, "Status:       Active", "No resource quota.", "No LimitRange resource.",
		}},
	} {
		t.Run(tc.args[len(tc.args)-2], func(t *testing.T) {
			out := kubectl(t, append([]string{"describe"}, tc.args...)...)
			// Column widths come from a tabwriter and shift with content;
			// the words and their order are what must match.
			mustContainLoosely(t, "describe "+strings.Join(tc.args, " "), out, tc.wants...)
		})
	}
}

func TestKubectlEdit(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "configmap", "-n", ns, "edited", "--from-literal=color=blue")
	editor := filepath.Join(t.TempDir(), "editor.sh")
	script := "#!/bin/sh\nsed -i 's/color: blue/color: green/' \"$1\"\n"
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := suite.server.KubectlWith(t, kubectlOptsEnv("KUBE_EDITOR="+editor), "edit", "-n", ns, "configmap/edited")
	if r.Err != nil {
		t.Fatalf("kubectl edit: %v\n%s", r.Err, r.Stderr)
	}
	if strings.TrimSpace(r.Stdout) != "configmap/edited edited" {
		t.Errorf("edit output = %q", r.Stdout)
	}
	if v := kubectl(t, "get", "-n", ns, "cm/edited", "-o", "jsonpath={.data.color}"); v != "green" {
		t.Errorf("after edit data.color = %q, want green", v)
	}
}

func TestKubectlPatch(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("deployment.yaml"))
	containers := `jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}`

	// A strategic merge patch merges the containers list by name, so the
	// sidecar survives; a JSON merge patch replaces the list.
	kubectl(t, "patch", "-n", ns, "deploy/frontend", "--type=strategic", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}`)
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", containers); got != "nginx=nginx:1.28 sidecar=busybox:1.36 " {
		t.Errorf("after strategic patch containers = %q", got)
	}
	kubectl(t, "patch", "-n", ns, "deploy/frontend", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/tier","value":"web"}]`)
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.spec.replicas} {.metadata.labels.tier}"); got != "4 web" {
		t.Errorf("after json patch replicas and tier = %q, want %q", got, "4 web")
	}
	kubectl(t, "patch", "-n", ns, "deploy/frontend", "--type=merge", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"nginx:1.29"}]}}}}`)
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", containers); got != "only=nginx:1.29 " {
		t.Errorf("after merge patch containers = %q", got)
	}
	if g := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.metadata.generation}"); g != "4" {
		t.Errorf("generation after three spec patches = %q, want 4", g)
	}
	// A failing JSON patch "test" operation refuses the whole patch.
	errOut := kubectlFails(t, "", "patch", "-n", ns, "deploy/frontend", "--type=json", "-p", `[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":7}]`)
	mustContain(t, "failed json patch test", errOut, "The request is invalid")
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.spec.replicas}"); got != "4" {
		t.Errorf("replicas after a refused json patch = %q, want 4", got)
	}
}

func TestKubectlLabelAnnotate(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("pod.yaml"))
	steps := []struct {
		args         []string
		output       string
		jsonpath     string
		want         string
		wantFailText string
	}{
		{[]string{"label", "pod/web", "env=prod"}, "pod/web labeled", "{.metadata.labels.env}", "prod", ""},
		{[]string{"label", "pod/web", "env=dev"}, "", "{.metadata.labels.env}", "prod", "already has a value (prod)"},
		{[]string{"label", "pod/web", "env=dev", "--overwrite"}, "pod/web labeled", "{.metadata.labels.env}", "dev", ""},
		{[]string{"label", "pod/web", "env-"}, "pod/web unlabeled", "{.metadata.labels}", `{"app":"web"}`, ""},
		{[]string{"annotate", "pod/web", "owner=team-a"}, "pod/web annotated", "{.metadata.annotations.owner}", "team-a", ""},
		{[]string{"annotate", "pod/web", "owner=team-b", "--overwrite"}, "pod/web annotated", "{.metadata.annotations.owner}", "team-b", ""},
		{[]string{"annotate", "pod/web", "owner-"}, "pod/web annotated", "{.metadata.annotations.owner}", "", ""},
	}
	for i, s := range steps {
		args := append([]string{"-n", ns}, s.args...)
		if s.wantFailText != "" {
			mustContain(t, "refused "+strings.Join(s.args, " "), kubectlFails(t, "", args...), s.wantFailText)
		} else if out := kubectl(t, args...); strings.TrimSpace(out) != s.output {
			t.Errorf("step %d: kubectl %s printed %q, want %q", i, strings.Join(s.args, " "), out, s.output)
		}
		if got := kubectl(t, "get", "-n", ns, "pod/web", "-o", "jsonpath="+s.jsonpath); got != s.want {
			t.Errorf("step %d: after kubectl %s, %s = %q, want %q", i, strings.Join(s.args, " "), s.jsonpath, got, s.want)
		}
	}
	// Labels set with kubectl are what label selectors see.
	kubectl(t, "label", "-n", ns, "pod/web", "tier=front")
	if got := kubectl(t, "get", "-n", ns, "pods", "-l", "tier=front", "-o", "name"); got != "pod/web\n" {
		t.Errorf("get -l tier=front = %q", got)
	}
	if got := kubectl(t, "get", "-n", ns, "pods", "-l", "tier!=front", "-o", "name"); got != "" {
		t.Errorf("get -l tier!=front = %q, want nothing", got)
	}
}

func TestKubectlScale(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("deployment.yaml"))
	if out := kubectl(t, "scale", "-n", ns, "deploy/frontend", "--replicas=5"); strings.TrimSpace(out) != "deployment.apps/frontend scaled" {
		t.Errorf("scale output = %q", out)
	}
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"); got != "5 2" {
		t.Errorf("replicas and generation after scale = %q, want %q", got, "5 2")
	}
	// The scale subresource itself, as autoscalers read it.
	raw, err := clientset(t).AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name("frontend").SubResource("scale").DoRaw(t.Context())
	if err != nil {
		t.Fatalf("get scale subresource: %v", err)
	}
	var scale struct {
		APIVersion, Kind string
		Spec             struct{ Replicas int }
		Status           struct{ Selector string }
	}
	if err := json.Unmarshal(raw, &scale); err != nil {
		t.Fatalf("decoding scale: %v\n%s", err, raw)
	}
	if scale.Spec.Replicas != 5 || scale.Status.Selector != "app=frontend" || scale.Kind != "Scale" || scale.APIVersion != "autoscaling/v1" {
		t.Errorf("scale = %s", raw)
	}
	// --current-replicas is a precondition the server-side value must meet.
	errOut := kubectlFails(t, "", "scale", "-n", ns, "deploy/frontend", "--current-replicas=3", "--replicas=1")
	mustContain(t, "scale with a wrong precondition", errOut, "Expected replicas to be 3, was 5")
	kubectl(t, "scale", "-n", ns, "deploy/frontend", "--current-replicas=5", "--replicas=0")
	if got := kubectl(t, "get", "-n", ns, "deploy/frontend", "-o", "jsonpath={.spec.replicas}"); got != "0" {
		t.Errorf("replicas after scale to 0 = %q", got)
	}
}

func TestKubectlDelete(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "configmap", "-n", ns, "doomed", "--from-literal=a=b")
	kubectl(t, "create", "-n", ns, "-f", testdata("service-clusterip.yaml"))
	for _, tc := range []struct {
		args   []string
		output string
		get    []string
		gone   string
	}{
		{[]string{"configmap", "doomed"}, `configmap "doomed" deleted`, []string{"configmap", "doomed"}, `configmaps "doomed" not found`},
		{[]string{"-f", testdata("service-clusterip.yaml")}, `service "web" deleted`, []string{"service", "web"}, `services "web" not found`},
	} {
		t.Run(tc.args[len(tc.args)-1], func(t *testing.T) {
			out := kubectl(t, append([]string{"delete", "-n", ns}, tc.args...)...)
			if strings.TrimSpace(out) != tc.output {
				t.Errorf("delete output = %q, want %q", out, tc.output)
			}
			errOut := kubectlFails(t, "", append([]string{"get", "-n", ns}, tc.get...)...)
			mustContain(t, "get after delete", errOut, "Error from server (NotFound)", tc.gone)
		})
	}
	errOut := kubectlFails(t, "", "delete", "-n", ns, "configmap", "never-was")
	mustContain(t, "delete of a missing object", errOut, `configmaps "never-was" not found`)
	if out := kubectl(t, "delete", "-n", ns, "configmap", "never-was", "--ignore-not-found"); out != "" {
		t.Errorf("delete --ignore-not-found printed %q", out)
	}
}

func TestKubectlWaitForDelete(t *testing.T) {
	ns := namespace(t)
	kubectl(t, "create", "-n", ns, "-f", testdata("pod.yaml"))
	cmd := suite.server.KubectlCommand(t.Context(), "wait", "-n", ns, "--for=delete", "pod/web", "--timeout=60s")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Let wait see the pod before it goes, so it has to notice the deletion.
	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("kubectl wait ended before the pod was deleted: %v\n%s", err, out.String())
	default:
	}
	kubectl(t, "delete", "-n", ns, "pod/web", "--wait=false")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kubectl wait --for=delete: %v\n%s", err, out.String())
		}
		mustContain(t, "kubectl wait", out.String(), "pod/web condition met")
	case <-time.After(45 * time.Second):
		t.Fatalf("kubectl wait --for=delete did not return 45s after the delete\n%s", out.String())
	}
}

func TestKubectlExplain(t *testing.T) {
	t.Run("pods.spec.containers", func(t *testing.T) {
		out := kubectl(t, "explain", "pods.spec.containers")
		mustContain(t, "explain pods.spec.containers", out,
			"KIND:       Pod", "VERSION:    v1", "FIELD: containers <[]Container>",
			"List of containers belonging to the pod.", "image\t<string>", "name\t<string> -required-")
	})
	t.Run("deployment.spec.replicas", func(t *testing.T) {
		out := kubectl(t, "explain", "deployment.spec.replicas")
		mustContain(t, "explain deployment.spec.replicas", out, "GROUP:      apps", "KIND:       Deployment", "FIELD: replicas <integer>")
	})
	t.Run("crd", func(t *testing.T) {
		kubectl(t, "apply", "-f", testdata("crd.yaml"))
		t.Cleanup(func() { _, _, _ = suite.server.Kubectl(t, "delete", "-f", testdata("crd.yaml"), "--wait=false") })
		var last string
		// A new CRD reaches the aggregated OpenAPI after a few seconds.
		eventually(t, 45*time.Second, "kubectl explain widgets.spec.size", func() error {
			r := suite.server.KubectlWith(t, kubectlOpts(""), "explain", "widgets.spec.size")
			last = r.Stdout + r.Stderr
			if r.Err != nil {
				return fmt.Errorf("%v: %s", r.Err, r.Stderr)
			}
			if !strings.Contains(r.Stdout, "Size of the widget in furlongs.") {
				return fmt.Errorf("description missing")
			}
			return nil
		})
		mustContain(t, "explain widgets.spec.size", last, "GROUP:      e2e.skiff.dev", "KIND:       Widget", "FIELD: size <integer>")
		out := kubectl(t, "explain", "widgets")
		mustContain(t, "explain widgets", out, "A Widget is a thing the e2e suite defines", "spec\t<Object>")
	})
}
