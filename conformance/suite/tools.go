//go:build tools

// Package suite pins what the conformance harness builds: the e2e test
// binary, kubectl and the ginkgo CLI of the Kubernetes release the suite
// certifies against, and the programs of the images the specs pull
// (agnhost, nonewprivs, sample-apiserver, etcd; see conformance/images).
// Its own module, so that skiff's module never depends on k8s.io/kubernetes.
package suite

import (
	_ "github.com/onsi/ginkgo/v2/ginkgo"
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "k8s.io/kubernetes/test/images/nonewprivs"
	_ "k8s.io/sample-apiserver"
)
