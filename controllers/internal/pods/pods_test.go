package pods

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestUpdateCondition(t *testing.T) {
	old := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	base := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "r", LastTransitionTime: old}
	tests := []struct {
		name          string
		cond          corev1.PodCondition
		wantChanged   bool
		wantTimeMoved bool
	}{
		{"same", corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "r"}, false, false},
		{"new reason keeps the transition time", corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, Reason: "s"}, true, false},
		{"new status moves it", corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "r"}, true, true},
		{"new type is added", corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := corev1.PodStatus{Conditions: []corev1.PodCondition{base}}
			if got := UpdateCondition(&status, tt.cond); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			var got *corev1.PodCondition
			for i := range status.Conditions {
				if status.Conditions[i].Type == tt.cond.Type {
					got = &status.Conditions[i]
				}
			}
			if got == nil || got.Status != tt.cond.Status || got.Reason != tt.cond.Reason {
				t.Fatalf("condition is %+v, want %+v", got, tt.cond)
			}
			if moved := !got.LastTransitionTime.Equal(&old); moved != tt.wantTimeMoved {
				t.Errorf("transition time %v, moved = %v, want %v", got.LastTransitionTime, moved, tt.wantTimeMoved)
			}
		})
	}
}

func TestPatchStatus(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	client := fake.NewClientset(pod)
	if err := PatchStatus(t.Context(), client, pod, pod.Status); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Fatalf("an unchanged status sent %d requests", n)
	}
	if err := PatchStatus(t.Context(), client, pod, corev1.PodStatus{Phase: corev1.PodFailed}); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods("ns").Get(t.Context(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed", got.Status.Phase)
	}
}
