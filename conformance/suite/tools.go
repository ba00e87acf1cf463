//go:build tools

// Package suite pins what the conformance harness builds: the e2e test
// binary, kubectl and the ginkgo CLI of the Kubernetes release the suite
// certifies against. Its own module, so that skiff's module never depends
// on k8s.io/kubernetes.
package suite

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/e2e"
)
