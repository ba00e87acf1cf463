package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestUnauthenticated checks that the API refuses anonymous requests with 401
// while the health and version endpoints answer anyone.
func TestUnauthenticated(t *testing.T) {
	cfg := restConfig(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.CAData) {
		t.Fatal("kubeconfig has no CA data")
	}
	foreignCert := selfSignedClientCert(t)
	for _, tc := range []struct {
		name   string
		path   string
		token  string
		cert   *tls.Certificate
		status int
		body   string
	}{
		{"no credentials namespaces", "/api/v1/namespaces", "", nil, 401, `"reason":"Unauthorized"`},
		{"no credentials pods", "/api/v1/namespaces/default/pods", "", nil, 401, `"code":401`},
		{"no credentials /api", "/api", "", nil, 401, ""},
		{"no credentials /apis", "/apis", "", nil, 401, ""},
		{"no credentials /openapi/v2", "/openapi/v2", "", nil, 401, ""},
		{"unknown bearer token", "/api/v1/namespaces", "not-a-token", nil, 401, `"reason":"Unauthorized"`},
		{"client cert of another CA", "/api/v1/namespaces", "", foreignCert, 401, ""},
		{"healthz", "/healthz", "", nil, 200, "ok"},
		{"livez", "/livez", "", nil, 200, "ok"},
		{"readyz", "/readyz", "", nil, 200, "ok"},
		{"version", "/version", "", nil, 200, `"gitVersion": "v1.37.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tlsConfig := &tls.Config{RootCAs: pool}
			if tc.cert != nil {
				tlsConfig.Certificates = []tls.Certificate{*tc.cert}
			}
			hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, suite.server.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", tc.path, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s = %d, want %d; body: %s", tc.path, resp.StatusCode, tc.status, body)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("GET %s body = %s, want it to contain %s", tc.path, body, tc.body)
			}
		})
	}
}

func selfSignedClientCert(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestValidation checks that invalid objects are refused with the field
// path, reason and message Kubernetes gives, both as kubectl prints them and
// as structured causes client-go sees.
func TestValidation(t *testing.T) {
	ns := namespace(t)
	for _, tc := range []struct {
		name     string
		manifest string
		// messages are what kubectl prints: the "is invalid" line and, when
		// there are several errors, one "* " line per error.
		messages []string
		field    string
		reason   metav1.CauseType
	}{
		{
			name:     "pod without containers",
			manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nocontainers\nspec:\n  containers: []\n",
			messages: []string{`The Pod "nocontainers" is invalid: spec.containers: Required value`},
			field:    "spec.containers", reason: metav1.CauseTypeFieldValueRequired,
		},
		{
			name:     "container without image",
			manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: noimage\nspec:\n  containers:\n  - name: c\n",
			messages: []string{`The Pod "noimage" is invalid: spec.containers[0].image: Required value`},
			field:    "spec.containers[0].image", reason: metav1.CauseTypeFieldValueRequired,
		},
		{
			name:     "pod with unknown restartPolicy",
			manifest: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: badrestart\nspec:\n  restartPolicy: Sometimes\n  containers:\n  - name: c\n    image: nginx\n",
			messages: []string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
			field:    "spec.restartPolicy", reason: metav1.CauseTypeFieldValueNotSupported,
		},
		{
			name: "deployment selector does not match template",
			manifest: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: mismatch\nspec:\n  selector:\n    matchLabels:\n      app: one\n" +
				"  template:\n    metadata:\n      labels:\n        app: other\n    spec:\n      containers:\n      - name: c\n        image: nginx\n",
			messages: []string{"The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"},
			field:    "spec.template.metadata.labels", reason: metav1.CauseTypeFieldValueInvalid,
		},
		{
			name:     "uppercase name",
			manifest: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Upper\n",
			messages: []string{`The ConfigMap "Upper" is invalid: metadata.name: Invalid value: "Upper": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', ` +
				`and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
			field: "metadata.name", reason: metav1.CauseTypeFieldValueInvalid,
		},
		{
			name:     "service port zero",
			manifest: "apiVersion: v1\nkind: Service\nmetadata:\n  name: portzero\nspec:\n  ports:\n  - port: 0\n",
			messages: []string{`The Service "portzero" is invalid: `,
				"\n* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive\n",
				"\n* spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"},
			field: "spec.ports[0].port", reason: metav1.CauseTypeFieldValueInvalid,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errOut := kubectlFails(t, tc.manifest, "create", "-n", ns, "-f", "-")
			mustContain(t, "kubectl create", errOut, tc.messages...)

			// The same request through the API, for the structured causes.
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(tc.manifest), &obj); err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(obj)
			path := resourcePath(obj, ns)
			err := clientset(t).CoreV1().RESTClient().Post().AbsPath(path).Body(body).SetHeader("Content-Type", "application/json").Do(t.Context()).Error()
			if !apierrors.IsInvalid(err) {
				t.Fatalf("POST %s: got %v, want an Invalid (422) error", path, err)
			}
			var causes []string
			found := false
			for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
				causes = append(causes, fmt.Sprintf("%s %s", c.Field, c.Type))
				if c.Field == tc.field && c.Type == tc.reason {
					found = true
				}
			}
			if !found {
				t.Errorf("causes = %q, want one with field %s and reason %s", causes, tc.field, tc.reason)
			}
		})
	}
}

func resourcePath(obj map[string]any, ns string) string {
	prefix := "/api/v1"
	if gv := obj["apiVersion"].(string); gv != "v1" {
		prefix = "/apis/" + gv
	}
	kind := obj["kind"].(string)
	return fmt.Sprintf("%s/namespaces/%s/%ss", prefix, ns, strings.ToLower(kind))
}

// TestDefaults checks the defaults Kubernetes fills in, as a user sees them
// in `kubectl get -o yaml`.
func TestDefaults(t *testing.T) {
	ns := namespace(t)
	kubectlIn(t, `apiVersion: v1
kind: Pod
metadata:
  name: defaulted
spec:
  containers:
  - name: tagged
    image: nginx:1.27
  - name: untagged
    image: busybox
`, "create", "-n", ns, "-f", "-")
	kubectlIn(t, `apiVersion: v1
kind: Pod
metadata:
  name: guaranteed
spec:
  containers:
  - name: c
    image: nginx:1.27
    resources:
      limits: {cpu: 100m, memory: 64Mi}
`, "create", "-n", ns, "-f", "-")
	kubectl(t, "create", "-n", ns, "-f", testdata("service-multiport.yaml"))

	var pod, guaranteed corev1.Pod
	getYAML(t, &pod, "-n", ns, "pod/defaulted")
	getYAML(t, &guaranteed, "-n", ns, "pod/guaranteed")
	var svc corev1.Service
	getYAML(t, &svc, "-n", ns, "service/multi")

	c := pod.Spec.Containers
	if len(c) != 2 {
		t.Fatalf("pod has %d containers, want 2", len(c))
	}
	gc := guaranteed.Spec.Containers[0]
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"pod spec.dnsPolicy", pod.Spec.DNSPolicy, corev1.DNSClusterFirst},
		{"pod spec.restartPolicy", pod.Spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"pod spec.schedulerName", pod.Spec.SchedulerName, "default-scheduler"},
		{"pod spec.terminationGracePeriodSeconds", ptr.Deref(pod.Spec.TerminationGracePeriodSeconds, -1), int64(30)},
		{"pod spec.enableServiceLinks", ptr.Deref(pod.Spec.EnableServiceLinks, false), true},
		{"pod spec.securityContext set", pod.Spec.SecurityContext != nil, true},
		{"container terminationMessagePath", c[0].TerminationMessagePath, "/dev/termination-log"},
		{"container terminationMessagePolicy", c[0].TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"tagged image imagePullPolicy", c[0].ImagePullPolicy, corev1.PullIfNotPresent},
		{"untagged image imagePullPolicy", c[1].ImagePullPolicy, corev1.PullAlways},
		{"pod status.phase", pod.Status.Phase, corev1.PodPending},
		{"pod status.qosClass", pod.Status.QOSClass, corev1.PodQOSBestEffort},
		{"requests default to limits", gc.Resources.Requests.Cpu().String() + " " + gc.Resources.Requests.Memory().String(), "100m 64Mi"},
		{"limits-only pod status.qosClass", guaranteed.Status.QOSClass, corev1.PodQOSGuaranteed},
		{"service spec.type", svc.Spec.Type, corev1.ServiceTypeClusterIP},
		{"service spec.sessionAffinity", svc.Spec.SessionAffinity, corev1.ServiceAffinityNone},
		{"service port protocol", svc.Spec.Ports[0].Protocol, corev1.ProtocolTCP},
		{"service port targetPort defaults to port", svc.Spec.Ports[2].TargetPort.String(), "53"},
		{"service spec.internalTrafficPolicy", ptr.Deref(svc.Spec.InternalTrafficPolicy, ""), corev1.ServiceInternalTrafficPolicyCluster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fmt.Sprint(tc.got) != fmt.Sprint(tc.want) {
				t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
			}
		})
	}
	// Defaulting happens on the server: a dry run shows the same values
	// without storing anything.
	out := kubectlIn(t, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: dry\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n",
		"create", "-n", ns, "--dry-run=server", "-o", "jsonpath={.spec.dnsPolicy} {.status.phase}", "-f", "-")
	if out != "ClusterFirst Pending" {
		t.Errorf("server dry run shows %q, want %q", out, "ClusterFirst Pending")
	}
	if _, _, err := suite.server.Kubectl(t, "get", "-n", ns, "pod/dry"); err == nil {
		t.Error("a server dry run stored pod/dry")
	}
}

func getYAML(t *testing.T, into any, args ...string) {
	t.Helper()
	out := kubectl(t, append(append([]string{"get"}, args...), "-o", "yaml")...)
	if err := yaml.Unmarshal([]byte(out), into); err != nil {
		t.Fatalf("decoding kubectl get -o yaml: %v\n%s", err, out)
	}
}

// TestFieldSelectors checks the field labels Kubernetes supports beyond
// metadata.name: pods by node and phase, events by involved object.
func TestFieldSelectors(t *testing.T) {
	ns := namespace(t)
	cs := clientset(t)
	ctx := t.Context()
	bound := podSpec("bound")
	bound.Spec.NodeName = "node-a"
	// No scheduler serves this name, so nothing but the test writes the pod.
	unbound := podSpec("unbound")
	unbound.Spec.SchedulerName = "e2e-no-scheduler"
	for _, p := range []*corev1.Pod{bound, unbound} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Move unbound to Running through the status subresource, as a kubelet would.
	running, err := cs.CoreV1().Pods(ns).Get(ctx, "unbound", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running.Status.Phase = corev1.PodRunning
	if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, running, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update pod status: %v", err)
	}
	for _, name := range []string{"web", "db"} {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: name + ".1", Namespace: ns},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name, APIVersion: "v1"},
			Reason:         "Testing", Message: "for " + name, Type: corev1.EventTypeNormal,
			Source:         corev1.EventSource{Component: "e2e"},
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Count: 1,
		}
		if _, err := cs.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		resource, selector string
		want               string
	}{
		{"pods", "spec.nodeName=node-a", "pod/bound"},
		{"pods", "spec.nodeName=node-b", ""},
		{"pods", "spec.nodeName=", "pod/unbound"},
		{"pods", "status.phase=Running", "pod/unbound"},
		{"pods", "status.phase=Pending", "pod/bound"},
		{"pods", "status.phase!=Pending", "pod/unbound"},
		{"pods", "metadata.name=bound", "pod/bound"},
		{"pods", "spec.restartPolicy=Always", "pod/bound pod/unbound"},
		{"pods", "spec.schedulerName=default-scheduler,spec.serviceAccountName=nobody", ""},
		{"pods", "spec.nodeName=node-a,status.phase=Pending", "pod/bound"},
		{"events", "involvedObject.name=web", "event/web.1"},
		{"events", "involvedObject.kind=Pod,involvedObject.name=db", "event/db.1"},
		{"events", "involvedObject.name=nothing", ""},
		{"events", "reason=Testing,source=e2e", "event/db.1 event/web.1"},
	} {
		t.Run(tc.resource+" "+tc.selector, func(t *testing.T) {
			out := kubectl(t, "get", tc.resource, "-n", ns, "--field-selector", tc.selector, "-o", "name")
			got := strings.Fields(out)
			slices.Sort(got)
			if strings.Join(got, " ") != tc.want {
				t.Errorf("get %s --field-selector %s = %q, want %q", tc.resource, tc.selector, got, tc.want)
			}
		})
	}
	t.Run("unsupported field", func(t *testing.T) {
		errOut := kubectlFails(t, "", "get", "pods", "-n", ns, "--field-selector", "spec.dnsPolicy=ClusterFirst")
		mustContain(t, "unsupported field selector", errOut, "field label not supported: spec.dnsPolicy")
	})
}

func podSpec(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
	}
}

// contentTypeRecorder remembers the Content-Type of every API response.
type contentTypeRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]string
}

func (r *contentTypeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.seen[req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery] = resp.Header.Get("Content-Type")
		r.mu.Unlock()
	}
	return resp, err
}

// TestProtobuf runs client-go in protobuf mode, as the controllers and the
// kubelet do, and checks the server really answers in protobuf.
func TestProtobuf(t *testing.T) {
	ns := namespace(t)
	cfg := restConfig(t)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	rec := &contentTypeRecorder{seen: map[string]string{}}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { rec.next = rt; return rec }
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Controllers may add their own ConfigMaps (kube-root-ca.crt) to the namespace.
	w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=pb"})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	created, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pb"}, Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"b": {0, 1, 2}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	select {
	case ev := <-w.ResultChan():
		got, ok := ev.Object.(*corev1.ConfigMap)
		if !ok || got.Name != "pb" || string(got.BinaryData["b"]) != "\x00\x01\x02" {
			t.Errorf("watch event %s %T %+v", ev.Type, ev.Object, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Error("no watch event within 10s")
	}
	created.Data["k"] = "v2"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "pb", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v2" {
		t.Fatalf("get: %v %v", got, err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "pb", types.MergePatchType, []byte(`{"data":{"p":"1"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "pb"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pb"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pb"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx", Resources: corev1.ResourceRequirements{
					Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				}}}},
			},
		},
	}
	dep, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	if q := dep.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); q != "64Mi" {
		t.Errorf("deployment memory limit round-tripped as %q", q)
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		t.Fatalf("list: %d items, %v", len(list.Items), err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "pb", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) < 7 {
		t.Errorf("recorded only %d responses: %v", len(rec.seen), rec.seen)
	}
	for req, ct := range rec.seen {
		if !strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf") {
			t.Errorf("%s answered with Content-Type %q, want protobuf", req, ct)
		}
	}
}

// TestRestartKeepsState restarts a server on the same data dir and checks
// every object, the CA and the admin kubeconfig survive.
func TestRestartKeepsState(t *testing.T) {
	s := startOwnServer(t)
	cfgBefore, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfgBefore)
	ctx := t.Context()
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := s.Kubectl(t, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	run("create", "namespace", "keep")
	for _, f := range []string{"pod.yaml", "deployment.yaml", "service-clusterip.yaml", "service-nodeport.yaml", "ingress.yaml"} {
		run("apply", "-n", "keep", "-f", testdata(f))
	}
	run("create", "-n", "keep", "secret", "generic", "s", "--from-literal=password=hunter2")
	run("create", "-n", "keep", "configmap", "c", "--from-literal=a=b")
	run("apply", "-f", testdata("crd.yaml"))
	eventually(t, 30*time.Second, "widget CR create", func() error {
		// The CRD's resource is served once it is Established.
		r := s.KubectlWith(t, kubectlOpts("apiVersion: e2e.skiff.dev/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"), "apply", "-n", "keep", "-f", "-")
		if r.Err != nil {
			return fmt.Errorf("%v: %s", r.Err, r.Stderr)
		}
		return nil
	})

	snapshot := `jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid} {.metadata.resourceVersion}{"\n"}{end}`
	kinds := "pods,deployments,services,ingresses,secrets,configmaps,widgets"
	before := run("get", "-n", "keep", kinds, "-o", snapshot)
	svcIPs := run("get", "-n", "keep", "services", "-o", `jsonpath={range .items[*]}{.spec.clusterIP}{" "}{end}`)
	kubeconfigBefore := readFile(t, s.KubeconfigPath)
	caBefore := string(cfgBefore.CAData)

	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restart: %v", err)
	}

	after := run("get", "-n", "keep", kinds, "-o", snapshot)
	if after != before {
		t.Errorf("objects changed across restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, name := range []string{"Pod/web", "Deployment/frontend", "Service/web", "Service/web-nodeport", "Ingress/web", "Secret/s", "ConfigMap/c", "Widget/w1"} {
		if !strings.Contains(after, name+" ") {
			t.Errorf("%s missing after restart", name)
		}
	}
	if v := run("get", "-n", "keep", "secret/s", "-o", "jsonpath={.data.password}"); v != "aHVudGVyMg==" {
		t.Errorf("secret data after restart = %q", v)
	}
	cfgAfter, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if string(cfgAfter.CAData) != caBefore {
		t.Error("the CA in the kubeconfig changed across restart")
	}
	if readFile(t, s.KubeconfigPath) != kubeconfigBefore {
		t.Log("note: the kubeconfig file was rewritten with different content")
	}
	// The client built before the restart still trusts the server and is
	// still trusted by it.
	if _, err := cs.CoreV1().ConfigMaps("keep").Get(ctx, "c", metav1.GetOptions{}); err != nil {
		t.Errorf("client from the old kubeconfig after restart: %v", err)
	}
	// New objects continue the resourceVersion sequence and get fresh
	// cluster IPs rather than reused ones.
	svc, err := cs.CoreV1().Services("keep").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "after"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a service after restart: %v", err)
	}
	if svc.Spec.ClusterIP == "" || strings.Contains(" "+svcIPs, " "+svc.Spec.ClusterIP+" ") {
		t.Errorf("service created after restart got cluster IP %q; existing: %s", svc.Spec.ClusterIP, svcIPs)
	}
	if maxRV(t, before) >= atoi(t, svc.ResourceVersion) {
		t.Errorf("resourceVersion after restart %s is not above those before:\n%s", svc.ResourceVersion, before)
	}
}

// startOwnServer starts a server for one test, for tests that would disturb
// the shared one.
func startOwnServer(t *testing.T) *testserver.Server {
	t.Helper()
	return testserver.Start(t, testserver.Options{Binary: suite.bin})
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func maxRV(t *testing.T, snapshot string) int {
	t.Helper()
	m := 0
	for line := range strings.SplitSeq(strings.TrimSpace(snapshot), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			m = max(m, atoi(t, f[2]))
		}
	}
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("resourceVersion %q is not a number: %v", s, err)
	}
	return n
}
