// Package testserver runs a real skiff server binary on a private data
// directory and a loopback port, for end-to-end tests and load tools.
//
// The core (Launch, Server) does not import "testing", so programs such as
// bench/apiload can use it; the helpers that take a TB accept any value with
// the methods of testing.TB they need.
package testserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment variables that steer where the binary and the port come from.
const (
	// EnvBinary names a prebuilt skiff binary; without it the binary is built
	// from the module that holds the working directory.
	EnvBinary = "SKIFF_BIN"
	// EnvPortRange ("LOW-HIGH") limits the ports servers may listen on, for
	// machines where each user of the loopback interface owns a range.
	EnvPortRange = "SKIFF_TEST_PORTS"
)

// WithoutScheduler are the server arguments of a test that plays the
// scheduler and kubelet itself, writing pod status by hand as upstream's
// controller integration tests do: no scheduler then races those writes.
var WithoutScheduler = []string{"--controllers=*,-kube-scheduler"}

// Options say how to launch a server. The zero value is usable once Binary
// and DataDir are set.
type Options struct {
	// Binary is the skiff executable.
	Binary string
	// DataDir is the server's --data-dir; it is created if missing.
	DataDir string
	// LogPath receives the server's stdout and stderr, appended across
	// restarts; default DataDir/../server.log.
	LogPath string
	// Port is the HTTPS port; 0 picks a free loopback port.
	Port int
	// AdvertiseAddress is passed as --advertise-address when set; by default
	// skiff picks the host's address, as it does for a user. (Kubernetes
	// refuses a loopback address in the kubernetes Endpoints.)
	AdvertiseAddress string
	// WithAgent runs the node agent too; API tests leave it off so that pods
	// stay where the test puts them.
	WithAgent bool
	// HollowNodes is passed as --hollow-nodes: the server plays that many
	// nodes whose kubelet runs no containers.
	HollowNodes int
	// ExtraArgs are appended to `skiff server`.
	ExtraArgs []string
	// ReadyTimeout bounds the wait for /readyz; default 90s.
	ReadyTimeout time.Duration
}

// Server is a running skiff server process.
type Server struct {
	opts Options
	// KubeconfigPath is the admin kubeconfig the server wrote.
	KubeconfigPath string
	// URL is the API server's base URL, https://127.0.0.1:PORT.
	URL string
	// Port is the HTTPS port the server listens on.
	Port int

	cmd     *exec.Cmd
	logFile *os.File
	exited  chan struct{}
	waitErr error
}

// Launch starts a server and waits until it answers /readyz.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	if opts.Binary == "" {
		return nil, errors.New("testserver: Options.Binary is empty")
	}
	if opts.DataDir == "" {
		return nil, errors.New("testserver: Options.DataDir is empty")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	if opts.LogPath == "" {
		opts.LogPath = filepath.Join(filepath.Dir(opts.DataDir), filepath.Base(opts.DataDir)+"-server.log")
	}
	// A port found free may be taken before the server binds it (by
	// another package's server or any outgoing connection), so a picked
	// port that turns out busy is picked again.
	pick := opts.Port == 0
	for attempt := 1; ; attempt++ {
		if pick {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			opts.Port = p
		}
		s := &Server{
			opts:           opts,
			Port:           opts.Port,
			URL:            "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)),
			KubeconfigPath: filepath.Join(opts.DataDir, "kubeconfig.yaml"),
		}
		err := s.start(ctx)
		if err == nil {
			return s, nil
		}
		if !pick || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
}

// Attach wraps a server that is already running, known by its kubeconfig,
// so the same tests can run against it (for instance a stock
// kube-apiserver, to check the tests themselves). workDir holds kubectl's
// cache. Stop of an attached server does nothing; Restart fails.
func Attach(kubeconfig, workDir string) (*Server, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	dir := workDir
	s := &Server{KubeconfigPath: kubeconfig, URL: cfg.Host, opts: Options{DataDir: dir, LogPath: filepath.Join(dir, "server.log")}}
	if u, err := url.Parse(cfg.Host); err == nil {
		s.Port, _ = strconv.Atoi(u.Port())
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	if s.opts.Binary == "" {
		return errors.New("testserver: cannot start an attached server")
	}
	args := []string{"server",
		"--data-dir", s.opts.DataDir,
		"--bind-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(s.opts.Port),
	}
	if s.opts.AdvertiseAddress != "" {
		args = append(args, "--advertise-address", s.opts.AdvertiseAddress)
	}
	if !s.opts.WithAgent {
		args = append(args, "--disable-agent")
	}
	if s.opts.HollowNodes > 0 {
		args = append(args, "--hollow-nodes", strconv.Itoa(s.opts.HollowNodes))
	}
	args = append(args, s.opts.ExtraArgs...)
	logFile, err := os.OpenFile(s.opts.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening server log: %w", err)
	}
	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), s.opts.Binary, strings.Join(args, " "))
	// The process is not tied to ctx: ctx bounds the start, while the server
	// lives until Stop.
	cmd := exec.Command(s.opts.Binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so Stop also reaches any children it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", s.opts.Binary, err)
	}
	s.cmd, s.logFile, s.exited, s.waitErr = cmd, logFile, make(chan struct{}), nil
	go func(exited chan struct{}) {
		s.waitErr = cmd.Wait()
		close(exited)
	}(s.exited)

	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, s.opts.LogPath, s.LogTail(40))
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadyTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("skiff server exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("skiff server on port %d not ready after %s: %w (last: %v)", s.opts.Port, s.opts.ReadyTimeout, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
		if last = s.probeReady(ctx); last == nil {
			return nil
		}
	}
}

// probeReady asks /readyz with the admin credentials, which also proves the
// kubeconfig on disk is the one this process serves with; then it waits,
// as a cluster user effectively does, for the controllers to be at work:
// the default ServiceAccount of namespace default exists, without which
// no pod can be created.
func (s *Server) probeReady(ctx context.Context) error {
	if err := s.probeReadyz(ctx); err != nil {
		return err
	}
	client, err := s.Clientset()
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("waiting for the default service account: %w", err)
	}
	return nil
}

func (s *Server) probeReadyz(ctx context.Context) error {
	cfg, err := s.RESTConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 2 * time.Second
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %d %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// RESTConfig returns a fresh client config for the admin user.
func (s *Server) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.KubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", s.KubeconfigPath, err)
	}
	// Tests and load tools must measure the server, not client-side throttling.
	cfg.QPS, cfg.Burst = 10000, 20000
	return cfg, nil
}

// Clientset returns a typed client for the admin user.
func (s *Server) Clientset() (*kubernetes.Clientset, error) {
	cfg, err := s.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// DataDir is the server's --data-dir.
func (s *Server) DataDir() string { return s.opts.DataDir }

// Binary is the skiff executable the server runs, for tests of other
// subcommands against it.
func (s *Server) Binary() string { return s.opts.Binary }

// LogPath is the file holding the server's output.
func (s *Server) LogPath() string { return s.opts.LogPath }

// PID is the server process's id, or 0 when it is not running.
func (s *Server) PID() int {
	if s.cmd == nil || s.cmd.Process == nil || s.Exited() {
		return 0
	}
	return s.cmd.Process.Pid
}

// Exited reports whether the server process has ended.
func (s *Server) Exited() bool {
	if s.exited == nil {
		return true
	}
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Stop ends the server: SIGTERM to its process group, then SIGKILL if it has
// not exited after 15 s. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	if s.cmd == nil || s.Exited() {
		s.closeLog()
		return nil
	}
	pgid := -s.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-s.exited
	}
	// Children the server left behind in its group go too.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	s.closeLog()
	return nil
}

func (s *Server) closeLog() {
	if s.logFile != nil {
		s.logFile.Close()
		s.logFile = nil
	}
}

// Restart stops the server and starts it again on the same data dir and
// port, returning once it is ready.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	return s.start(ctx)
}

// RestartWith restarts the server as Restart does, with extraArgs in place
// of Options.ExtraArgs from now on.
func (s *Server) RestartWith(ctx context.Context, extraArgs []string) error {
	if err := s.Stop(); err != nil {
		return err
	}
	s.opts.ExtraArgs = extraArgs
	return s.start(ctx)
}

// LogTail returns the last n lines of the server's output.
func (s *Server) LogTail(n int) string {
	f, err := os.Open(s.opts.LogPath)
	if err != nil {
		return fmt.Sprintf("(cannot read server log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*n {
			lines = append(lines[:0], lines[len(lines)-n:]...)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RSSBytes reads the resident set size of the server process from /proc.
func (s *Server) RSSBytes() (int64, error) {
	pid := s.PID()
	if pid == 0 {
		return 0, errors.New("server is not running")
	}
	return ProcessRSS(pid)
}

// ProcessRSS returns VmRSS of a process, in bytes.
func ProcessRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS line %q: %w", line, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; Linux fixes
// it at 100 on every architecture Go supports.
const clockTicks = 100

// ProcessCPUTime returns the user plus system CPU time a process has used.
func ProcessCPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of process %d: %w", pid, err)
	}
	// The command name in field 2 may hold spaces; fields after it are
	// counted from its closing parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// utime and stime are fields 14 and 15 of the whole line: 11 and 12
	// after the name.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// FreePort returns a loopback TCP port nobody listens on, from
// $SKIFF_TEST_PORTS when set, else one the kernel picks.
func FreePort() (int, error) {
	if r := os.Getenv(EnvPortRange); r != "" {
		var lo, hi int
		if _, err := fmt.Sscanf(r, "%d-%d", &lo, &hi); err != nil || lo < 1 || hi > 65535 || lo > hi {
			return 0, fmt.Errorf("%s=%q: want LOW-HIGH", EnvPortRange, r)
		}
		for p := lo; p <= hi; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err == nil {
				l.Close()
				return p, nil
			}
		}
		return 0, fmt.Errorf("no free port in %s=%s", EnvPortRange, r)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// kubeVersionRE finds the Kubernetes version the Makefile builds with.
var kubeVersionRE = regexp.MustCompile(`(?m)^KUBE_VERSION\s*\?=\s*(v\d+\.(\d+)\.\d+\S*)\s*$`)

// BuildBinary returns $SKIFF_BIN when set; otherwise it builds cmd/skiff of
// the module that holds the working directory into outDir, with the same
// version ldflags as the Makefile, and returns the binary's path.
func BuildBinary(ctx context.Context, outDir string) (string, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return bin, nil
	}
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", fmt.Errorf("reading the Makefile for the version ldflags: %w", err)
	}
	m := kubeVersionRE.FindSubmatch(makefile)
	if m == nil {
		return "", fmt.Errorf("no KUBE_VERSION ?= line in %s", filepath.Join(root, "Makefile"))
	}
	kubeVersion, minor := string(m[1]), string(m[2])
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X main.version=testserver",
		"-X k8s.io/component-base/version.gitVersion=" + kubeVersion,
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=" + minor,
		"-X k8s.io/component-base/version.gitTreeState=clean",
		"-X k8s.io/client-go/pkg/version.gitVersion=" + kubeVersion,
		"-X k8s.io/client-go/pkg/version.gitMajor=1",
		"-X k8s.io/client-go/pkg/version.gitMinor=" + minor,
	}, " ")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", outDir, err)
	}
	bin := filepath.Join(outDir, "skiff")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags", ldflags, "-o", bin, "./cmd/skiff")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building skiff (set %s to use a prebuilt binary): %w\n%s", EnvBinary, err, out)
	}
	return bin, nil
}

// ModuleRoot is the directory of the go.mod that holds the working directory.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("the working directory is not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// HostIP returns a non-loopback IPv4 address of this host, for servers that
// must advertise one (the kubernetes Endpoints may not hold loopback) and for
// test backends the API server proxies to.
func HostIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address on this host")
}
