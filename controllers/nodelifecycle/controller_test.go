package nodelifecycle

import (
	"context"
	"maps"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

// harness drives one controller by hand with a fake clock: the informer
// caches are refilled from the fake client before each step, as the
// watch would, and the passes Run would start are called directly.
type harness struct {
	t      *testing.T
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	c      *Controller
	stores map[string]cache.Store
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	client := fake.NewClientset()
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f := informers.NewSharedInformerFactory(client, 0)
	nodes, pods, leases := f.Core().V1().Nodes(), f.Core().V1().Pods(), f.Coordination().V1().Leases()
	c, err := New(client, DefaultConfig(), leases, pods, nodes, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	t.Cleanup(c.broadcaster.Shutdown)
	return &harness{t: t, client: client, clock: clk, c: c, stores: map[string]cache.Store{
		"nodes":  nodes.Informer().GetStore(),
		"pods":   pods.Informer().GetStore(),
		"leases": leases.Informer().GetStore(),
	}}
}

func (h *harness) refresh() {
	h.t.Helper()
	ctx := h.t.Context()
	nodes, err := h.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	leases, err := h.client.CoordinationV1().Leases("").List(ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	replace := func(store string, objs []runtime.Object) {
		items := make([]any, len(objs))
		for i := range objs {
			items[i] = objs[i]
		}
		if err := h.stores[store].Replace(items, ""); err != nil {
			h.t.Fatal(err)
		}
	}
	var n, p, l []runtime.Object
	for i := range nodes.Items {
		n = append(n, &nodes.Items[i])
	}
	for i := range pods.Items {
		p = append(p, &pods.Items[i])
	}
	for i := range leases.Items {
		l = append(l, &leases.Items[i])
	}
	replace("nodes", n)
	replace("pods", p)
	replace("leases", l)
}

// pass is one round of everything Run does.
func (h *harness) pass() {
	h.t.Helper()
	ctx := h.t.Context()
	h.refresh()
	if err := h.c.monitorNodeHealth(ctx); err != nil {
		h.t.Fatal(err)
	}
	h.refresh()
	nodes, _ := h.c.nodes.List(labels.Everything())
	for _, n := range nodes {
		if err := h.c.syncNode(ctx, n.Name); err != nil {
			h.t.Fatal(err)
		}
	}
	h.refresh()
	h.c.doNoExecuteTaintingPass(ctx)
	h.refresh()
}

func (h *harness) addNode(name string, ready corev1.ConditionStatus) {
	h.t.Helper()
	now := metav1.NewTime(h.clock.Now())
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: now}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	}
	if _, err := h.client.CoreV1().Nodes().Create(h.t.Context(), n, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	if ready != "" {
		lease := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordv1.LeaseSpec{HolderIdentity: &name, RenewTime: &metav1.MicroTime{Time: h.clock.Now()}}}
		if _, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(h.t.Context(), lease, metav1.CreateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// renew renews the leases of names, as their kubelets would.
func (h *harness) renew(names ...string) {
	h.t.Helper()
	for _, name := range names {
		l, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(h.t.Context(), name, metav1.GetOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		l.Spec.RenewTime = &metav1.MicroTime{Time: h.clock.Now()}
		if _, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(h.t.Context(), l, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// postReady writes the Ready condition as the node's kubelet would.
func (h *harness) postReady(name string, status corev1.ConditionStatus) {
	h.t.Helper()
	n := h.node(name)
	now := metav1.NewTime(h.clock.Now())
	cond := readyCondition(&n.Status)
	if cond.Status != status {
		cond.LastTransitionTime = now
	}
	cond.Status, cond.Reason, cond.Message, cond.LastHeartbeatTime = status, "Kubelet", "", now
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.t.Context(), n, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) node(name string) *corev1.Node {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(h.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) addPod(name, node string) {
	h.t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	if _, err := h.client.CoreV1().Pods("ns").Create(h.t.Context(), p, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) podReady(name string) corev1.ConditionStatus {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("ns").Get(h.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

// step moves time on by d, renewing the leases of alive first.
func (h *harness) step(d time.Duration, alive ...string) {
	h.clock.Step(d)
	h.renew(alive...)
	h.pass()
}

func (h *harness) wantTaints(name string, want ...corev1.Taint) {
	h.t.Helper()
	got := h.node(name).Spec.Taints
	if len(got) != len(want) {
		h.t.Fatalf("node %s has taints %v, want %v", name, got, want)
	}
	for i := range want {
		if !taintExists(got, &want[i]) {
			h.t.Fatalf("node %s has taints %v, want %v", name, got, want)
		}
	}
}

func (h *harness) wantReady(name string, status corev1.ConditionStatus, reason, message string) {
	h.t.Helper()
	c := readyCondition(&h.node(name).Status)
	if c == nil || c.Status != status || reason != "" && (c.Reason != reason || c.Message != message) {
		h.t.Fatalf("node %s Ready condition is %+v, want %s %s %q", name, c, status, reason, message)
	}
}

func (h *harness) wantEvent(ns, reason, message string) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.t.Context(), 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := h.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Message == message && e.Source.Component == eventSource {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		h.t.Fatalf("no event %s %q in %q: %v", reason, message, ns, err)
	}
}

var (
	unreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	unreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	notReadyNoExecute     = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
	notReadyNoSchedule    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
)

func TestLeaseStopsAndRecovers(t *testing.T) {
	h := newHarness(t)
	h.addNode("sick", corev1.ConditionTrue)
	h.addNode("healthy", corev1.ConditionTrue)
	h.addPod("p", "sick")
	h.pass()
	h.wantEvent("default", "RegisteredNode", "Node sick event: Registered Node sick in Controller")

	// The grace period counts from the last renewal the controller saw.
	h.step(30*time.Second, "sick", "healthy")
	h.step(30*time.Second, "healthy")
	h.wantReady("sick", corev1.ConditionTrue, "", "")
	h.wantTaints("sick")

	h.step(30*time.Second, "healthy")
	h.wantReady("sick", corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
	h.wantTaints("sick", unreachableNoExecute, unreachableNoSchedule)
	h.wantReady("healthy", corev1.ConditionTrue, "", "")
	h.wantTaints("healthy")
	if got := h.podReady("p"); got != corev1.ConditionFalse {
		t.Errorf("pod on the silent node is Ready=%s, want False", got)
	}
	h.wantEvent("default", "NodeNotReady", "Node sick status is now: NodeNotReady")
	h.wantEvent("ns", "NodeNotReady", "Node is not ready")
	for _, taint := range h.node("sick").Spec.Taints {
		if taint.Effect == corev1.TaintEffectNoExecute && taint.TimeAdded == nil {
			t.Errorf("taint %v has no timeAdded", taint)
		}
	}

	// The kubelet comes back: it renews and posts Ready.
	h.clock.Step(time.Second)
	h.renew("sick")
	h.postReady("sick", corev1.ConditionTrue)
	h.step(5*time.Second, "sick", "healthy")
	h.wantTaints("sick")

	// A kubelet that reports NotReady gets the not-ready taints instead.
	h.postReady("sick", corev1.ConditionFalse)
	h.step(5*time.Second, "sick", "healthy")
	h.wantTaints("sick", notReadyNoExecute, notReadyNoSchedule)
}

func TestAllNodesSilentStopsTainting(t *testing.T) {
	h := newHarness(t)
	h.addNode("only", corev1.ConditionTrue)
	h.pass()
	h.step(51 * time.Second)
	h.wantReady("only", corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
	// Every zone fully disrupted looks like the control plane's fault: no
	// NoExecute taint, so nothing is evicted.
	h.step(5 * time.Second)
	h.wantTaints("only", unreachableNoSchedule)
}

func TestNeverPostedStatus(t *testing.T) {
	h := newHarness(t)
	h.addNode("healthy", corev1.ConditionTrue)
	h.addNode("mute", "")
	h.pass()
	h.step(50*time.Second, "healthy")
	if c := readyCondition(&h.node("mute").Status); c != nil {
		t.Fatalf("node is %+v before the startup grace period ended", c)
	}
	h.step(11*time.Second, "healthy")
	h.wantReady("mute", corev1.ConditionUnknown, "NodeStatusNeverUpdated", "Kubelet never posted node status.")
	h.wantTaints("mute", unreachableNoExecute, unreachableNoSchedule)
}

func TestComputeZoneState(t *testing.T) {
	c := &Controller{cfg: DefaultConfig()}
	cond := func(s corev1.ConditionStatus) *corev1.NodeCondition { return &corev1.NodeCondition{Status: s} }
	tests := []struct {
		name  string
		conds []*corev1.NodeCondition
		want  zoneState
	}{
		{"all ready", []*corev1.NodeCondition{cond(corev1.ConditionTrue), cond(corev1.ConditionTrue)}, stateNormal},
		{"none ready", []*corev1.NodeCondition{cond(corev1.ConditionUnknown), nil}, stateFullDisruption},
		{"two of three not ready is too few", []*corev1.NodeCondition{cond(corev1.ConditionTrue), cond(corev1.ConditionFalse), cond(corev1.ConditionUnknown)}, stateNormal},
		{"three of five", []*corev1.NodeCondition{cond(corev1.ConditionTrue), cond(corev1.ConditionTrue), cond(corev1.ConditionFalse), cond(corev1.ConditionUnknown), nil}, statePartialDisruption},
		{"three of six is under 55%", []*corev1.NodeCondition{cond(corev1.ConditionTrue), cond(corev1.ConditionTrue), cond(corev1.ConditionTrue), cond(corev1.ConditionFalse), cond(corev1.ConditionUnknown), nil}, stateNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.computeZoneState(tt.conds); got != tt.want {
				t.Errorf("computeZoneState = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPartialDisruptionPace(t *testing.T) {
	tests := []struct {
		name string
		size int
		want float32 // 0: never
	}{
		{"small zone stops", 10, 0},
		{"large zone slows", 51, 0.01},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Controller{cfg: DefaultConfig(), zoneQueues: map[string]*zoneQueue{}, clock: clocktesting.NewFakeClock(time.Now())}
			c.setZoneLimiter("z", tt.size, statePartialDisruption)
			l := c.zoneQueues["z"].limiter
			if tt.want == 0 {
				if l.TryAccept() {
					t.Error("the limiter lets a node be tainted")
				}
				return
			}
			if got := l.QPS(); got != tt.want {
				t.Errorf("QPS = %v, want %v", got, tt.want)
			}
		})
	}
}

func (h *harness) noExecuteTainted(names ...string) []string {
	h.t.Helper()
	var out []string
	for _, n := range names {
		if taintExists(h.node(n).Spec.Taints, &unreachableNoExecute) {
			out = append(out, n)
		}
	}
	return out
}

func TestZonePace(t *testing.T) {
	t.Run("a normal zone taints one node per 10 s", func(t *testing.T) {
		h := newHarness(t)
		alive := []string{"c", "d", "e"}
		for _, n := range append([]string{"a", "b"}, alive...) {
			h.addNode(n, corev1.ConditionTrue)
		}
		h.pass()
		h.step(51*time.Second, alive...)
		if got := h.noExecuteTainted("a", "b"); len(got) != 1 {
			t.Fatalf("NoExecute-tainted %v, want one of a and b", got)
		}
		h.step(5*time.Second, alive...)
		if got := h.noExecuteTainted("a", "b"); len(got) != 1 {
			t.Fatalf("NoExecute-tainted %v 5 s later, want still one", got)
		}
		h.step(5*time.Second, alive...)
		if got := h.noExecuteTainted("a", "b"); len(got) != 2 {
			t.Fatalf("NoExecute-tainted %v 10 s later, want both", got)
		}
	})
	t.Run("a small partially disrupted zone is not tainted", func(t *testing.T) {
		h := newHarness(t)
		silent := []string{"a", "b", "c"}
		for _, n := range append([]string{"d"}, silent...) {
			h.addNode(n, corev1.ConditionTrue)
		}
		h.pass()
		h.step(51*time.Second, "d")
		for _, n := range silent {
			h.wantReady(n, corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
		}
		h.step(30*time.Second, "d")
		if got := h.noExecuteTainted(silent...); len(got) != 0 {
			t.Fatalf("NoExecute-tainted %v in a partially disrupted zone of 4 nodes", got)
		}
	})
}

func TestBetaLabels(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   map[string]string
	}{
		{"added", map[string]string{corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"},
			map[string]string{corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"}},
		{"corrected", map[string]string{corev1.LabelOSStable: "linux", "beta.kubernetes.io/os": "windows"},
			map[string]string{corev1.LabelOSStable: "linux", "beta.kubernetes.io/os": "linux"}},
		{"no stable label", map[string]string{"beta.kubernetes.io/os": "windows"}, map[string]string{"beta.kubernetes.io/os": "windows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: tt.labels}}
			if _, err := h.client.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			h.refresh()
			if err := h.c.syncNode(t.Context(), "n"); err != nil {
				t.Fatal(err)
			}
			if got := h.node("n").Labels; !maps.Equal(got, tt.want) {
				t.Errorf("labels %v, want %v", got, tt.want)
			}
		})
	}
}
