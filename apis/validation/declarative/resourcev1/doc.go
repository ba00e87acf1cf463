// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/resource/v1

// Package resourcev1 holds the declarative validation generated from the +k8s tags on
// k8s.io/api/resource/v1 (see ../doc.go for how to regenerate it).
package resourcev1
