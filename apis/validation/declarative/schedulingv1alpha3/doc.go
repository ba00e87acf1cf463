// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/scheduling/v1alpha3
// +k8s:validation-gen-scheme-registry=nil

// Package schedulingv1alpha3 holds the declarative validation generated from
// the +k8s tags on k8s.io/api/scheduling/v1alpha3. skiff does not serve that
// version; batch/v1 Jobs embed its types, so their validation needs it.
package schedulingv1alpha3
