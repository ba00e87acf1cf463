// Package v1 holds the behaviour of the core/v1 types that does not depend on
// storage: defaulting with the semantics of Kubernetes 1.37, the field labels
// accepted in field selectors and the query-parameter conversions of the
// connect and log options.
//
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=k8s.io/api/core/v1
package v1

//go:generate go run k8s.io/code-generator/cmd/defaulter-gen --output-file zz_generated.defaults.go --go-header-file ../../../hack/boilerplate.go.txt --extra-peer-dirs github.com/skiff-dev/skiff/apis/core/v1 .
