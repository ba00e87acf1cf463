package storage_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The tests run one real skiff server, built from this tree, and talk to it
// with client-go and the stock kubectl on PATH.
//
// SKIFF_BINARY names a prebuilt binary to use instead of building one.
// GOFLAGS (for example -overlay=...) applies to the build as to the tests.

// cluster is the server every test shares; TestMain sets it once.
var cluster struct {
	kubeconfig string
	client     kubernetes.Interface
	// hostIP is a non-loopback address of this host: the server advertises
	// it, and test backends that the API server may proxy to listen on it.
	hostIP string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skiff-pod-storage-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	binary := os.Getenv("SKIFF_BINARY")
	if binary == "" {
		binary = filepath.Join(dir, "skiff")
		if err := buildSkiff(binary); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	advertise, err := hostIP()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster.hostIP = advertise
	dataDir := filepath.Join(dir, "data")
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "server", "--data-dir", dataDir,
		"--bind-address", "127.0.0.1", "--advertise-address", advertise, "--https-listen-port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	cluster.kubeconfig = filepath.Join(dataDir, "kubeconfig.yaml")
	if err := waitReady(cluster.kubeconfig, 90*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "skiff server did not become ready: %v\n--- server log ---\n%s\n", err, logs.String())
		return 1
	}
	code := m.Run()
	if code != 0 && os.Getenv("SKIFF_TEST_SERVER_LOG") != "" {
		fmt.Fprintf(os.Stderr, "--- server log ---\n%s\n", logs.String())
	}
	return code
}

func buildSkiff(out string) error {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("finding the module root: %w", err)
	}
	ldflags := "-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", out, "./cmd/skiff")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building skiff: %w\n%s", err, msg)
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

// hostIP returns a non-loopback IPv4 address of this host to advertise: the
// kubernetes Endpoints may not hold a loopback address.
func hostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no non-loopback IPv4 address to advertise")
}

func waitReady(kubeconfig string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			last = err
			continue
		}
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		if err != nil {
			last = err
			continue
		}
		if string(body) != "ok" {
			last = fmt.Errorf("readyz: %s", body)
			continue
		}
		// Pods need their namespace's default service account.
		if _, err := client.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			last = err
			continue
		}
		cluster.client = client
		return nil
	}
	return last
}

// namespace creates a namespace for one test.
func namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	_, err := cluster.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// kubectl runs the stock kubectl against the test server and returns its
// stdout, stderr and error.
func kubectl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", cluster.kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}
