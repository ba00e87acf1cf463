// Command scheduler measures skiff's scheduler: it starts a server
// (SKIFF_BIN, or cmd/skiff built from this module) without an agent,
// creates Node objects with allocatable, restarts the server with its
// scheduler on while the bench holds the scheduler's Lease, creates N
// pods, lets the server settle and releases the Lease. It reports pods
// bound per second from the Scheduled events' own times. Bound pods stay
// Pending, which does not matter for scheduling throughput.
//
//	go run ./bench/scheduler [--nodes 1000] [--pods 3000] [--settle 10s]
//
// BENCH_VERBOSE=1 prints the bindings of every second, BENCH_KEEP=1 keeps
// the data dir and server log, BENCH_CPUPROFILE=FILE saves the server's
// CPU profile over the scheduling run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var settle *time.Duration

func main() {
	nodes := flag.Int("nodes", 1000, "Node objects to create")
	pods := flag.Int("pods", 3000, "pods to schedule")
	timeout := flag.Duration("timeout", 10*time.Minute, "upper bound on the whole run")
	settle = flag.Duration("settle", 10*time.Second, "how long the server settles with every pod pending before the scheduler may start")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *nodes, *pods); err != nil {
		fmt.Fprintln(os.Stderr, "bench/scheduler:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, numNodes, numPods int) error {
	dir, err := os.MkdirTemp("", "skiff-bench-scheduler-")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("keeping", dir)
	}
	bin := os.Getenv(testserver.EnvBinary)
	if bin == "" {
		if bin, err = testserver.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	// The nodes are bare objects that never heartbeat: the node lifecycle
	// controller would taint them unreachable in the middle of the run.
	// The nodes are bare objects that never heartbeat: the node lifecycle
	// controller would taint them unreachable in the middle of the run.
	s, err := testserver.Launch(ctx, testserver.Options{Binary: bin, DataDir: filepath.Join(dir, "data"),
		ExtraArgs: []string{"--node-cidr-mask-size", "26", "--controllers=*,-kube-scheduler,-node-lifecycle-controller,-taint-eviction-controller"}})
	if err != nil {
		return err
	}
	defer s.Stop()
	cfg, err := s.RESTConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 5000, 5000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := parallel(ctx, numNodes, 32, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("bench-node-%04d", i)
		n, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{corev1.LabelHostname: name, corev1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%3)}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("128Gi"), corev1.ResourcePods: resource.MustParse("110")}
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n.Status.Capacity, n.Status.Allocatable = alloc, alloc
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
			_, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				n, _ = client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			}
			return err
		}); err != nil {
			return err
		}
		// Lift the not-ready taint TaintNodesByCondition puts on a new
		// node, as the node lifecycle controller does for a Ready node. Node
		// IPAM writes the node's podCIDR meanwhile, hence the retry.
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = nil
			_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
	}); err != nil {
		return fmt.Errorf("creating nodes: %w", err)
	}
	fmt.Printf("created %d nodes in %s\n", numNodes, time.Since(start).Round(time.Millisecond))

	// The bench holds the scheduler's Lease while the server restarts with
	// its scheduler on and the pods are created; releasing it then lets the
	// scheduler take over a settled server with every pod pending at once.
	// So the run measures scheduling and binding, as kube-scheduler's
	// scheduler_perf does, not how fast this process creates pods nor the
	// server's own start.
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "kube-scheduler"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("bench"), LeaseDurationSeconds: ptr.To(int32(3600)),
			AcquireTime: &metav1.MicroTime{Time: time.Now()}, RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
	if _, err := client.CoordinationV1().Leases(lease.Namespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("holding the scheduler's lease: %w", err)
	}
	if err := s.RestartWith(ctx, []string{"--node-cidr-mask-size", "26", "--controllers=*,-node-lifecycle-controller,-taint-eviction-controller"}); err != nil {
		return fmt.Errorf("restarting with the scheduler: %w", err)
	}

	ns := "bench"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// The service account admission needs the default service account.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("waiting for the default service account: %w", err)
	}
	createStart := time.Now()
	if err := parallel(ctx, numPods, 32, func(ctx context.Context, i int) error {
		_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating pods: %w", err)
	}
	fmt.Printf("created %d pending pods in %s\n", numPods, time.Since(createStart).Round(time.Millisecond))
	time.Sleep(*settle)
	if err := client.CoordinationV1().Leases(lease.Namespace).Delete(ctx, lease.Name, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("releasing the scheduler's lease: %w", err)
	}
	ready := time.Now()
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		// The server's CPU profile over the scheduling run, for pprof.
		go func() {
			b, err := client.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "10").DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(path, b, 0o644)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "cpu profile:", err)
			}
		}()
	}

	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0", FieldSelector: "spec.nodeName="})
		return err == nil && len(l.Items) == 0, nil
	}); err != nil {
		return fmt.Errorf("waiting for every pod to be bound: %w", err)
	}
	allBound := time.Since(ready)
	// The scheduler's own clock: each binding's Scheduled event carries a
	// microsecond eventTime, so the figure does not depend on how quickly
	// this process could watch a server that was just restarted.
	// Events are best effort (a broadcaster under load may drop one), so
	// the figure stands on those recorded once they stop coming, if they
	// are nearly all.
	var times []time.Time
	_ = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.EventsV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=Scheduled"})
		if err != nil {
			return false, nil
		}
		times = times[:0]
		for _, e := range l.Items {
			times = append(times, e.EventTime.Time)
		}
		return len(times) >= numPods, nil
	})
	if len(times) < numPods*99/100 {
		return fmt.Errorf("only %d of %d Scheduled events recorded", len(times), numPods)
	}
	if l, err := client.EventsV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "reason=FailedScheduling"}); err == nil && len(l.Items) > 0 {
		fmt.Printf("%d FailedScheduling events, e.g. %q\n", len(l.Items), l.Items[0].Note)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	span := times[len(times)-1].Sub(times[0])
	fmt.Printf("nodes=%d pods=%d: all bound %s after the scheduler's lease was released\n",
		numNodes, numPods, allBound.Round(time.Millisecond))
	fmt.Printf("throughput: %.0f pods/s (%d bindings in %s, first to last Scheduled event)\n",
		float64(len(times)-1)/span.Seconds(), len(times), span.Round(time.Millisecond))
	// Bindings per whole second of the run, as scheduler_perf reports them.
	perSecond := map[int]int{}
	for _, t := range times {
		perSecond[int(t.Sub(times[0])/time.Second)]++
	}
	var rates []int
	for sec, n := range perSecond {
		if sec < int(span/time.Second) { // the last second is partial
			rates = append(rates, n)
		}
	}
	if os.Getenv("BENCH_VERBOSE") != "" {
		for sec := 0; sec <= int(span/time.Second); sec++ {
			fmt.Printf("  second %2d: %d\n", sec, perSecond[sec])
		}
	}
	slices.Sort(rates)
	if len(rates) > 0 {
		fmt.Printf("pods/s per whole second: min %d, median %d, max %d\n", rates[0], rates[len(rates)/2], rates[len(rates)-1])
	}
	return nil
}

func parallel(ctx context.Context, n, workers int, f func(context.Context, int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
