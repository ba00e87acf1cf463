package pod

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UpdateCondition sets a condition of the pod's status, adding it when the
// status has none of its type. The transition time moves to now only when
// the condition's status changes. It reports whether anything changed.
func UpdateCondition(status *corev1.PodStatus, cond corev1.PodCondition) bool {
	cond.LastTransitionTime = metav1.Now()
	old := findCondition(status, cond.Type)
	if old == nil {
		status.Conditions = append(status.Conditions, cond)
		return true
	}
	if cond.Status == old.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	changed := cond.Status != old.Status || cond.Reason != old.Reason || cond.Message != old.Message ||
		!cond.LastProbeTime.Equal(&old.LastProbeTime) || !cond.LastTransitionTime.Equal(&old.LastTransitionTime)
	*old = cond
	return changed
}

// IsReady reports whether the pod's Ready condition is true.
func IsReady(pod *corev1.Pod) bool {
	c := findCondition(&pod.Status, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}

func findCondition(status *corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}
