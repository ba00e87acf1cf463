package tainteviction

import (
	"context"
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
	"k8s.io/utils/ptr"
)

func node(name string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints}}
}

func pod(name, nodeName string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: nodeName, Tolerations: tolerations},
	}
}

var unreachable = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}

func tolerate(seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

type harness struct {
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	c      *Controller
}

// waitScheduled waits until the controller has decided to evict pod name
// later, and has had the time to queue it, so that moving the fake clock
// counts.
func (h *harness) waitScheduled(t *testing.T, name string) {
	t.Helper()
	waitFor(t, "a scheduled eviction of "+name, func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		_, ok := h.c.scheduled["ns/"+name]
		return ok
	})
	time.Sleep(50 * time.Millisecond)
}

func start(t *testing.T, objs ...any) *harness {
	t.Helper()
	client := fake.NewClientset()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Node:
			_, err = client.CoreV1().Nodes().Create(t.Context(), o, metav1.CreateOptions{})
		case *corev1.Pod:
			_, err = client.CoreV1().Pods(o.Namespace).Create(t.Context(), o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(time.Now())
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, f.Core().V1().Pods(), f.Core().V1().Nodes(), WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	f.Start(ctx.Done())
	done := make(chan struct{})
	go func() { c.Run(ctx, 2); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })
	return &harness{client: client, clock: clk, c: c}
}

func (h *harness) deleted(ctx context.Context, name string) bool {
	_, err := h.client.CoreV1().Pods("ns").Get(ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func (h *harness) waitDeleted(t *testing.T, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		return h.deleted(ctx, name), nil
	})
	if err != nil {
		t.Fatalf("pod %s was not deleted: %v", name, err)
	}
}

// stays checks name is still there a while after the controller could
// have acted.
func (h *harness) stays(t *testing.T, name string) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if h.deleted(t.Context(), name) {
		t.Fatalf("pod %s was deleted", name)
	}
}

func (h *harness) hasEvent(t *testing.T, message string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := h.client.CoreV1().Events("ns").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == eventReason && e.Message == message && e.Source.Component == Name {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event %q: %v", eventReason, message, err)
	}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) { return f(), nil }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func TestEvictions(t *testing.T) {
	t.Run("untolerated taint deletes at once with the DisruptionTarget condition", func(t *testing.T) {
		h := start(t, node("n", unreachable), pod("p", "n"), pod("elsewhere", "other"))
		h.waitDeleted(t, "p")
		h.hasEvent(t, "Marking for deletion Pod ns/p")
		var patched bool
		for _, a := range h.client.Actions() {
			if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
				patched = true
			}
		}
		if !patched {
			t.Error("the pod status was not patched before the deletion")
		}
		h.stays(t, "elsewhere")
	})

	t.Run("tolerationSeconds delays the deletion", func(t *testing.T) {
		h := start(t, node("n", unreachable), pod("p", "n", tolerate(ptr.To[int64](30))))
		h.waitScheduled(t, "p")
		h.clock.Step(29 * time.Second)
		h.stays(t, "p")
		h.clock.Step(2 * time.Second)
		h.waitDeleted(t, "p")
	})

	t.Run("the shortest of several tolerations counts", func(t *testing.T) {
		notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
		tolNotReady := corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To[int64](5)}
		h := start(t, node("n", unreachable, notReady), pod("p", "n", tolerate(ptr.To[int64](60)), tolNotReady))
		h.waitScheduled(t, "p")
		h.clock.Step(6 * time.Second)
		h.waitDeleted(t, "p")
	})

	t.Run("tolerating forever keeps the pod", func(t *testing.T) {
		h := start(t, node("n", unreachable), pod("p", "n", tolerate(nil)))
		h.stays(t, "p")
		h.clock.Step(time.Hour)
		h.stays(t, "p")
	})

	t.Run("a taint removed in time cancels the deletion", func(t *testing.T) {
		h := start(t, node("n", unreachable), pod("p", "n", tolerate(ptr.To[int64](30))))
		h.waitScheduled(t, "p")
		if _, err := h.client.CoreV1().Nodes().Update(t.Context(), node("n"), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.hasEvent(t, "Cancelling deletion of Pod ns/p")
		h.clock.Step(time.Minute)
		h.stays(t, "p")
	})

	t.Run("a taint added later evicts", func(t *testing.T) {
		h := start(t, node("n"), pod("p", "n"))
		h.stays(t, "p")
		if _, err := h.client.CoreV1().Nodes().Update(t.Context(), node("n", unreachable), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.waitDeleted(t, "p")
	})

	t.Run("NoSchedule taints do not evict", func(t *testing.T) {
		h := start(t, node("n", corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}), pod("p", "n"))
		h.stays(t, "p")
	})
}

func TestMinTolerationTime(t *testing.T) {
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		want        time.Duration
	}{
		{"none", nil, 0},
		{"forever", []corev1.Toleration{{}}, -1},
		{"shortest", []corev1.Toleration{{TolerationSeconds: ptr.To[int64](20)}, {TolerationSeconds: ptr.To[int64](10)}, {}}, 10 * time.Second},
		{"negative is now", []corev1.Toleration{{TolerationSeconds: ptr.To[int64](-5)}, {TolerationSeconds: ptr.To[int64](10)}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minTolerationTime(tt.tolerations); got != tt.want {
				t.Errorf("minTolerationTime = %v, want %v", got, tt.want)
			}
		})
	}
}
