// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/autoscaling/v2

// Package autoscalingv2 holds the declarative validation generated from the +k8s tags on
// k8s.io/api/autoscaling/v2 (see ../doc.go for how to regenerate it).
package autoscalingv2
