package v1

import (
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/utils/ptr"
)

func SetDefaults_PriorityClass(obj *schedulingv1.PriorityClass) {
	if obj.PreemptionPolicy == nil {
		obj.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
}
