// Package v1 holds the defaulting of the discovery.k8s.io/v1 types, with the
// semantics of Kubernetes 1.37.
//
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=k8s.io/api/discovery/v1
package v1

//go:generate go run k8s.io/code-generator/cmd/defaulter-gen --output-file zz_generated.defaults.go --go-header-file ../../../hack/boilerplate.go.txt --extra-peer-dirs github.com/skiff-dev/skiff/apis/core/v1 .
