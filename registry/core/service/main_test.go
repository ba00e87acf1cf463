package service_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// The tests run a real skiff server built from this tree (or $SKIFF_BIN) and
// talk to it with client-go and the stock kubectl on PATH. The server is
// restarted once, on the same data directory, to check that allocations
// survive.
var cluster struct {
	kubeconfig string
	client     kubernetes.Interface
	server     *testserver.Server
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{}, func(s *testserver.Server) {
		cfg, err := s.RESTConfig()
		if err != nil {
			panic(fmt.Sprintf("client config: %v", err))
		}
		cfg.QPS, cfg.Burst = 100, 200
		cluster.kubeconfig, cluster.server = s.KubeconfigPath, s
		cluster.client = kubernetes.NewForConfigOrDie(cfg)
	}))
}

// restartServer restarts the shared server on its data directory.
func restartServer(t *testing.T) {
	t.Helper()
	if err := cluster.server.Restart(context.Background()); err != nil {
		t.Fatalf("restarting skiff: %v\n%s", err, cluster.server.LogTail(50))
	}
}

// namespace creates a namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	return testserver.Namespace(t, cluster.client)
}

// kubectl runs the stock kubectl against the test server.
func kubectl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return cluster.server.Kubectl(t, args...)
}
