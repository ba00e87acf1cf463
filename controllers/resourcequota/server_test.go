package resourcequota_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var (
	server *testserver.Server
	client kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"), ExtraArgs: testserver.WithoutScheduler}, func(s *testserver.Server) {
		server = s
		c, err := s.Clientset()
		if err != nil {
			panic(err)
		}
		client = c
	}))
}

// TestPodQuota follows a pods=2,requests.cpu=1 quota through its life:
// usage is counted, the third pod and a pod without a cpu request are
// rejected with kube-apiserver's messages, and deleting a pod frees its
// share for a new one.
func TestPodQuota(t *testing.T) {
	ns := testserver.Namespace(t, client)
	kubectl(t, "create", "quota", "compute", "-n", ns, "--hard=pods=2,requests.cpu=1")
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("0"), "requests.cpu": q("0")})

	createPod(t, ns, "a", "400m")
	createPod(t, ns, "b", "400m")
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("2"), "requests.cpu": q("800m")})

	err := tryPod(t, ns, "c", "100m")
	wantForbidden(t, err, `pods "c" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2`)

	err = tryPod(t, ns, "no-cpu", "")
	wantForbidden(t, err, `pods "no-cpu" is forbidden: failed quota: compute: must specify requests.cpu for: app`)

	// Through stock kubectl the same rejection reads as upstream's.
	_, stderr, kerr := server.Kubectl(t, "run", "d", "-n", ns, "--image=registry.k8s.io/pause:3.10", "--restart=Never", "--overrides",
		`{"spec":{"containers":[{"name":"d","image":"registry.k8s.io/pause:3.10","resources":{"requests":{"cpu":"100m"}}}]}}`)
	if kerr == nil || !strings.Contains(stderr, `Error from server (Forbidden): pods "d" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2`) {
		t.Errorf("kubectl run over quota: err %v, stderr %q", kerr, stderr)
	}

	if err := client.CoreV1().Pods(ns).Delete(t.Context(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("1"), "requests.cpu": q("400m")})
	// Admission reads quotas from its informer, which may show the lower
	// usage a moment after the status does.
	var lastErr error
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		lastErr = tryPod(t, ns, "c", "600m")
		return lastErr == nil, nil
	}); err != nil {
		t.Fatalf("creating pod c once quota was freed: %v", lastErr)
	}
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("2"), "requests.cpu": q("1")})
	err = tryPod(t, ns, "e", "1m")
	wantForbidden(t, err, `pods "e" is forbidden: exceeded quota: compute, requested: pods=1,requests.cpu=1m, used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1`)

	// A pod that terminates stops counting.
	b, err := client.CoreV1().Pods(ns).Get(t.Context(), "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Status.Phase = corev1.PodSucceeded
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(t.Context(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("1"), "requests.cpu": q("600m")})
}

// TestBestEffortScope: a quota scoped to BestEffort counts and limits only
// pods without requests or limits.
func TestBestEffortScope(t *testing.T) {
	ns := testserver.Namespace(t, client)
	kubectl(t, "create", "quota", "besteffort", "-n", ns, "--hard=pods=1", "--scopes=BestEffort")
	waitUsed(t, ns, "besteffort", corev1.ResourceList{"pods": q("0")})

	createPod(t, ns, "burstable-1", "100m")
	createPod(t, ns, "burstable-2", "100m")
	createPod(t, ns, "besteffort-1", "")
	waitUsed(t, ns, "besteffort", corev1.ResourceList{"pods": q("1")})
	err := tryPod(t, ns, "besteffort-2", "")
	wantForbidden(t, err, `pods "besteffort-2" is forbidden: exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1`)
	createPod(t, ns, "burstable-3", "100m")
}

// TestObjectCounts: count/configmaps and services.nodeports, the latter
// also through a type change of an existing service.
func TestObjectCounts(t *testing.T) {
	ns := testserver.Namespace(t, client)
	// Every namespace holds kube-root-ca.crt.
	kubectl(t, "create", "quota", "objects", "-n", ns, "--hard=count/configmaps=2,services.nodeports=1,services=3")
	waitUsed(t, ns, "objects", corev1.ResourceList{"count/configmaps": q("1"), "services.nodeports": q("0"), "services": q("0")})

	kubectl(t, "create", "configmap", "one", "-n", ns)
	_, stderr, err := server.Kubectl(t, "create", "configmap", "two", "-n", ns)
	if err == nil || !strings.Contains(stderr, `configmaps "two" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2`) {
		t.Errorf("second configmap: err %v, stderr %q", err, stderr)
	}
	kubectl(t, "delete", "configmap", "one", "-n", ns)
	waitUsed(t, ns, "objects", corev1.ResourceList{"count/configmaps": q("1")})
	kubectl(t, "create", "configmap", "two", "-n", ns)

	// Resources without an evaluator of their own are counted by object,
	// released once the controller has discovered and watches them.
	kubectl(t, "create", "quota", "apps", "-n", ns, "--hard=count/deployments.apps=1")
	waitUsed(t, ns, "apps", corev1.ResourceList{"count/deployments.apps": q("0")})
	kubectl(t, "create", "deployment", "web", "-n", ns, "--image=registry.k8s.io/pause:3.10")
	_, stderr, err = server.Kubectl(t, "create", "deployment", "web2", "-n", ns, "--image=registry.k8s.io/pause:3.10")
	if err == nil || !strings.Contains(stderr, `deployments.apps "web2" is forbidden: exceeded quota: apps, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1`) {
		t.Errorf("second deployment: err %v, stderr %q", err, stderr)
	}
	kubectl(t, "delete", "deployment", "web", "-n", ns)
	waitUsed(t, ns, "apps", corev1.ResourceList{"count/deployments.apps": q("0")})
	kubectl(t, "create", "deployment", "web2", "-n", ns, "--image=registry.k8s.io/pause:3.10")

	kubectl(t, "create", "service", "nodeport", "np", "-n", ns, "--tcp=80:80")
	waitUsed(t, ns, "objects", corev1.ResourceList{"services.nodeports": q("1"), "services": q("1")})
	_, stderr, err = server.Kubectl(t, "create", "service", "nodeport", "np2", "-n", ns, "--tcp=80:80")
	if err == nil || !strings.Contains(stderr, `services "np2" is forbidden: exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1`) {
		t.Errorf("second nodeport service: err %v, stderr %q", err, stderr)
	}
	kubectl(t, "create", "service", "clusterip", "cip", "-n", ns, "--tcp=80:80")
	_, stderr, err = server.Kubectl(t, "patch", "service", "cip", "-n", ns, "-p", `{"spec":{"type":"NodePort"}}`)
	if err == nil || !strings.Contains(stderr, `exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=1, limited: services.nodeports=1`) {
		t.Errorf("turning a service into a NodePort one: err %v, stderr %q", err, stderr)
	}
	// Turning the NodePort service into a ClusterIP one releases its port.
	kubectl(t, "patch", "service", "np", "-n", ns, "--type=json", "-p", `[{"op":"replace","path":"/spec/type","value":"ClusterIP"},{"op":"remove","path":"/spec/ports/0/nodePort"}]`)
	waitUsed(t, ns, "objects", corev1.ResourceList{"services.nodeports": q("0"), "services": q("2")})
	kubectl(t, "patch", "service", "cip", "-n", ns, "-p", `{"spec":{"type":"NodePort"}}`)
}

// TestDescribe: kubectl describe quota prints the table kube-apiserver's
// status gives it.
func TestDescribe(t *testing.T) {
	ns := testserver.Namespace(t, client)
	kubectl(t, "create", "quota", "compute", "-n", ns, "--hard=pods=4,requests.cpu=2,requests.storage=1Gi,count/secrets=5")
	createPod(t, ns, "a", "250m")
	waitUsed(t, ns, "compute", corev1.ResourceList{"pods": q("1"), "requests.cpu": q("250m")})
	out := kubectl(t, "describe", "quota", "compute", "-n", ns)
	want := fmt.Sprintf(`Name:             compute
Namespace:        %s
Resource          Used  Hard
--------          ----  ----
count/secrets     0     5
pods              1     4
requests.cpu      250m  2
requests.storage  0     1Gi
`, ns)
	if out != want {
		t.Errorf("kubectl describe quota:\n%s\nwant:\n%s", out, want)
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := server.Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return stdout
}

func q(s string) resource.Quantity { return resource.MustParse(s) }

func pod(name, cpu string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
	}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q(cpu)}
	}
	return p
}

func tryPod(t *testing.T, ns, name, cpu string) error {
	_, err := client.CoreV1().Pods(ns).Create(t.Context(), pod(name, cpu), metav1.CreateOptions{})
	return err
}

func createPod(t *testing.T, ns, name, cpu string) {
	t.Helper()
	if err := tryPod(t, ns, name, cpu); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
}

func wantForbidden(t *testing.T, err error, msg string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || err.Error() != msg {
		t.Errorf("got error %v\nwant 403 %q", err, msg)
	}
}

// waitUsed waits up to 30s for the quota's status to report want for each
// resource in want.
func waitUsed(t *testing.T, ns, name string, want corev1.ResourceList) {
	t.Helper()
	var last corev1.ResourceList
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rq, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = rq.Status.Used
		for res, qty := range want {
			got, ok := rq.Status.Used[res]
			if !ok || got.Cmp(qty) != 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		out, _, _ := server.Kubectl(t, "get", "quota", name, "-n", ns, "-o", "yaml", "--show-managed-fields")
		t.Fatalf("quota %s/%s: used %v, want %v: %v\n%s", ns, name, last, want, err, out)
	}
}
