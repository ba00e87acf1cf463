package garbagecollector_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var (
	server *testserver.Server
	client kubernetes.Interface
	dyn    dynamic.Interface
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"),
		// The test makes owners and dependents itself: no workload
		// controller or scheduler adds to them.
		ExtraArgs: []string{"--controllers=*,-kube-scheduler,-deployment-controller,-replicaset-controller,-replication-controller,-daemon-set-controller,-statefulset-controller,-job-controller,-cronjob-controller"}}, func(s *testserver.Server) {
		server = s
		c, err := s.Clientset()
		if err != nil {
			panic(err)
		}
		client = c
		cfg, err := s.RESTConfig()
		if err != nil {
			panic(err)
		}
		if dyn, err = dynamic.NewForConfig(cfg); err != nil {
			panic(err)
		}
	}))
}

// gcTimeout bounds how long a collection may take; a custom resource is
// watched only after the collector's next discovery sync (30 s).
const gcTimeout = 50 * time.Second

func ref(apiVersion, kind, name string, uid types.UID, block bool) metav1.OwnerReference {
	r := metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid}
	if block {
		r.BlockOwnerDeletion = ptr.To(true)
		r.Controller = ptr.To(true)
	}
	return r
}

func cmRef(cm *corev1.ConfigMap, block bool) metav1.OwnerReference {
	return ref("v1", "ConfigMap", cm.Name, cm.UID, block)
}

func createCM(t *testing.T, ns, name string, finalizers []string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := client.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: name, OwnerReferences: owners, Finalizers: finalizers}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating configmap %s: %v", name, err)
	}
	return cm
}

func getCM(t *testing.T, ns, name string) (*corev1.ConfigMap, bool) {
	t.Helper()
	cm, err := client.CoreV1().ConfigMaps(ns).Get(t.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cm, true
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond() })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func waitGone(t *testing.T, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		waitFor(t, "configmap "+name+" to be deleted", gcTimeout, func() (bool, error) {
			_, ok := getCM(t, ns, name)
			return !ok, nil
		})
	}
}

// stays checks that the named configmaps still exist a while after a
// collection could have removed them.
func stays(t *testing.T, ns string, names ...string) {
	t.Helper()
	time.Sleep(2 * time.Second)
	for _, name := range names {
		if _, ok := getCM(t, ns, name); !ok {
			t.Errorf("configmap %s was deleted, want it kept", name)
		}
	}
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, stderr, err := server.Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// TestBackground deletes owners with the default (background) propagation:
// dependents go once the owner is gone, including grandchildren and
// dependents with several owners all gone; a dependent with one owner left
// stays and loses the reference to the deleted one.
func TestBackground(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	owner := createCM(t, ns, "owner", nil)
	other := createCM(t, ns, "other", nil)
	child := createCM(t, ns, "child", nil, cmRef(owner, false))
	createCM(t, ns, "grandchild", nil, cmRef(child, true))
	createCM(t, ns, "shared", nil, cmRef(owner, false), cmRef(other, false))

	if err := client.CoreV1().ConfigMaps(ns).Delete(t.Context(), "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "owner", "child", "grandchild")
	waitFor(t, "shared to lose its reference to owner", gcTimeout, func() (bool, error) {
		cm, ok := getCM(t, ns, "shared")
		if !ok {
			return false, fmt.Errorf("shared was deleted though other still owns it")
		}
		return len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == other.UID, nil
	})
}

// TestForeground deletes an owner in the foreground: it keeps a
// deletionTimestamp and the foregroundDeletion finalizer until the
// dependents that block it are gone, then disappears.
func TestForeground(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	const hold = "test.skiff.dev/hold"
	owner := createCM(t, ns, "owner", nil)
	createCM(t, ns, "blocking", []string{hold}, cmRef(owner, true))
	createCM(t, ns, "nonblocking", nil, cmRef(owner, false))

	if err := client.CoreV1().ConfigMaps(ns).Delete(t.Context(), "owner", metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the blocking dependent to be deleted", gcTimeout, func() (bool, error) {
		cm, ok := getCM(t, ns, "blocking")
		return ok && cm.DeletionTimestamp != nil, nil
	})
	waitGone(t, ns, "nonblocking")
	time.Sleep(time.Second)
	cm, ok := getCM(t, ns, "owner")
	if !ok {
		t.Fatal("owner deleted while a blocking dependent exists")
	}
	if cm.DeletionTimestamp == nil || !slices.Contains(cm.Finalizers, metav1.FinalizerDeleteDependents) {
		t.Fatalf("owner: deletionTimestamp %v, finalizers %v; want set and %q", cm.DeletionTimestamp, cm.Finalizers, metav1.FinalizerDeleteDependents)
	}

	kubectl(t, "patch", "configmap", "blocking", "-n", ns, "--type=json", `-p=[{"op":"remove","path":"/metadata/finalizers"}]`)
	waitGone(t, ns, "blocking", "owner")
}

// TestOrphan deletes owners with the orphan policy: the dependents stay
// without their reference to it, the owner goes once orphaning is done.
func TestOrphan(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	owner := createCM(t, ns, "owner", nil)
	other := createCM(t, ns, "other", nil)
	createCM(t, ns, "a", nil, cmRef(owner, true))
	createCM(t, ns, "b", nil, cmRef(owner, false), cmRef(other, false))

	if err := client.CoreV1().ConfigMaps(ns).Delete(t.Context(), "owner", metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ns, "owner")
	a, ok := getCM(t, ns, "a")
	if !ok || len(a.OwnerReferences) != 0 {
		t.Fatalf("a: exists %v, owners %v; want kept without owners", ok, a)
	}
	b, ok := getCM(t, ns, "b")
	if !ok || len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != other.UID {
		t.Fatalf("b: exists %v, %v; want kept owned by other only", ok, b)
	}
	stays(t, ns, "a", "b")
}

// TestDanglingOwner: dependents whose owner never existed, or exists with
// another UID, are deleted; an owner of a kind that cannot be found in
// the dependent's namespace is absent too.
func TestDanglingOwner(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	real := createCM(t, ns, "real", nil)
	createCM(t, ns, "never", nil, ref("v1", "ConfigMap", "ghost", "00000000-0000-0000-0000-000000000001", false))
	createCM(t, ns, "wrong-uid", nil, ref("v1", "ConfigMap", "real", "00000000-0000-0000-0000-000000000002", false))
	createCM(t, ns, "owned", nil, cmRef(real, false))
	createCM(t, ns, "half", nil, cmRef(real, false), ref("v1", "Secret", "ghost", "00000000-0000-0000-0000-000000000003", false))

	waitGone(t, ns, "never", "wrong-uid")
	waitFor(t, "half to lose its dangling reference", gcTimeout, func() (bool, error) {
		cm, ok := getCM(t, ns, "half")
		if !ok {
			return false, fmt.Errorf("half was deleted though real owns it")
		}
		return len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == real.UID, nil
	})
	stays(t, ns, "real", "owned", "half")
}

// TestClusterScopedOwner: a namespaced dependent of a cluster-scoped owner
// lives with it and goes with it.
func TestClusterScopedOwner(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	name := "gc-test-owner-" + ns
	cr, err := client.RbacV1().ClusterRoles().Create(t.Context(), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createCM(t, ns, "dependent", nil, ref("rbac.authorization.k8s.io/v1", "ClusterRole", name, cr.UID, true))
	stays(t, ns, "dependent")

	kubectl(t, "delete", "clusterrole", name)
	waitGone(t, ns, "dependent")
}

// TestDefaultPolicy: replication controllers in core/v1 orphan their
// dependents when the client names no policy, as upstream keeps for them.
func TestDefaultPolicy(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	labels := map[string]string{"app": "rc"}
	rc, err := client.CoreV1().ReplicationControllers(ns).Create(t.Context(), &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc"},
		Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](0), Selector: labels, Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createCM(t, ns, "of-rc", nil, ref("v1", "ReplicationController", "rc", rc.UID, true))
	if err := client.CoreV1().ReplicationControllers(ns).Delete(t.Context(), "rc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rc to be gone", gcTimeout, func() (bool, error) {
		_, err := client.CoreV1().ReplicationControllers(ns).Get(t.Context(), "rc", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	cm, ok := getCM(t, ns, "of-rc")
	if !ok || len(cm.OwnerReferences) != 0 {
		t.Fatalf("of-rc: exists %v, %v; want orphaned", ok, cm)
	}
}

// deployment creates a Deployment owning a ReplicaSet owning pods, with
// the references the controllers would set.
func deployment(t *testing.T, ns, name string, pods int) {
	t.Helper()
	labels := map[string]string{"app": name}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	d, err := client.AppsV1().Deployments(ns).Create(t.Context(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := client.AppsV1().ReplicaSets(ns).Create(t.Context(), &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-rs", OwnerReferences: []metav1.OwnerReference{ref("apps/v1", "Deployment", name, d.UID, true)}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(pods)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods {
		pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
		pod.Name = fmt.Sprintf("%s-pod-%d", name, i)
		pod.OwnerReferences = []metav1.OwnerReference{ref("apps/v1", "ReplicaSet", rs.Name, rs.UID, true)}
		var err error
		// The namespace's default service account may not exist yet.
		waitFor(t, "pod "+pod.Name+" to be created", 20*time.Second, func() (bool, error) {
			_, err = client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
			return err == nil, nil
		})
	}
}

func count(t *testing.T, ns, name string) (rs, pods int) {
	t.Helper()
	rsl, err := client.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatal(err)
	}
	return len(rsl.Items), len(pl.Items)
}

// TestKubectlCascade runs `kubectl delete deployment` with each
// --cascade: background and foreground remove the replica set and its
// pods (foreground before kubectl returns), orphan leaves them without
// the reference to the deployment.
func TestKubectlCascade(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cascade string // "" is kubectl's default
		gone    bool
	}{
		{"", true},
		{"background", true},
		{"foreground", true},
		{"orphan", false},
	} {
		name := tc.cascade
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ns := testserver.Namespace(t, client)
			deployment(t, ns, "web", 2)
			args := []string{"delete", "deployment", "web", "-n", ns}
			if tc.cascade != "" {
				args = append(args, "--cascade="+tc.cascade)
			}
			kubectl(t, args...)
			if tc.cascade == "foreground" {
				// kubectl waited for the deployment, which went last.
				if rs, pods := count(t, ns, "web"); rs != 0 || pods != 0 {
					t.Fatalf("after a foreground delete: %d replica sets, %d pods left", rs, pods)
				}
			}
			if !tc.gone {
				time.Sleep(2 * time.Second)
				rs, err := client.AppsV1().ReplicaSets(ns).Get(t.Context(), "web-rs", metav1.GetOptions{})
				if err != nil {
					t.Fatalf("orphaned replica set: %v", err)
				}
				if len(rs.OwnerReferences) != 0 {
					t.Errorf("orphaned replica set still has owners %v", rs.OwnerReferences)
				}
				if _, pods := count(t, ns, "web"); pods != 2 {
					t.Errorf("%d pods left, want 2", pods)
				}
				return
			}
			waitFor(t, "the replica set and pods to be deleted", gcTimeout, func() (bool, error) {
				rs, pods := count(t, ns, "web")
				return rs == 0 && pods == 0, nil
			})
		})
	}
}

// TestCustomResources: a CRD created after the server started is picked
// up by the collector's discovery resync; custom resources own and are
// owned by custom and built-in objects, and orphaning works on them
// through JSON merge patches.
func TestCustomResources(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	group := "gc.skiff.test"
	// The collector is running before the CRD exists, so it learns of the
	// new kind only through its discovery resync.
	createCM(t, ns, "probe", nil, ref("v1", "ConfigMap", "ghost", "00000000-0000-0000-0000-000000000004", false))
	waitGone(t, ns, "probe")
	res := server.KubectlWith(t, testserver.KubectlOptions{Stdin: fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`, group)}, "apply", "-f", "-")
	if res.Err != nil {
		t.Fatalf("creating the CRD: %v\n%s%s", res.Err, res.Stdout, res.Stderr)
	}
	kubectl(t, "wait", "--for=condition=Established", "crd/widgets."+group, "--timeout=30s")
	gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	widgets := dyn.Resource(gvr).Namespace(ns)
	create := func(name string, owners ...metav1.OwnerReference) *unstructured.Unstructured {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(group + "/v1")
		u.SetKind("Widget")
		u.SetName(name)
		u.SetOwnerReferences(owners)
		var got *unstructured.Unstructured
		waitFor(t, "widget "+name+" to be created", 30*time.Second, func() (bool, error) {
			var err error
			got, err = widgets.Create(t.Context(), u, metav1.CreateOptions{})
			return err == nil, nil
		})
		return got
	}
	widgetRef := func(u *unstructured.Unstructured, block bool) metav1.OwnerReference {
		return ref(group+"/v1", "Widget", u.GetName(), u.GetUID(), block)
	}
	exists := func(name string) (*unstructured.Unstructured, bool) {
		u, err := widgets.Get(t.Context(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return u, true
	}

	t.Logf("%s: creating widgets", time.Now().Format(time.StampMilli))
	owner := create("owner")
	create("child", widgetRef(owner, true))
	createCM(t, ns, "cm-of-widget", nil, widgetRef(owner, false))
	cmOwner := createCM(t, ns, "cm-owner", nil)
	create("widget-of-cm", cmRef(cmOwner, false))
	orphanOwner := create("orphan-owner")
	create("orphan-child", widgetRef(orphanOwner, true))

	t.Logf("%s: deleting the owner widget", time.Now().Format(time.StampMilli))
	if err := widgets.Delete(t.Context(), "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the owner's dependents to be deleted", gcTimeout, func() (bool, error) {
		_, child := exists("child")
		_, cm := getCM(t, ns, "cm-of-widget")
		return !child && !cm, nil
	})

	t.Logf("%s: deleting the configmap owning a widget", time.Now().Format(time.StampMilli))
	kubectl(t, "delete", "configmap", "cm-owner", "-n", ns)
	waitFor(t, "widget-of-cm to be deleted", gcTimeout, func() (bool, error) {
		_, ok := exists("widget-of-cm")
		return !ok, nil
	})

	// Foreground: the owner waits for its blocking dependent, and the
	// collector removes its finalizer with a merge patch.
	fgOwner := create("fg-owner")
	create("fg-child", widgetRef(fgOwner, true))
	kubectl(t, "delete", "widgets."+group, "fg-owner", "-n", ns, "--cascade=foreground")
	for _, name := range []string{"fg-owner", "fg-child"} {
		if _, ok := exists(name); ok {
			t.Errorf("widget %s still exists after kubectl delete --cascade=foreground returned", name)
		}
	}

	kubectl(t, "delete", "widgets."+group, "orphan-owner", "-n", ns, "--cascade=orphan")
	child, ok := exists("orphan-child")
	if !ok || len(child.GetOwnerReferences()) != 0 {
		t.Fatalf("orphan-child: exists %v, %v; want kept without owners", ok, child)
	}
}

// TestOwnerInOtherNamespace: an owner reference cannot cross namespaces.
// A dependent naming an owner that lives in another namespace is deleted,
// with a warning event saying so.
func TestOwnerInOtherNamespace(t *testing.T) {
	t.Parallel()
	ns := testserver.Namespace(t, client)
	otherNS := ns + "-other"
	if _, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: otherNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owner := createCM(t, otherNS, "owner", nil)
	dep := createCM(t, ns, "dependent", nil, cmRef(owner, false))
	waitGone(t, ns, "dependent")
	stays(t, otherNS, "owner")

	want := fmt.Sprintf(`ownerRef [v1/ConfigMap, namespace: %s, name: owner, uid: %s] does not exist in namespace %q`, ns, owner.UID, ns)
	waitFor(t, "the OwnerRefInvalidNamespace event", 20*time.Second, func() (bool, error) {
		events, err := client.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(dep.UID)})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "OwnerRefInvalidNamespace" && e.Type == corev1.EventTypeWarning && e.Message == want &&
				e.Source.Component == "garbage-collector-controller" {
				return true, nil
			}
		}
		return false, nil
	})
}
