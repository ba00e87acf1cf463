package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// benchDeployment creates one Deployment of replicas pods and times it
// until every replica is available. A pod informer of the bench's own
// records when each pod was created and when the scheduler bound it, so
// the scheduler's throughput is measured on this very rollout, from the
// first binding to the last.
func benchDeployment(ctx context.Context, cs kubernetes.Interface, m meter, replicas int) error {
	var mu sync.Mutex
	created := map[types.UID]time.Time{}
	bound := map[types.UID]time.Time{}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("bench"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "app=bench-deploy" }))
	record := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, seen := created[p.UID]; !seen {
			created[p.UID] = now
		}
		if _, seen := bound[p.UID]; !seen && p.Spec.NodeName != "" {
			bound[p.UID] = now
		}
	}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    record,
		UpdateFunc: func(_, obj any) { record(obj) },
	}); err != nil {
		return err
	}
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	factory.Start(ictx.Done())
	factory.WaitForCacheSync(ictx.Done())

	labels := map[string]string{"app": "bench-deploy"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-deploy"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}}},
			},
		},
	}
	p := m.start()
	t0 := time.Now()
	if _, err := cs.AppsV1().Deployments("bench").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the deployment: %w", err)
	}
	if err := waitFor(ctx, time.Second, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(created) >= replicas, nil
	}); err != nil {
		return fmt.Errorf("waiting for %d pods to be created: %w", replicas, err)
	}
	p.print(fmt.Sprintf("deployment: %d pods created", replicas))
	if err := waitFor(ctx, time.Second, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return len(bound) >= replicas, nil
	}); err != nil {
		return fmt.Errorf("waiting for %d pods to be scheduled: %w", replicas, err)
	}
	p.print("... all scheduled")
	if err := waitFor(ctx, time.Second, func() (bool, error) {
		got, err := cs.AppsV1().Deployments("bench").Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.AvailableReplicas == int32(replicas) && got.Status.UpdatedReplicas == int32(replicas), nil
	}); err != nil {
		return fmt.Errorf("waiting for the deployment to be available: %w", err)
	}
	total := time.Since(t0)
	p.print("... and fully available")

	mu.Lock()
	defer mu.Unlock()
	var first, last time.Time
	var latency []time.Duration
	for uid, b := range bound {
		if first.IsZero() || b.Before(first) {
			first = b
		}
		if b.After(last) {
			last = b
		}
		latency = append(latency, b.Sub(created[uid]))
	}
	slices.Sort(latency)
	span := last.Sub(first)
	fmt.Printf("\ndeployment of %d replicas fully available in %s\n", replicas, total.Round(100*time.Millisecond))
	if span > 0 {
		fmt.Printf("scheduler: %d pods bound in %s from the first binding, %.0f pods/s\n",
			len(bound), span.Round(10*time.Millisecond), float64(len(bound)-1)/span.Seconds())
	}
	pct := func(q float64) time.Duration { return latency[min(len(latency)-1, int(q*float64(len(latency))))] }
	fmt.Printf("created-to-bound latency (as the bench's informer saw it): p50 %s, p90 %s, p99 %s\n",
		pct(0.5).Round(time.Millisecond), pct(0.9).Round(time.Millisecond), pct(0.99).Round(time.Millisecond))
	return nil
}

// dbSize is the size of the server's SQLite database with its journal.
func dbSize(dataDir string) (int64, error) {
	var total int64
	found := false
	for _, name := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		fi, err := os.Stat(filepath.Join(dataDir, "server", "db", name))
		if err != nil {
			continue
		}
		found = true
		total += fi.Size()
	}
	if !found {
		return 0, fmt.Errorf("no database under %s", dataDir)
	}
	return total, nil
}
