package podgc

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func evicted(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, evictedReason }
func terminating(p *corev1.Pod) {
	now := metav1.NewTime(t0)
	p.DeletionTimestamp = &now
	p.Finalizers = []string{"example.com/keep"}
}
func createdAt(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func node(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

type harness struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	c      *Controller
}

func newHarness(t *testing.T, threshold int, nodes []*corev1.Node, pods []*corev1.Pod) *harness {
	t.Helper()
	client := fake.NewClientset()
	f := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	c := New(client, f.Core().V1().Pods(), f.Core().V1().Nodes(), threshold, WithClock(clk))
	t.Cleanup(c.nodeQueue.ShutDown)
	for _, n := range nodes {
		if _, err := client.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.Core().V1().Nodes().Informer().GetStore().Add(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if _, err := client.CoreV1().Pods(p.Namespace).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := f.Core().V1().Pods().Informer().GetStore().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return &harness{t: t, client: client, clock: clk, c: c}
}

func (h *harness) remaining() []string {
	h.t.Helper()
	list, err := h.client.CoreV1().Pods("ns").List(h.t.Context(), metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// statusPatches are the pods whose status the collector patched.
func (h *harness) statusPatches() []string {
	var names []string
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
			names = append(names, a.(interface{ GetName() string }).GetName())
		}
	}
	slices.Sort(names)
	return names
}

func TestGC(t *testing.T) {
	outOfService := corev1.Taint{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name        string
		threshold   int
		nodes       []*corev1.Node
		pods        []*corev1.Pod
		wantLeft    []string
		wantPatched []string
	}{
		{
			name:      "terminated beyond the threshold, evicted then oldest first",
			threshold: 2,
			pods: []*corev1.Pod{
				pod("a", phase(corev1.PodSucceeded), createdAt(1)), pod("b", phase(corev1.PodFailed), createdAt(2)),
				pod("c", phase(corev1.PodSucceeded), createdAt(3)), pod("d", evicted, createdAt(4)),
				pod("running", createdAt(0)), pod("pending", phase(corev1.PodPending), createdAt(0)),
			},
			wantLeft: []string{"b", "c", "pending", "running"},
		},
		{
			name:      "threshold zero keeps terminated pods",
			threshold: 0,
			pods:      []*corev1.Pod{pod("a", phase(corev1.PodSucceeded))},
			wantLeft:  []string{"a"},
		},
		{
			name:        "unscheduled terminating pods are failed and deleted",
			threshold:   10,
			pods:        []*corev1.Pod{pod("gone", terminating), pod("unscheduled")},
			wantLeft:    []string{"unscheduled"},
			wantPatched: []string{"gone"},
		},
		{
			name:      "terminating pods on not ready out-of-service nodes go",
			threshold: 10,
			nodes: []*corev1.Node{
				node("oos", corev1.ConditionFalse, outOfService), node("oos-ready", corev1.ConditionTrue, outOfService),
				node("down", corev1.ConditionFalse),
			},
			pods: []*corev1.Pod{
				pod("gone", onNode("oos"), terminating), pod("running-on-oos", onNode("oos")),
				pod("on-ready", onNode("oos-ready"), terminating), pod("on-down", onNode("down"), terminating),
			},
			wantLeft:    []string{"on-down", "on-ready", "running-on-oos"},
			wantPatched: []string{"gone"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.threshold, tt.nodes, tt.pods)
			h.c.gc(t.Context())
			if got := h.remaining(); !slices.Equal(got, tt.wantLeft) {
				t.Errorf("pods left %v, want %v", got, tt.wantLeft)
			}
			if got := h.statusPatches(); !slices.Equal(got, tt.wantPatched) {
				t.Errorf("status patched for %v, want %v", got, tt.wantPatched)
			}
		})
	}
}

func TestOrphanedAfterQuarantine(t *testing.T) {
	h := newHarness(t, 10, []*corev1.Node{node("here", corev1.ConditionTrue)},
		[]*corev1.Pod{pod("orphan", onNode("deleted")), pod("done-orphan", onNode("deleted"), phase(corev1.PodSucceeded)), pod("kept", onNode("here"))})
	ctx := t.Context()
	h.c.gc(ctx)
	if got := h.remaining(); len(got) != 3 {
		t.Fatalf("pods deleted before the quarantine ended: left %v", got)
	}
	// The delaying queue moves the node name over on its own goroutine.
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		if !h.clock.HasWaiters() {
			return false, nil
		}
		h.clock.Step(defaultQuarantine + time.Second)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.c.nodeQueue.Len() > 0, nil
	}); err != nil {
		t.Fatal("the quarantined node never came out of the queue")
	}
	h.c.gc(ctx)
	if got := h.remaining(); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("pods left %v, want [kept]", got)
	}
	// Only the running orphan is failed, with the upstream condition; a
	// finished one keeps its phase.
	if got := h.statusPatches(); !slices.Equal(got, []string{"orphan"}) {
		t.Fatalf("status patched for %v, want [orphan]", got)
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() != "patch" {
			continue
		}
		patch := string(a.(interface{ GetPatch() []byte }).GetPatch())
		for _, want := range []string{`"phase":"Failed"`, `"type":"DisruptionTarget"`, `"reason":"DeletionByPodGC"`, `"message":"PodGC: node no longer exists"`, `"uid":"uid-orphan"`} {
			if !strings.Contains(patch, want) {
				t.Errorf("status patch %s lacks %s", patch, want)
			}
		}
	}
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			opts := a.(interface{ GetDeleteOptions() metav1.DeleteOptions }).GetDeleteOptions()
			if opts.GracePeriodSeconds == nil || *opts.GracePeriodSeconds != 0 {
				t.Errorf("pod deleted with grace period %v, want 0", opts.GracePeriodSeconds)
			}
		}
	}
}

func TestOrphanOfNodeBackInTime(t *testing.T) {
	// A node missing from the cache but present in the API server keeps
	// its pods: the cache was only slow.
	h := newHarness(t, 10, nil, []*corev1.Pod{pod("p", onNode("late"))})
	if _, err := h.client.CoreV1().Nodes().Create(t.Context(), node("late", corev1.ConditionTrue), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.c.gc(t.Context())
	_ = wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		if h.clock.HasWaiters() {
			h.clock.Step(defaultQuarantine + time.Second)
		}
		return h.c.nodeQueue.Len() > 0, nil
	})
	h.c.gc(t.Context())
	if _, err := h.client.CoreV1().Pods("ns").Get(t.Context(), "p", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("pod of an existing node was deleted")
	}
}
