package v1

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Webhooks fail closed, match equivalent resources in other versions, select
// every namespace and object, and time out after 10 seconds.

func SetDefaults_ValidatingWebhook(obj *admissionregistrationv1.ValidatingWebhook) {
	defaultWebhook(&obj.FailurePolicy, &obj.MatchPolicy, &obj.NamespaceSelector, &obj.ObjectSelector, &obj.TimeoutSeconds)
}

func SetDefaults_MutatingWebhook(obj *admissionregistrationv1.MutatingWebhook) {
	defaultWebhook(&obj.FailurePolicy, &obj.MatchPolicy, &obj.NamespaceSelector, &obj.ObjectSelector, &obj.TimeoutSeconds)
	if obj.ReinvocationPolicy == nil {
		obj.ReinvocationPolicy = ptr.To(admissionregistrationv1.NeverReinvocationPolicy)
	}
}

func defaultWebhook(failure **admissionregistrationv1.FailurePolicyType, match **admissionregistrationv1.MatchPolicyType,
	namespaces, objects **metav1.LabelSelector, timeout **int32) {
	if *failure == nil {
		*failure = ptr.To(admissionregistrationv1.Fail)
	}
	defaultMatching(match, namespaces, objects)
	if *timeout == nil {
		*timeout = ptr.To[int32](10)
	}
}

func defaultMatching(match **admissionregistrationv1.MatchPolicyType, namespaces, objects **metav1.LabelSelector) {
	if *match == nil {
		*match = ptr.To(admissionregistrationv1.Equivalent)
	}
	if *namespaces == nil {
		*namespaces = &metav1.LabelSelector{}
	}
	if *objects == nil {
		*objects = &metav1.LabelSelector{}
	}
}

func SetDefaults_Rule(obj *admissionregistrationv1.Rule) {
	if obj.Scope == nil {
		obj.Scope = ptr.To(admissionregistrationv1.AllScopes)
	}
}

func SetDefaults_ServiceReference(obj *admissionregistrationv1.ServiceReference) {
	if obj.Port == nil {
		obj.Port = ptr.To[int32](443)
	}
}

func SetDefaults_ValidatingAdmissionPolicySpec(obj *admissionregistrationv1.ValidatingAdmissionPolicySpec) {
	if obj.FailurePolicy == nil {
		obj.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
}

func SetDefaults_MatchResources(obj *admissionregistrationv1.MatchResources) {
	defaultMatching(&obj.MatchPolicy, &obj.NamespaceSelector, &obj.ObjectSelector)
}

func SetDefaults_MutatingAdmissionPolicySpec(obj *admissionregistrationv1.MutatingAdmissionPolicySpec) {
	if obj.FailurePolicy == nil {
		obj.FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
}
