package v1

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/utils/ptr"
)

// SetDefaults_HorizontalPodAutoscaler leaves the CPU target alone: whether it
// needs one depends on the metrics annotation, so HorizontalPodAutoscalerToV2
// applies that default.
func SetDefaults_HorizontalPodAutoscaler(obj *autoscalingv1.HorizontalPodAutoscaler) {
	if obj.Spec.MinReplicas == nil {
		obj.Spec.MinReplicas = ptr.To[int32](1)
	}
}
