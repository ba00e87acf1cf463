package testserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// TB is the part of testing.TB the helpers use; *testing.T satisfies it.
// Naming it here keeps "testing" out of programs that import this package.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
	Failed() bool
	Context() context.Context
}

// Start builds (or takes $SKIFF_BIN) and launches a server whose data dir and
// log live in t.TempDir. The server stops when the test ends, and its log is
// printed if the test failed.
func Start(t TB, opts Options) *Server {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	if opts.Binary == "" {
		bin, err := BuildBinary(ctx, filepath.Join(dir, "bin"))
		if err != nil {
			t.Fatalf("skiff binary: %v", err)
		}
		opts.Binary = bin
	}
	if opts.DataDir == "" {
		opts.DataDir = filepath.Join(dir, "data")
	}
	if opts.LogPath == "" {
		opts.LogPath = filepath.Join(dir, "server.log")
	}
	s, err := Launch(ctx, opts)
	if err != nil {
		t.Fatalf("starting skiff server: %v", err)
	}
	t.Cleanup(func() {
		_ = s.Stop()
		if t.Failed() {
			t.Logf("skiff server log (%s), last 200 lines:\n%s", s.LogPath(), s.LogTail(200))
		}
	})
	return s
}

// KubectlOptions adjust one kubectl run.
type KubectlOptions struct {
	// Stdin is fed to kubectl, for `-f -`.
	Stdin string
	// Env is added to kubectl's environment (KEY=VALUE).
	Env []string
	// Timeout bounds the run; default 60s.
	Timeout time.Duration
}

// KubectlResult is what one kubectl run printed.
type KubectlResult struct {
	Stdout, Stderr string
	Err            error
}

// Kubectl runs stock kubectl from PATH against the server as the admin user.
func (s *Server) Kubectl(t TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	r := s.KubectlWith(t, KubectlOptions{}, args...)
	return r.Stdout, r.Stderr, r.Err
}

// KubectlWith runs kubectl with stdin, extra environment or a timeout.
func (s *Server) KubectlWith(t TB, o KubectlOptions, args ...string) KubectlResult {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), o.Timeout)
	defer cancel()
	cmd := s.KubectlCommand(ctx, args...)
	cmd.Env = append(cmd.Env, o.Env...)
	if o.Stdin != "" {
		cmd.Stdin = strings.NewReader(o.Stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("kubectl %s: timed out after %s: %w", strings.Join(args, " "), o.Timeout, err)
	}
	t.Logf("kubectl %s (err=%v)\n%s%s", strings.Join(args, " "), err, indent(out.String()), indent(errOut.String()))
	return KubectlResult{Stdout: out.String(), Stderr: errOut.String(), Err: err}
}

// KubectlCommand prepares a kubectl command against the server, for runs the
// caller drives itself (watches, waits in the background).
func (s *Server) KubectlCommand(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", s.KubeconfigPath}, args...)...)
	// A cache dir per server: discovery cached for another server that once
	// had the same address must not leak in.
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(s.opts.DataDir, "kubectl-cache"))
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// Namespace creates a namespace named after the running test and returns its
// name.
func Namespace(t interface {
	TB
	Name() string
}, client kubernetes.Interface) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	_, err := client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	WaitForDefaultServiceAccount(t, client, name)
	return name
}

// WaitForDefaultServiceAccount waits until namespace ns has its default
// ServiceAccount, as the Kubernetes e2e framework does before a test
// creates pods: the ServiceAccount admission plugin refuses pods until then.
func WaitForDefaultServiceAccount(t TB, client kubernetes.Interface, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s never got its default service account", ns)
	}
}
