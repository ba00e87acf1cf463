package storage_test

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// The tests run one real skiff server, built from this tree (or $SKIFF_BIN),
// and talk to it with client-go and the stock kubectl on PATH.

// cluster is the server every test shares; TestMain sets it once.
var cluster struct {
	kubeconfig string
	client     kubernetes.Interface
	server     *testserver.Server
	// hostIP is a non-loopback address of this host: the server advertises
	// it, and test backends that the API server may proxy to listen on it.
	hostIP string
}

func TestMain(m *testing.M) {
	ip, err := testserver.HostIP()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster.hostIP = ip
	os.Exit(testserver.Main(m, testserver.Options{AdvertiseAddress: ip,
		// The API alone: no scheduler binds the test's pods and no
		// controller writes the budgets and nodes the test writes.
		ExtraArgs: []string{"--controllers=*,-kube-scheduler,-disruption-controller,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller,-pod-garbage-collector"}}, func(s *testserver.Server) {
		cfg, err := s.RESTConfig()
		if err != nil {
			panic(fmt.Sprintf("client config: %v", err))
		}
		cluster.kubeconfig, cluster.server = s.KubeconfigPath, s
		cluster.client = kubernetes.NewForConfigOrDie(cfg)
	}))
}

// namespace creates a namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	return testserver.Namespace(t, cluster.client)
}

// kubectl runs the stock kubectl against the test server and returns its
// stdout, stderr and error.
func kubectl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cluster.server.Kubectl(t, args...)
}
