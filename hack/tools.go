//go:build tools

// Package hack pins the code generators used by `make generate`.
package hack

import (
	_ "k8s.io/code-generator/cmd/defaulter-gen"
	_ "k8s.io/kube-openapi/cmd/openapi-gen"
)
