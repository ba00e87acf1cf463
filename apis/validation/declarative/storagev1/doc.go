// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/storage/v1

// Package storagev1 holds the declarative validation generated from the +k8s tags on
// k8s.io/api/storage/v1 (see ../doc.go for how to regenerate it).
package storagev1
