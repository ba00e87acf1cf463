// Command scheduler measures skiff's scheduler: it starts a server
// (SKIFF_BIN, or cmd/skiff built from this module) without an agent,
// creates Node objects with allocatable, then N pods, and reports pods
// bound per second and the create-to-bound latency percentiles. Bound
// pods stay Pending, which does not matter for scheduling throughput.
//
//	go run ./bench/scheduler [--nodes 1000] [--pods 3000]
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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/internal/testserver"
)

func main() {
	nodes := flag.Int("nodes", 1000, "Node objects to create")
	pods := flag.Int("pods", 3000, "pods to schedule")
	timeout := flag.Duration("timeout", 10*time.Minute, "upper bound on the whole run")
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
	defer os.RemoveAll(dir)
	bin := os.Getenv(testserver.EnvBinary)
	if bin == "" {
		if bin, err = testserver.BuildBinary(ctx, dir); err != nil {
			return err
		}
	}
	s, err := testserver.Launch(ctx, testserver.Options{Binary: bin, DataDir: filepath.Join(dir, "data")})
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
		n.Status.Capacity, n.Status.Allocatable = alloc, alloc
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
		if n, err = client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			return err
		}
		// Lift the not-ready taint TaintNodesByCondition puts on a new
		// node, as the node lifecycle controller does for a Ready node.
		n.Spec.Taints = nil
		_, err = client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating nodes: %w", err)
	}
	fmt.Printf("created %d nodes in %s\n", numNodes, time.Since(start).Round(time.Millisecond))

	ns := "bench"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// Give the service account admission a default service account to find.
	time.Sleep(2 * time.Second)

	var mu sync.Mutex
	created := map[string]time.Time{}
	var latencies []time.Duration
	var bound atomic.Int64
	var lastBound time.Time
	// An informer, not a bare watch: the server may end a watch that falls
	// behind, and the informer resumes it.
	done := make(chan struct{})
	var doneOnce sync.Once
	observe := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || p.Spec.NodeName == "" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if t0, ok := created[p.Name]; ok {
			latencies = append(latencies, time.Since(t0))
			delete(created, p.Name)
			lastBound = time.Now()
			if bound.Add(1) == int64(numPods) {
				doneOnce.Do(func() { close(done) })
			}
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	factory.WaitForCacheSync(ctx.Done())

	// Pods are created gated, so that the measured phase is scheduling and
	// binding, not pod creation (admission makes it the slower write).
	createStart := time.Now()
	if err := parallel(ctx, numPods, 32, func(ctx context.Context, i int) error {
		_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{
				SchedulingGates: []corev1.PodSchedulingGate{{Name: "bench.skiff.dev/hold"}},
				Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
		}, metav1.CreateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating pods: %w", err)
	}
	fmt.Printf("created %d gated pods in %s\n", numPods, time.Since(createStart).Round(time.Millisecond))

	podStart := time.Now()
	ungate := []byte(`{"spec":{"schedulingGates":null}}`)
	if err := parallel(ctx, numPods, 32, func(ctx context.Context, i int) error {
		name := fmt.Sprintf("pod-%05d", i)
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		_, err := client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, ungate, metav1.PatchOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("ungating pods: %w", err)
	}
	createDur := time.Since(podStart)
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("only %d of %d pods bound: %w", bound.Load(), numPods, ctx.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	total := lastBound.Sub(podStart)
	slices.Sort(latencies)
	fmt.Printf("nodes=%d pods=%d ungated in %s, all bound in %s\n", numNodes, numPods, createDur.Round(time.Millisecond), total.Round(time.Millisecond))
	fmt.Printf("throughput: %.0f pods/s\n", float64(numPods)/total.Seconds())
	fmt.Printf("ungate-to-bound latency: p50 %s p90 %s p99 %s max %s\n",
		percentile(latencies, 50), percentile(latencies, 90), percentile(latencies, 99), percentile(latencies, 100))
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

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p + 99) / 100
	return d[max(i, 1)-1].Round(time.Millisecond)
}
