// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/storagemigration/v1

// Package storagemigrationv1 holds the declarative validation generated from the +k8s tags on
// k8s.io/api/storagemigration/v1 (see ../doc.go for how to regenerate it).
package storagemigrationv1
