// Command hollow measures hollow nodes at scale: it starts a skiff server
// (SKIFF_BIN, or cmd/skiff built from this module) with node CIDRs small
// enough for the node count, plays --nodes hollow nodes in a child process
// of its own (so that their cost is measured apart from the server's and
// from the load this process makes), binds --pods pods to them directly,
// and deletes them again. With --deployment N it then creates one
// Deployment of N replicas and times it until fully available, with the
// scheduler's throughput on the way. It prints the time each phase took,
// the CPU time of the server and of the hollow kubelet, both processes'
// memory and the size of the database.
//
//	go run ./bench/hollow [--nodes 1000] [--pods 10000] [--idle 60s] [--deployment 3000]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/kubelet/hollow"
)

type options struct {
	nodes, pods, clients int
	deployment           int
	idle, timeout        time.Duration
	keep                 bool
	play                 string
}

func main() {
	var o options
	flag.IntVar(&o.nodes, "nodes", 1000, "hollow nodes to play")
	flag.IntVar(&o.pods, "pods", 10000, "pods bound to them, round robin")
	flag.IntVar(&o.deployment, "deployment", 0, "replicas of a Deployment to create after the pods, timed until fully available (0: none)")
	flag.IntVar(&o.clients, "clients", 32, "concurrent creates and deletes")
	flag.DurationVar(&o.idle, "idle", 60*time.Second, "how long to measure the nodes' steady-state cost (heartbeats only)")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "upper bound on the whole run")
	flag.BoolVar(&o.keep, "keep", false, "keep the server's data dir and log")
	flag.StringVar(&o.play, "play", "", "internal: play the hollow nodes against the server of this kubeconfig until killed")
	klog.InitFlags(nil)
	flag.Parse()
	if o.nodes < 1 || o.nodes > 65536 || o.pods < 0 || o.pods > 200000 || o.deployment < 0 || o.deployment > 200000 || o.clients < 1 || o.clients > 256 {
		fmt.Fprintln(os.Stderr, "--nodes 1-65536, --pods 0-200000, --deployment 0-200000, --clients 1-256")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if o.play != "" {
		if err := play(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "hollow bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "hollow bench:", err)
		os.Exit(1)
	}
}

// nodeMaskSize fits nodes subnets into skiff's default /16 cluster CIDR,
// never smaller than upstream's /24 default requires.
func nodeMaskSize(nodes int) int {
	return max(24, 16+bits.Len(uint(nodes-1)))
}

func run(ctx context.Context, o options) error {
	mask := nodeMaskSize(o.nodes)
	if mask > 30 {
		return fmt.Errorf("%d nodes do not fit the /16 cluster CIDR", o.nodes)
	}
	if perNode, ips := (max(o.pods, o.deployment)+o.nodes-1)/o.nodes, (1<<(32-mask))-3; perNode > ips || perNode > 110 {
		return fmt.Errorf("%d pods per node do not fit (at most %d addresses per /%d and 110 pods)", perNode, ips, mask)
	}
	dir, err := os.MkdirTemp("", "skiff-hollow-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Printf("data dir and server log kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	bin := os.Getenv(testserver.EnvBinary)
	if bin == "" {
		if bin, err = testserver.BuildBinary(ctx, filepath.Join(dir, "bin")); err != nil {
			return err
		}
	}
	s, err := testserver.Launch(ctx, testserver.Options{Binary: bin, DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "server.log"),
		ExtraArgs: []string{"--node-cidr-mask-size", strconv.Itoa(mask)}})
	if err != nil {
		return err
	}
	defer s.Stop()
	cfg, err := s.RESTConfig()
	if err != nil {
		return err
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	fmt.Printf("server %s pid %d; %d nodes (pod CIDR /%d), %d pods; %d CPUs, load average %s\n",
		s.URL, s.PID(), o.nodes, mask, o.pods, runtime.NumCPU(), loadavg())

	loadCfg := *cfg
	loadCfg.QPS, loadCfg.Burst = 1e6, 1e6
	cs, err := kubernetes.NewForConfig(&loadCfg)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	kubeletLog, err := os.Create(filepath.Join(dir, "hollow.log"))
	if err != nil {
		return err
	}
	defer kubeletLog.Close()
	kubelet := exec.CommandContext(ctx, self, "--play", s.KubeconfigPath, "--nodes", strconv.Itoa(o.nodes))
	kubelet.Stdout, kubelet.Stderr = kubeletLog, kubeletLog
	m := meter{server: s.PID()}
	fmt.Printf("\n%-40s %10s %12s %12s\n", "phase", "time", "server CPU", "hollow CPU")
	p := m.start()
	if err := kubelet.Start(); err != nil {
		return fmt.Errorf("starting the hollow kubelet: %w", err)
	}
	m.hollow = kubelet.Process.Pid
	defer func() {
		_ = kubelet.Process.Kill()
		_ = kubelet.Wait()
	}()
	if err := waitFor(ctx, 2*time.Second, func() (bool, error) { return nodesReady(ctx, cs, o.nodes) }); err != nil {
		return fmt.Errorf("waiting for nodes Ready: %w", err)
	}
	p.print(fmt.Sprintf("%d nodes registered and Ready", o.nodes))

	p = m.start()
	select {
	case <-time.After(o.idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	p.print(fmt.Sprintf("idle %s (leases every 10s)", o.idle))

	if o.pods > 0 {
		if err := createNamespace(ctx, cs, "bench"); err != nil {
			return err
		}
		p = m.start()
		if err := parallel(o.clients, o.pods, func(i int) error {
			_, err := cs.CoreV1().Pods("bench").Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%06d", i)},
				Spec: corev1.PodSpec{NodeName: fmt.Sprintf("bench-node-%d", i%o.nodes),
					Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
			}, metav1.CreateOptions{})
			return err
		}); err != nil {
			return fmt.Errorf("creating pods: %w", err)
		}
		p.print(fmt.Sprintf("%d pods created", o.pods))
		// Timed from the first create.
		if err := waitFor(ctx, 2*time.Second, func() (bool, error) { return podsReady(ctx, cs, o.pods) }); err != nil {
			return fmt.Errorf("waiting for pods Ready: %w", err)
		}
		p.print("... and all Ready")

		p = m.start()
		if err := parallel(o.clients, o.pods, func(i int) error {
			err := cs.CoreV1().Pods("bench").Delete(ctx, fmt.Sprintf("p-%06d", i), metav1.DeleteOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return fmt.Errorf("deleting pods: %w", err)
		}
		p.print(fmt.Sprintf("%d pods deleted (grace 30s)", o.pods))
		// Timed from the first delete.
		if err := waitFor(ctx, 2*time.Second, func() (bool, error) {
			l, err := cs.CoreV1().Pods("bench").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			return err == nil && len(l.Items) == 0, err
		}); err != nil {
			return fmt.Errorf("waiting for pods to go: %w", err)
		}
		p.print("... and gone (termination capped at 2s)")
	}
	if o.deployment > 0 {
		if err := createNamespace(ctx, cs, "bench"); err != nil {
			return err
		}
		if err := benchDeployment(ctx, cs, m, o.deployment); err != nil {
			return err
		}
	}
	fmt.Println()
	for _, r := range []struct {
		what string
		pid  int
	}{{"server", s.PID()}, {"hollow kubelet", m.hollow}} {
		if b, err := testserver.ProcessRSS(r.pid); err == nil {
			fmt.Printf("RSS %-30s %8.1f MiB\n", r.what, float64(b)/(1<<20))
		}
	}
	if size, err := dbSize(s.DataDir()); err == nil {
		fmt.Printf("database (state.db, -wal, -shm)    %8.1f MiB\n", float64(size)/(1<<20))
	}
	fmt.Printf("load average at end %s\n", loadavg())
	return nil
}

// meter reads the CPU time of the server and of the hollow kubelet.
type meter struct{ server, hollow int }

type phase struct {
	m                *meter
	t0               time.Time
	server0, hollow0 time.Duration
}

func cpu(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	d, _ := testserver.ProcessCPUTime(pid)
	return d
}

func (m *meter) start() *phase {
	return &phase{m: m, t0: time.Now(), server0: cpu(m.server), hollow0: cpu(m.hollow)}
}

// print reports the phase so far. A kubelet started during the phase
// counts from zero, as hollow0 is then.
func (p *phase) print(what string) {
	fmt.Printf("%-40s %10s %12s %12s\n", what, time.Since(p.t0).Round(100*time.Millisecond),
		(cpu(p.m.server) - p.server0).Round(100*time.Millisecond), (cpu(p.m.hollow) - p.hollow0).Round(100*time.Millisecond))
}

// play is the child process: the hollow kubelet alone.
func play(ctx context.Context, o options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.play)
	if err != nil {
		return err
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	k, err := hollow.NewForConfig(cfg, hollow.Options{Nodes: o.nodes, Prefix: "bench-node-"})
	if err != nil {
		return err
	}
	k.Run(ctx)
	return nil
}

func nodesReady(ctx context.Context, cs kubernetes.Interface, want int) (bool, error) {
	l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return false, err
	}
	ready := 0
	for _, n := range l.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && n.Spec.PodCIDR != "" {
				ready++
			}
		}
	}
	return ready >= want, nil
}

func podsReady(ctx context.Context, cs kubernetes.Interface, want int) (bool, error) {
	l, err := cs.CoreV1().Pods("bench").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return false, err
	}
	ready := 0
	for _, p := range l.Items {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready >= want, nil
}

func waitFor(ctx context.Context, every time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

func parallel(workers, n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	work := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return first
}

func createNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
