package namespace_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// cluster is the skiff server every test in this package talks to.
var cluster struct {
	kubeconfig string
	config     *rest.Config
	client     kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{}, func(s *testserver.Server) {
		cfg, err := s.RESTConfig()
		if err != nil {
			panic(fmt.Sprintf("client config: %v", err))
		}
		cfg.QPS, cfg.Burst = 100, 200
		cluster.kubeconfig, cluster.config = s.KubeconfigPath, cfg
		cluster.client = kubernetes.NewForConfigOrDie(cfg)
	}))
}

// kubectl runs stock kubectl against the test server and returns its
// combined output.
func kubectl(args ...string) (string, error) {
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", cluster.kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
