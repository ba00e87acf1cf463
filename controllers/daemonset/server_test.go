package daemonset_test

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
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"),
		// The test plays scheduler and kubelet and owns its nodes, as
		// upstream's controller integration tests do.
		ExtraArgs: []string{"--controllers=*,-kube-scheduler,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller,-pod-garbage-collector"}}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// createNode creates a Ready node labeled group=group with exactly taints,
// deleted when the test ends.
func createNode(t *testing.T, client kubernetes.Interface, name, group string, taints ...corev1.Taint) *corev1.Node {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"group": group}},
		Spec:       corev1.NodeSpec{Taints: taints},
	}
	created, err := client.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	// Controllers (node TTL, for one) write the new node too: each step
	// retries on a fresh copy.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = client.CoreV1().Nodes().UpdateStatus(t.Context(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("marking node %s ready: %v", name, err)
	}
	// Admission taints new nodes not-ready; the node lifecycle controller
	// lifts that taint from a Ready node.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Spec.Taints = taints
		created, err = client.CoreV1().Nodes().Update(t.Context(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("lifting the not-ready taint of node %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return created
}

func newDaemonSet(name, group string) *appsv1.DaemonSet {
	lbls := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"group": group},
					Containers:   []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
				},
			},
		},
	}
}

// daemonPods returns the live pods of the set by target node.
func daemonPods(t *testing.T, client kubernetes.Interface, ns, app string) map[string][]corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	out := map[string][]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		out[podNode(p)] = append(out[podNode(p)], p)
	}
	return out
}

// podNode is the node a daemon pod's required affinity names.
func podNode(p corev1.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

func nodeNames(m map[string][]corev1.Pod) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond for up to 20s.
func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var lastErr error
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		lastErr = err
		return ok, nil
	})
	if err != nil {
		out, _, _ := server.Kubectl(t, "get", "events,controllerrevisions,daemonsets,pods,nodes", "-A", "-o", "wide")
		t.Fatalf("waiting for %s: %v (last error: %v)\n%s", what, err, lastErr, out)
	}
}

// waitForPodsOn waits until the set has exactly one live pod on each of
// nodes and none elsewhere.
func waitForPodsOn(t *testing.T, client kubernetes.Interface, ns, app string, nodes ...string) map[string][]corev1.Pod {
	t.Helper()
	slices.Sort(nodes)
	var got map[string][]corev1.Pod
	waitFor(t, fmt.Sprintf("pods of %s on %v", app, nodes), func() (bool, error) {
		got = daemonPods(t, client, ns, app)
		for _, pods := range got {
			if len(pods) != 1 {
				return false, fmt.Errorf("pods per node: %v", got)
			}
		}
		return slices.Equal(nodeNames(got), nodes), fmt.Errorf("pods on %v", nodeNames(got))
	})
	return got
}

// markReady sets the pod Running and Ready, as a kubelet would.
func markReady(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	now := metav1.Now()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	_, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	return err
}

func markAllReady(t *testing.T, client kubernetes.Interface, ns, app string) {
	t.Helper()
	for _, pods := range daemonPods(t, client, ns, app) {
		for i := range pods {
			if err := markReady(t.Context(), client, &pods[i]); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				t.Fatalf("marking pod %s ready: %v", pods[i].Name, err)
			}
		}
	}
}

func TestPlacement(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	group := "placement"
	createNode(t, client, "place-a", group)
	createNode(t, client, "place-b", group)
	createNode(t, client, "place-tainted", group, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule})
	createNode(t, client, "place-other", "elsewhere")
	// Taints the controller tolerates by itself do not keep daemons away.
	createNode(t, client, "place-cordoned", group, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})

	ds, err := client.AppsV1().DaemonSets(ns).Create(t.Context(), newDaemonSet("plain", group), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tolerating := newDaemonSet("tolerating", group)
	tolerating.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}
	if _, err := client.AppsV1().DaemonSets(ns).Create(t.Context(), tolerating, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	pods := waitForPodsOn(t, client, ns, "plain", "place-a", "place-b", "place-cordoned")
	waitForPodsOn(t, client, ns, "tolerating", "place-a", "place-b", "place-cordoned", "place-tainted")

	t.Run("pod shape", func(t *testing.T) {
		pod := pods["place-a"][0]
		if pod.Spec.NodeName != "" {
			t.Errorf("nodeName = %q, want it left to the scheduler", pod.Spec.NodeName)
		}
		if !strings.HasPrefix(pod.Name, "plain-") {
			t.Errorf("name %q does not start with the set's name", pod.Name)
		}
		ref := metav1.GetControllerOf(&pod)
		if ref == nil || ref.Kind != "DaemonSet" || ref.UID != ds.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("controller ref = %+v", ref)
		}
		if pod.Labels[extensionsv1beta1.DaemonSetTemplateGenerationKey] != "1" {
			t.Errorf("labels %v lack %s=1", pod.Labels, extensionsv1beta1.DaemonSetTemplateGenerationKey)
		}
		if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == "" {
			t.Errorf("labels %v lack %s", pod.Labels, appsv1.DefaultDaemonSetUniqueLabelKey)
		}
		wantTolerations := map[string]corev1.TaintEffect{
			corev1.TaintNodeNotReady: corev1.TaintEffectNoExecute, corev1.TaintNodeUnreachable: corev1.TaintEffectNoExecute,
			corev1.TaintNodeDiskPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeMemoryPressure: corev1.TaintEffectNoSchedule,
			corev1.TaintNodePIDPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeUnschedulable: corev1.TaintEffectNoSchedule,
		}
		for _, tol := range pod.Spec.Tolerations {
			if wantTolerations[tol.Key] == tol.Effect && tol.Operator == corev1.TolerationOpExists {
				delete(wantTolerations, tol.Key)
			}
		}
		if len(wantTolerations) > 0 {
			t.Errorf("tolerations %v lack %v", pod.Spec.Tolerations, wantTolerations)
		}
	})

	t.Run("events", func(t *testing.T) {
		waitForEvent(t, client, ns, "plain", "SuccessfulCreate", "Created pod: "+pods["place-a"][0].Name)
	})

	t.Run("status", func(t *testing.T) {
		markAllReady(t, client, ns, "plain")
		waitFor(t, "status", func() (bool, error) {
			got, err := client.AppsV1().DaemonSets(ns).Get(t.Context(), "plain", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			s := got.Status
			want := appsv1.DaemonSetStatus{CurrentNumberScheduled: 3, DesiredNumberScheduled: 3, NumberReady: 3, UpdatedNumberScheduled: 3,
				NumberAvailable: 3, ObservedGeneration: got.Generation}
			s.CollisionCount = nil
			return s.CurrentNumberScheduled == want.CurrentNumberScheduled && s.DesiredNumberScheduled == want.DesiredNumberScheduled &&
				s.NumberReady == want.NumberReady && s.UpdatedNumberScheduled == want.UpdatedNumberScheduled && s.NumberAvailable == want.NumberAvailable &&
				s.NumberUnavailable == 0 && s.NumberMisscheduled == 0 && s.ObservedGeneration == want.ObservedGeneration, fmt.Errorf("status %+v", s)
		})
		server.Kubectl(t, "rollout", "status", "-n", ns, "daemonset/plain", "--timeout=20s")
	})

	parent := t
	t.Run("node added", func(t *testing.T) {
		createNode(parent, client, "place-late", group)
		waitForPodsOn(t, client, ns, "plain", "place-a", "place-b", "place-cordoned", "place-late")
	})

	t.Run("node deleted", func(t *testing.T) {
		if err := client.CoreV1().Nodes().Delete(t.Context(), "place-b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForPodsOn(t, client, ns, "plain", "place-a", "place-cordoned", "place-late")
	})

	t.Run("node relabeled", func(t *testing.T) {
		node, err := client.CoreV1().Nodes().Get(t.Context(), "place-a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Labels["group"] = "elsewhere"
		if _, err := client.CoreV1().Nodes().Update(t.Context(), node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForPodsOn(t, client, ns, "plain", "place-cordoned", "place-late")
	})

	t.Run("NoExecute taint evicts", func(t *testing.T) {
		node, err := client.CoreV1().Nodes().Get(t.Context(), "place-late", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: "evict", Effect: corev1.TaintEffectNoExecute})
		if _, err := client.CoreV1().Nodes().Update(t.Context(), node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForPodsOn(t, client, ns, "plain", "place-cordoned")
	})
}

func TestRollingUpdate(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	group := "rolling"
	var nodes []string
	for i := range 4 {
		n := fmt.Sprintf("roll-%d", i)
		createNode(t, client, n, group)
		nodes = append(nodes, n)
	}
	ds := newDaemonSet("roll", group)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(2))}}
	if _, err := client.AppsV1().DaemonSets(ns).Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitForPodsOn(t, client, ns, "roll", nodes...)
	oldHash := first[nodes[0]][0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	markAllReady(t, client, ns, "roll")
	server.Kubectl(t, "rollout", "status", "-n", ns, "daemonset/roll", "--timeout=20s")

	if _, _, err := server.Kubectl(t, "set", "image", "-n", ns, "daemonset/roll", "c=registry.k8s.io/pause:3.9"); err != nil {
		t.Fatal(err)
	}
	// With new pods never ready, exactly maxUnavailable old pods are replaced.
	count := func() (old, updated int) {
		for _, pods := range daemonPods(t, client, ns, "roll") {
			for _, p := range pods {
				if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == oldHash {
					old++
				} else {
					updated++
				}
			}
		}
		return old, updated
	}
	waitFor(t, "two pods replaced", func() (bool, error) {
		old, updated := count()
		return old == 2 && updated == 2, fmt.Errorf("%d old, %d updated", old, updated)
	})
	time.Sleep(time.Second)
	if old, updated := count(); old != 2 || updated != 2 {
		t.Fatalf("rollout went past maxUnavailable: %d old, %d updated pods", old, updated)
	}
	// Ready new pods let the rest roll.
	waitFor(t, "all pods replaced", func() (bool, error) {
		markAllReady(t, client, ns, "roll")
		old, updated := count()
		return old == 0 && updated == 4, fmt.Errorf("%d old, %d updated", old, updated)
	})
	markAllReady(t, client, ns, "roll")
	server.Kubectl(t, "rollout", "status", "-n", ns, "daemonset/roll", "--timeout=20s")

	out, _, err := server.Kubectl(t, "rollout", "history", "-n", ns, "daemonset/roll")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history lacks revisions 1 and 2:\n%s", out)
	}
	revs, err := client.AppsV1().ControllerRevisions(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(revs.Items) != 2 {
		t.Errorf("%d controller revisions, want 2", len(revs.Items))
	}
	for _, r := range revs.Items {
		if !strings.HasPrefix(r.Name, "roll-"+r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]) {
			t.Errorf("revision %s not named after its hash label %q", r.Name, r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey])
		}
	}

	if _, _, err := server.Kubectl(t, "rollout", "undo", "-n", ns, "daemonset/roll"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rollback to the first template", func() (bool, error) {
		markAllReady(t, client, ns, "roll")
		old, updated := count()
		return old == 4 && updated == 0, fmt.Errorf("%d first-revision pods, %d others", old, updated)
	})
	got, err := client.AppsV1().DaemonSets(ns).Get(t.Context(), "roll", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "registry.k8s.io/pause:3.10" {
		t.Errorf("image after undo = %s", img)
	}
}

func TestOnDelete(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	group := "ondelete"
	createNode(t, client, "ondel-a", group)
	createNode(t, client, "ondel-b", group)
	ds := newDaemonSet("ondel", group)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	if _, err := client.AppsV1().DaemonSets(ns).Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := waitForPodsOn(t, client, ns, "ondel", "ondel-a", "ondel-b")
	markAllReady(t, client, ns, "ondel")
	if _, _, err := server.Kubectl(t, "set", "image", "-n", ns, "daemonset/ondel", "c=registry.k8s.io/pause:3.9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new generation observed", func() (bool, error) {
		got, err := client.AppsV1().DaemonSets(ns).Get(t.Context(), "ondel", metav1.GetOptions{})
		return err == nil && got.Status.ObservedGeneration == got.Generation && got.Status.UpdatedNumberScheduled == 0, err
	})
	time.Sleep(time.Second)
	after := daemonPods(t, client, ns, "ondel")
	for node, pods := range before {
		if len(after[node]) != 1 || after[node][0].UID != pods[0].UID {
			t.Fatalf("pod on %s replaced without being deleted", node)
		}
	}
	if err := client.CoreV1().Pods(ns).Delete(t.Context(), before["ondel-a"][0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitForPodsOn(t, client, ns, "ondel", "ondel-a", "ondel-b")
	if img := got["ondel-a"][0].Spec.Containers[0].Image; img != "registry.k8s.io/pause:3.9" {
		t.Errorf("replacement pod runs %s", img)
	}
	if got["ondel-b"][0].UID != before["ondel-b"][0].UID {
		t.Errorf("pod on ondel-b replaced")
	}
}

// waitForEvent waits for an event on the object named about with reason and
// message, as kubectl describe shows them.
func waitForEvent(t *testing.T, client kubernetes.Interface, ns, about, reason, message string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("event %s %q", reason, message), func() (bool, error) {
		events, err := client.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + about})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Message == message && e.Source.Component == "daemonset-controller" {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d events", len(events.Items))
	})
}

func TestSurge(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	group := "surge"
	createNode(t, client, "surge-a", group)
	createNode(t, client, "surge-b", group)
	ds := newDaemonSet("surge", group)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}}
	if _, err := client.AppsV1().DaemonSets(ns).Create(t.Context(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := waitForPodsOn(t, client, ns, "surge", "surge-a", "surge-b")
	oldHash := before["surge-a"][0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	markAllReady(t, client, ns, "surge")
	if _, _, err := server.Kubectl(t, "set", "image", "-n", ns, "daemonset/surge", "c=registry.k8s.io/pause:3.9"); err != nil {
		t.Fatal(err)
	}
	// One node at a time gets a new pod next to its old one, which stays
	// until the new one is available.
	var surged string
	waitFor(t, "a surge pod", func() (bool, error) {
		pods := daemonPods(t, client, ns, "surge")
		for node, ps := range pods {
			if len(ps) == 2 {
				surged = node
			}
		}
		return surged != "" && len(pods["surge-a"])+len(pods["surge-b"]) == 3, fmt.Errorf("pods %v", pods)
	})
	time.Sleep(time.Second)
	pods := daemonPods(t, client, ns, "surge")
	if n := len(pods["surge-a"]) + len(pods["surge-b"]); n != 3 {
		t.Fatalf("%d pods while the surge pod is unready, want 3", n)
	}
	waitFor(t, "every node updated", func() (bool, error) {
		markAllReady(t, client, ns, "surge")
		pods := daemonPods(t, client, ns, "surge")
		for _, ps := range pods {
			if len(ps) != 1 || ps[0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == oldHash {
				return false, fmt.Errorf("pods %v", pods)
			}
		}
		return len(pods) == 2, nil
	})
}
