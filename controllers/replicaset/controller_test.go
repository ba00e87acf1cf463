package replicaset

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

type podOpt func(*corev1.Pod)

func testPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
		CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(time.Now().Add(-d))}}
	}
}
func cost(c string) podOpt {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: c} }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: n}} }
}
func createdAgo(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(time.Now().Add(-d)) }
}

// TestPodsToDelete checks each rule of upstream's deletion ranking: the
// pod named "first" must go before "second".
func TestPodsToDelete(t *testing.T) {
	tests := []struct {
		name          string
		first, second *corev1.Pod
		related       []*corev1.Pod
	}{
		{"unscheduled before scheduled", testPod("first"), testPod("second", onNode("n1")), nil},
		{"pending before running", testPod("first", onNode("n"), phase(corev1.PodPending)), testPod("second", onNode("n"), phase(corev1.PodRunning)), nil},
		{"not ready before ready", testPod("first", onNode("n"), phase(corev1.PodRunning)), testPod("second", onNode("n"), readySince(time.Hour)), nil},
		{"lower deletion cost first", testPod("first", onNode("n"), readySince(time.Minute), cost("-1")),
			testPod("second", onNode("n"), readySince(time.Minute), cost("10")), nil},
		{"invalid deletion cost counts as 0", testPod("first", onNode("n"), readySince(time.Minute), cost("+5")),
			testPod("second", onNode("n"), readySince(time.Minute), cost("1")), nil},
		{"doubled up before alone", testPod("first", onNode("crowded"), readySince(time.Hour)), testPod("second", onNode("alone"), readySince(time.Hour)),
			[]*corev1.Pod{testPod("x", onNode("crowded")), testPod("y", onNode("crowded"))}},
		{"ready for less time first", testPod("first", onNode("n"), readySince(time.Minute)), testPod("second", onNode("n"), readySince(10*time.Hour)), nil},
		{"more restarts first", testPod("first", onNode("n"), readySince(time.Hour), restarts(5)), testPod("second", onNode("n"), readySince(time.Hour), restarts(0)), nil},
		{"newer first", testPod("first", onNode("n"), createdAgo(time.Minute)), testPod("second", onNode("n"), createdAgo(10*time.Hour)), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Same ready time where the rule under test is not about it.
			for _, order := range [][]*corev1.Pod{{tc.first, tc.second}, {tc.second, tc.first}} {
				active := append([]*corev1.Pod{}, order...)
				related := append(append([]*corev1.Pod{}, active...), tc.related...)
				got := podsToDelete(active, related, 1, metav1.Now())
				if got[0].Name != "first" {
					t.Errorf("deleted %s first", got[0].Name)
				}
			}
		})
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name          string
		count, failAt int // failAt: the call that starts failing, 0 never
		wantSuccesses int
		wantCalls     int
	}{
		{"all succeed", 10, 0, 10, 10},
		{"first fails", 10, 1, 0, 1},
		// Batches 1, 2, 4: the 4th call fails, its batch of 4 completes.
		{"fails in the third batch", 10, 4, 3, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			got, err := slowStartBatch(tc.count, 1, func() error {
				if n := calls.Add(1); tc.failAt > 0 && int(n) >= tc.failAt {
					return errors.New("quota")
				}
				return nil
			})
			if got != tc.wantSuccesses || int(calls.Load()) != tc.wantCalls || (tc.failAt > 0) != (err != nil) {
				t.Errorf("successes %d calls %d err %v; want %d, %d", got, calls.Load(), err, tc.wantSuccesses, tc.wantCalls)
			}
		})
	}
}

func TestExpectations(t *testing.T) {
	e := newExpectations()
	if !e.satisfied("a") {
		t.Fatal("no expectations must be satisfied")
	}
	e.expectCreations("a", 2)
	e.creationObserved("a")
	if e.satisfied("a") {
		t.Fatal("satisfied with one creation outstanding")
	}
	e.creationObserved("a")
	if !e.satisfied("a") {
		t.Fatal("not satisfied after both creations")
	}
	e.expectDeletions("a", []string{"ns/p1", "ns/p2"})
	e.deletionObserved("a", "ns/p1")
	e.deletionObserved("a", "ns/p1") // a graceful delete seen twice
	e.deletionObserved("a", "ns/other")
	if e.satisfied("a") {
		t.Fatal("satisfied with p2 not deleted")
	}
	// Expired expectations no longer hold the controller back.
	e.now = func() time.Time { return time.Now().Add(expectationsTimeout + time.Second) }
	if !e.satisfied("a") {
		t.Fatal("expired expectations not satisfied")
	}
}

func TestConsistency(t *testing.T) {
	read := "10"
	store := &cache.FakeCustomStore{LastStoreSyncResourceVersionFunc: func() string { return read }}
	c := newConsistency(map[string]cache.Store{"pods": store})
	if err := c.ensureReady("ns/rs"); err != nil {
		t.Fatalf("no writes: %v", err)
	}
	c.wroteAt("ns/rs", "uid", "pods", "12")
	c.wroteAt("ns/rs", "uid", "pods", "11") // older writes do not lower the mark
	if err := c.ensureReady("ns/rs"); err == nil {
		t.Fatal("ready with the cache at 10 behind a write at 12")
	}
	read = "12"
	if err := c.ensureReady("ns/rs"); err != nil {
		t.Fatalf("cache caught up: %v", err)
	}
	c.wroteAt("ns/rs", "uid", "pods", "20")
	c.clear("ns/rs", "other-uid")
	if err := c.ensureReady("ns/rs"); err == nil {
		t.Fatal("clear of another object's writes cleared these")
	}
	c.clear("ns/rs", "uid")
	if err := c.ensureReady("ns/rs"); err != nil {
		t.Fatalf("after clear: %v", err)
	}
}

func TestPodFromTemplate(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"}, Finalizers: []string{"f"}}}
	ref := metav1.NewControllerRef(&metav1.ObjectMeta{Name: "web", UID: "u"}, corev1.SchemeGroupVersion.WithKind("ReplicationController"))
	pod := podFromTemplate(tmpl, "web", ref)
	if pod.GenerateName != "web-" || pod.Labels["a"] != "b" || pod.Annotations["x"] != "y" || len(pod.Finalizers) != 1 || len(pod.OwnerReferences) != 1 {
		t.Errorf("pod %+v", pod.ObjectMeta)
	}
	tmpl.Labels["c"] = "d"
	if _, ok := pod.Labels["c"]; ok {
		t.Error("pod shares the template's labels")
	}
	if got := podFromTemplate(tmpl, "Web_", nil).GenerateName; got != "Web_" {
		t.Errorf("an invalid name keeps no dash: %q", got)
	}
}
