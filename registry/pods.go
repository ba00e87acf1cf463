package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func podHooks() Hooks {
	return Hooks{
		PrepareForCreate: func(ctx context.Context, obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
			applySchedulingGatedCondition(pod)
			pod.Status.QOSClass = PodQOS(pod)
		},
		PrepareForStatusUpdate: func(ctx context.Context, obj, old runtime.Object) {
			// A status write cannot change the QoS class a pod was created with.
			pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
			if oldPod.Status.QOSClass != "" {
				pod.Status.QOSClass = oldPod.Status.QOSClass
			}
		},
		CheckGracefulDelete: podGracefulDelete,
	}
}

// applySchedulingGatedCondition marks a pod that has scheduling gates as not
// scheduled for that reason, as upstream does at creation.
func applySchedulingGatedCondition(pod *corev1.Pod) {
	if len(pod.Spec.SchedulingGates) == 0 {
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type:    corev1.PodScheduled,
		Status:  corev1.ConditionFalse,
		Reason:  corev1.PodReasonSchedulingGated,
		Message: "Scheduling is blocked due to non-empty scheduling gates",
	})
}

// podGracefulDelete gives a pod the grace period of the request or of its spec;
// a pod that was never scheduled or has finished goes at once.
func podGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	pod := obj.(*corev1.Pod)
	var period int64
	switch {
	case options.GracePeriodSeconds != nil:
		period = *options.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	options.GracePeriodSeconds = &period
	return true
}

// PodQOS computes a pod's quality-of-service class from its containers'
// cpu and memory requests and limits (or from pod-level resources when set).
func PodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if r := pod.Spec.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		return requirementsQOS(r)
	}
	var class corev1.PodQOSClass
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for i := range containers {
		c := requirementsQOS(&containers[i].Resources)
		switch {
		case c == corev1.PodQOSBurstable:
			return c
		case class == "":
			class = c
		case class != c:
			return corev1.PodQOSBurstable
		}
	}
	if class == "" {
		return corev1.PodQOSBestEffort
	}
	return class
}

func requirementsQOS(r *corev1.ResourceRequirements) corev1.PodQOSClass {
	if len(r.Requests) == 0 && len(r.Limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	var class corev1.PodQOSClass
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := r.Requests[name], r.Limits[name]
		var c corev1.PodQOSClass
		switch {
		case !req.Equal(lim):
			return corev1.PodQOSBurstable
		case req.IsZero():
			c = corev1.PodQOSBestEffort
		default:
			c = corev1.PodQOSGuaranteed
		}
		if class == "" {
			class = c
		} else if class != c {
			return corev1.PodQOSBurstable
		}
	}
	return class
}
