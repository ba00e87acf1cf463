package v1

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

func SetDefaults_NetworkPolicyPort(obj *networkingv1.NetworkPolicyPort) {
	if obj.Protocol == nil {
		obj.Protocol = ptr.To(corev1.ProtocolTCP)
	}
}

// SetDefaults_NetworkPolicy makes the implied policy types explicit: every
// policy isolates ingress, and one with egress rules isolates egress too.
func SetDefaults_NetworkPolicy(obj *networkingv1.NetworkPolicy) {
	if len(obj.Spec.PolicyTypes) > 0 {
		return
	}
	obj.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(obj.Spec.Egress) > 0 {
		obj.Spec.PolicyTypes = append(obj.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
	}
}

func SetDefaults_IngressClass(obj *networkingv1.IngressClass) {
	if obj.Spec.Parameters != nil && obj.Spec.Parameters.Scope == nil {
		obj.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}
