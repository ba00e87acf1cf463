package service_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The tests run a real skiff server built from this tree and talk to it with
// client-go and the stock kubectl on PATH. The server is restarted once, on
// the same data directory, to check that allocations survive.
//
// SKIFF_BINARY names a prebuilt binary to use instead of building one.
// GOFLAGS (for example -overlay=...) applies to the build as to the tests.

var cluster struct {
	binary, dataDir, kubeconfig string
	port                        int
	client                      kubernetes.Interface
	server                      *serverProcess
}

type serverProcess struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skiff-service-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	cluster.binary = os.Getenv("SKIFF_BINARY")
	if cluster.binary == "" {
		cluster.binary = filepath.Join(dir, "skiff")
		if err := buildSkiff(cluster.binary); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if cluster.port, err = freePort(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster.dataDir = filepath.Join(dir, "data")
	cluster.kubeconfig = filepath.Join(cluster.dataDir, "kubeconfig.yaml")
	if err := startServer(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { stopServer() }()
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- server log (tail) ---\n%s\n", tail(cluster.server.logs.String(), 60))
	}
	return code
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
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

// advertiseAddress is the host's first global IPv4 address. Like
// kube-apiserver, skiff cannot put a loopback address in the endpoints of
// the kubernetes Service; the address is only written there, never dialled.
func advertiseAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && ipnet.IP.IsGlobalUnicast() {
				return ipnet.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func startServer() error {
	logs := &lockedBuffer{}
	cmd := exec.Command(cluster.binary, "server", "--data-dir", cluster.dataDir,
		"--bind-address", "127.0.0.1", "--advertise-address", advertiseAddress(),
		"--https-listen-port", fmt.Sprint(cluster.port))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting skiff: %w", err)
	}
	p := &serverProcess{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	cluster.server = p
	if err := waitReady(60*time.Second, p.done); err != nil {
		stopServer()
		return fmt.Errorf("skiff server did not become ready: %v\n--- server log ---\n%s", err, tail(logs.String(), 80))
	}
	return nil
}

func stopServer() {
	p := cluster.server
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady waits for /readyz and for the default ServiceCIDR, which
// Services are allocated from.
func waitReady(timeout time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("server exited")
		case <-time.After(300 * time.Millisecond):
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", cluster.kubeconfig)
		if err != nil {
			last = err
			continue
		}
		// The tests make requests back to back; client-side throttling
		// would only slow them down.
		cfg.QPS, cfg.Burst = 1000, 1000
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		ctx := context.Background()
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil || string(body) != "ok" {
			last = fmt.Errorf("readyz: %s: %v", body, err)
			continue
		}
		if _, err := client.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil {
			last = err
			continue
		}
		if _, err := client.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
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

// kubectl runs the stock kubectl against the test server.
func kubectl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", cluster.kubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}
