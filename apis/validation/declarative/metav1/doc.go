// +k8s:validation-gen=TypesWithField=TypeMeta
// +k8s:validation-gen-input=k8s.io/apimachinery/pkg/apis/meta/v1
// +k8s:validation-gen-scheme-registry=nil

// Package metav1 holds the declarative validation generated from the +k8s tags
// on k8s.io/apimachinery/pkg/apis/meta/v1. It exists so that the other
// generated packages can refer to meta/v1 validation in the same generator run;
// apimachinery ships the same code in k8s.io/apimachinery/pkg/apis/meta/v1/validation.
package metav1
