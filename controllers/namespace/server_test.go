package namespace_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the skiff server every test in this package talks to.
var cluster struct {
	kubeconfig string
	config     *rest.Config
	client     kubernetes.Interface
}

// TestMain builds skiff, starts one server on a free port over a fresh data
// dir, runs the tests against it with stock kubectl and client-go, and stops
// it. SKIFF_TEST_BINARY names a prebuilt binary to use instead of building.
func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skiff-ns-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	binary := os.Getenv("SKIFF_TEST_BINARY")
	if binary == "" {
		binary = filepath.Join(dir, "skiff")
		if err := buildSkiff(binary); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	stop, err := startServer(binary, filepath.Join(dir, "data"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func buildSkiff(out string) error {
	const pkg = "github.com/skiff-dev/skiff/"
	ldflags := "-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", out, pkg+"cmd/skiff")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building skiff: %w\n%s", err, b)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs skiff server until the returned stop is called, once its
// API reports ready.
func startServer(binary, dataDir string) (stop func(), err error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("finding a free port: %w", err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(binary, "server", "--data-dir", dataDir,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting skiff: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}

	cluster.kubeconfig = filepath.Join(dataDir, "kubeconfig.yaml")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-exited:
			return false, fmt.Errorf("skiff server exited")
		default:
		}
		if cluster.client == nil {
			cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
			if err != nil {
				return false, nil
			}
			cfg.QPS, cfg.Burst = 100, 200
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return false, err
			}
			cluster.config, cluster.client = cfg, client
		}
		body, err := cluster.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("waiting for skiff to be ready: %w\n%s", err, logs.String())
	}
	return stop, nil
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
