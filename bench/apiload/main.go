// Command apiload measures skiff's API server: create, update and get rates
// and latencies with 1 and 32 concurrent clients, LIST time for 10,000
// objects, watch delivery latency and the server's memory.
//
// By default it starts a fresh server (SKIFF_BIN, or cmd/skiff built from
// this module) on a temporary data dir; with --kubeconfig it loads an
// existing server instead. Either way it only talks to loopback addresses,
// and every phase is bounded in count and time.
//
//	go run ./bench/apiload [--kubeconfig FILE [--server-pid PID]] [--ops 3000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-dev/skiff/internal/testserver"
)

type options struct {
	kubeconfig    string
	serverPID     int
	ops           int
	concurrencies []int
	listObjects   int
	watchEvents   int
	timeout       time.Duration
	keep          bool
}

func main() {
	var o options
	var conc string
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "measure the server of this kubeconfig instead of starting one (loopback only)")
	flag.IntVar(&o.serverPID, "server-pid", 0, "with --kubeconfig: the server's process id, to report its memory")
	flag.IntVar(&o.ops, "ops", 3000, "operations of each kind (create, update, get) per concurrency level")
	flag.StringVar(&conc, "concurrency", "1,32", "comma-separated numbers of concurrent clients")
	flag.IntVar(&o.listObjects, "list-objects", 10000, "objects in the namespace that is LISTed")
	flag.IntVar(&o.watchEvents, "watch-events", 1000, "creates whose watch delivery latency is measured")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "upper bound on the whole run")
	flag.BoolVar(&o.keep, "keep", false, "keep the started server's data dir")
	flag.Parse()
	for f := range strings.SplitSeq(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 256 {
			fmt.Fprintf(os.Stderr, "--concurrency: %q is not a number of clients in 1-256\n", f)
			os.Exit(2)
		}
		o.concurrencies = append(o.concurrencies, n)
	}
	if o.ops < 1 || o.ops > 100000 || o.listObjects < 0 || o.listObjects > 100000 || o.watchEvents < 0 || o.watchEvents > 100000 {
		fmt.Fprintln(os.Stderr, "--ops, --list-objects and --watch-events must be at most 100000")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "apiload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	var (
		cfg *rest.Config
		pid int
	)
	if o.kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
		if err != nil {
			return fmt.Errorf("loading %s: %w", o.kubeconfig, err)
		}
		cfg = c
		pid = o.serverPID
	} else {
		s, cleanup, err := startServer(ctx, o.keep)
		if err != nil {
			return err
		}
		defer cleanup()
		if cfg, err = s.RESTConfig(); err != nil {
			return err
		}
		pid = s.PID()
		fmt.Printf("server: %s, pid %d, data dir %s\n", s.URL, s.PID(), s.DataDir())
	}
	if err := requireLoopback(cfg.Host); err != nil {
		return err
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	cfg.QPS, cfg.Burst = 1e6, 1e6

	// Let the server finish its start-up work before measuring it idle.
	time.Sleep(3 * time.Second)
	srv := serverProcess{pid: pid}
	srv.printRSS("server RSS idle")
	fmt.Printf("machine: %d CPUs, load average at start %s\n", runtime.NumCPU(), loadavg())

	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("apiload-%d", time.Now().Unix()%100000)
	fmt.Printf("\n%-26s %8s %10s %10s %10s %7s %12s\n", "phase", "ops", "ops/s", "p50", "p99", "errors", "srv CPU/op")
	for _, c := range o.concurrencies {
		ns := fmt.Sprintf("%s-c%d", prefix, c)
		if err := createNamespace(ctx, cs, ns); err != nil {
			return err
		}
		clients, err := newClients(cfg, c)
		if err != nil {
			return err
		}
		names := make([]string, o.ops)
		for i := range names {
			names[i] = fmt.Sprintf("cm-%06d", i)
		}
		objs := make([]*corev1.ConfigMap, o.ops)
		create := srv.measure(ctx, clients, o.ops, func(ctx context.Context, cs *kubernetes.Clientset, i int) error {
			cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, configMap(names[i], 0), metav1.CreateOptions{})
			objs[i] = cm
			return err
		})
		create.print(fmt.Sprintf("create   (%d clients)", c))
		update := srv.measure(ctx, clients, o.ops, func(ctx context.Context, cs *kubernetes.Clientset, i int) error {
			if objs[i] == nil {
				return errors.New("not created")
			}
			cm := objs[i].DeepCopy()
			cm.Data = configMap(names[i], 1).Data
			_, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
			return err
		})
		update.print(fmt.Sprintf("update   (%d clients)", c))
		get := srv.measure(ctx, clients, o.ops, func(ctx context.Context, cs *kubernetes.Clientset, i int) error {
			_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, names[i], metav1.GetOptions{})
			return err
		})
		get.print(fmt.Sprintf("get      (%d clients)", c))
		if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			return fmt.Errorf("cleaning up %s: %w", ns, err)
		}
	}

	if o.listObjects > 0 {
		if err := benchList(ctx, srv, cfg, cs, prefix+"-list", o.listObjects); err != nil {
			return err
		}
	}
	if o.watchEvents > 0 {
		if err := benchWatch(ctx, cs, prefix+"-watch", o.watchEvents); err != nil {
			return err
		}
	}
	fmt.Println()
	srv.printRSS("server RSS after load")
	fmt.Printf("load average at end %s\n", loadavg())
	return ctx.Err()
}

func startServer(ctx context.Context, keep bool) (*testserver.Server, func(), error) {
	dir, err := os.MkdirTemp("", "skiff-apiload-")
	if err != nil {
		return nil, nil, err
	}
	bin, err := testserver.BuildBinary(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	s, err := testserver.Launch(ctx, testserver.Options{Binary: bin, DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "server.log")})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() {
		_ = s.Stop()
		if keep {
			fmt.Printf("data dir and server log kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}, nil
}

// requireLoopback refuses to load anything but this machine.
func requireLoopback(host string) error {
	u, err := url.Parse(host)
	if err != nil {
		return fmt.Errorf("server address %q: %w", host, err)
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("server %s is not a loopback address; apiload only loads this machine", host)
}

// serverProcess reads the server's memory and CPU use when its pid is known.
type serverProcess struct{ pid int }

func (p serverProcess) printRSS(what string) {
	if p.pid == 0 {
		fmt.Printf("%s: n/a (give --server-pid)\n", what)
		return
	}
	b, err := testserver.ProcessRSS(p.pid)
	if err != nil {
		fmt.Printf("%s: %v\n", what, err)
		return
	}
	fmt.Printf("%s: %.1f MiB\n", what, float64(b)/(1<<20))
}

func (p serverProcess) cpu() time.Duration {
	if p.pid == 0 {
		return 0
	}
	d, err := testserver.ProcessCPUTime(p.pid)
	if err != nil {
		return 0
	}
	return d
}

// measure is measure with the server CPU time the phase cost.
func (p serverProcess) measure(ctx context.Context, clients []*kubernetes.Clientset, n int, op func(context.Context, *kubernetes.Clientset, int) error) result {
	before := p.cpu()
	r := measure(ctx, clients, n, op)
	if p.pid != 0 {
		r.serverCPU = p.cpu() - before
	}
	return r
}

// loadavg is the 1, 5 and 15 minute load averages: on a shared machine the
// figures mean little without them.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func createNamespace(ctx context.Context, cs *kubernetes.Clientset, name string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// configMap is about 100 bytes of payload, the size of a small config.
func configMap(name string, gen int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "apiload"}},
		Data: map[string]string{
			"config": fmt.Sprintf("generation=%d\nlevel=info\nendpoint=http://service.example:8080/v1/api\nretries=3\n", gen),
			"owner":  "apiload",
		},
	}
}

// newClients returns n clients, each with its own connection, as n separate
// programs would have.
func newClients(cfg *rest.Config, n int) ([]*kubernetes.Clientset, error) {
	clients := make([]*kubernetes.Clientset, n)
	for i := range clients {
		c := rest.CopyConfig(cfg)
		// A Dial function keeps client-go from sharing one cached transport.
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		c.Dial = d.DialContext
		cs, err := kubernetes.NewForConfig(c)
		if err != nil {
			return nil, err
		}
		clients[i] = cs
	}
	return clients, nil
}

type result struct {
	ops, errors int
	elapsed     time.Duration
	serverCPU   time.Duration
	latencies   []time.Duration
	firstErr    error
}

func (r result) print(phase string) {
	p50, p99 := percentile(r.latencies, 50), percentile(r.latencies, 99)
	cpu := "n/a"
	if r.serverCPU > 0 && r.ops > 0 {
		cpu = round(r.serverCPU / time.Duration(r.ops))
	}
	fmt.Printf("%-26s %8d %10.0f %10s %10s %7d %12s\n", phase, r.ops, float64(r.ops)/r.elapsed.Seconds(), round(p50), round(p99), r.errors, cpu)
	if r.firstErr != nil {
		fmt.Printf("  first error: %v\n", r.firstErr)
	}
}

// measure runs op for i in [0, n) spread over the clients, one goroutine
// each, and records every call's latency.
func measure(ctx context.Context, clients []*kubernetes.Clientset, n int, op func(context.Context, *kubernetes.Clientset, int) error) result {
	var next atomic.Int64
	var mu sync.Mutex
	res := result{ops: n, latencies: make([]time.Duration, 0, n)}
	var wg sync.WaitGroup
	start := time.Now()
	for _, cs := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, n/len(clients)+1)
			var errs int
			var first error
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				err := op(ctx, cs, i)
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.errors += errs
			if res.firstErr == nil {
				res.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ops = len(res.latencies)
	return res
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func round(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// benchList fills a namespace with n objects, then times LISTs of it: one
// unpaginated request, and the 500-item pages kubectl asks for.
func benchList(ctx context.Context, srv serverProcess, cfg *rest.Config, cs *kubernetes.Clientset, ns string, n int) error {
	if err := createNamespace(ctx, cs, ns); err != nil {
		return err
	}
	clients, err := newClients(cfg, 32)
	if err != nil {
		return err
	}
	fill := srv.measure(ctx, clients, n, func(ctx context.Context, cs *kubernetes.Clientset, i int) error {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, configMap(fmt.Sprintf("cm-%06d", i), 0), metav1.CreateOptions{})
		return err
	})
	fill.print("create   (fill, 32 cl.)")

	var full, paged []time.Duration
	for range 5 {
		t0 := time.Now()
		list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s: %w", ns, err)
		}
		full = append(full, time.Since(t0))
		// Every namespace also holds what the cluster puts there
		// (kube-root-ca.crt), so n is a lower bound.
		if len(list.Items) < n {
			return fmt.Errorf("LIST returned %d objects, want at least %d", len(list.Items), n)
		}
		t0 = time.Now()
		count, cont := 0, ""
		for {
			page, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
			if err != nil {
				return fmt.Errorf("paged list of %s: %w", ns, err)
			}
			count += len(page.Items)
			if cont = page.Continue; cont == "" {
				break
			}
		}
		paged = append(paged, time.Since(t0))
		if count < n {
			return fmt.Errorf("paged LIST returned %d objects, want at least %d", count, n)
		}
	}
	fmt.Printf("\nLIST of %d ConfigMaps (5 runs): unpaginated median %s (min %s), in pages of 500 median %s (min %s)\n",
		n, round(percentile(full, 50)), round(slices.Min(full)), round(percentile(paged, 50)), round(slices.Min(paged)))
	if err := cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("cleaning up %s: %w", ns, err)
	}
	return nil
}

// benchWatch creates n objects one after another while a watch is open, and
// measures from each create's response to the watch event for it.
func benchWatch(ctx context.Context, cs *kubernetes.Clientset, ns string, n int) error {
	if err := createNamespace(ctx, cs, ns); err != nil {
		return err
	}
	// Only the tool's own objects: the cluster adds kube-root-ca.crt too.
	w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=apiload"})
	if err != nil {
		return fmt.Errorf("watching %s: %w", ns, err)
	}
	defer w.Stop()
	arrived := make(map[string]time.Time, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added {
				continue
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok {
				arrived[cm.Name] = time.Now()
				if len(arrived) == n {
					return
				}
			}
		}
	}()
	sent := make(map[string]time.Time, n)
	responded := make(map[string]time.Time, n)
	errs := 0
	for i := range n {
		name := fmt.Sprintf("cm-%06d", i)
		sent[name] = time.Now()
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, configMap(name, 0), metav1.CreateOptions{}); err != nil {
			errs++
			continue
		}
		responded[name] = time.Now()
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		w.Stop()
		<-done
	case <-ctx.Done():
		w.Stop()
		<-done
	}
	var lat, fromSend []time.Duration
	early := 0
	for name, r := range responded {
		a, ok := arrived[name]
		if !ok {
			continue
		}
		fromSend = append(fromSend, a.Sub(sent[name]))
		d := a.Sub(r)
		if d < 0 {
			// The event overtook the create's response: zero delay for the
			// client that waits for it.
			early++
			d = 0
		}
		lat = append(lat, d)
	}
	fmt.Printf("watch delivery after create response (%d creates, %d events): p50 %s, p99 %s, max %s; %d events before the response, %d missing, %d create errors\n",
		len(responded), len(lat), round(percentile(lat, 50)), round(percentile(lat, 99)), round(percentile(lat, 100)), early, len(responded)-len(lat), errs)
	fmt.Printf("watch delivery after create request sent: p50 %s, p99 %s, max %s\n",
		round(percentile(fromSend, 50)), round(percentile(fromSend, 99)), round(percentile(fromSend, 100)))
	return cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
}
