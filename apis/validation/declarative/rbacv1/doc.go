// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/api/rbac/v1

// Package rbacv1 holds the declarative validation generated from the +k8s tags on
// k8s.io/api/rbac/v1 (see ../doc.go for how to regenerate it).
package rbacv1
