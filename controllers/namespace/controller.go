// Package namespace finalizes deleted namespaces as Kubernetes'
// namespace controller does: once a namespace is Terminating it deletes
// everything inside it, every namespaced resource the API serves (built-in
// and custom), reports progress in the namespace's conditions, and then
// releases the "kubernetes" finalizer so the API server removes the namespace.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/internal/useragent"
)

const (
	// deletionDelay holds back a namespace after its deletion is observed,
	// so that every API server has seen the namespace terminate (and refuses
	// new content in it) and late creations are visible before the sweep.
	deletionDelay = 5 * time.Second

	// DefaultWorkers and DefaultResync are kube-controller-manager's
	// defaults for --concurrent-namespace-syncs and --namespace-sync-period.
	DefaultWorkers = 10
	DefaultResync  = 5 * time.Minute
)

// Controller empties and finalizes terminating namespaces.
type Controller struct {
	deleter *deleter
	lister  corelisters.NamespaceLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own clients from config, with the
// raised rate limits kube-controller-manager gives the namespace controller:
// emptying a namespace is many discovery, list and delete calls.
func NewForConfig(config *rest.Config, informer coreinformers.NamespaceInformer, resync time.Duration) (*Controller, error) {
	cfg := rest.CopyConfig(config)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 20, 30 // kube-controller-manager's client defaults
	}
	cfg.QPS *= 20
	cfg.Burst *= 100
	cfg = useragent.Default(cfg, "namespace-controller")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("namespace controller client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("namespace controller metadata client: %w", err)
	}
	return New(client, md, informer, resync), nil
}

// New returns a controller that deletes the content of terminating
// namespaces through client and md, finds what to delete through client's
// discovery, and learns of namespaces from informer, revisiting each every
// resync.
func New(client kubernetes.Interface, md metadata.Interface, informer coreinformers.NamespaceInformer, resync time.Duration) *Controller {
	c := &Controller{
		deleter: &deleter{
			namespaces: client.CoreV1().Namespaces(),
			pods:       client.CoreV1(),
			metadata:   md,
			discover: func() ([]*metav1.APIResourceList, error) {
				return discovery.ServerPreferredNamespacedResources(client.Discovery())
			},
		},
		lister: informer.Lister(),
		synced: informer.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(rateLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
	}
	_, err := informer.Informer().AddEventHandlerWithResyncPeriod(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	}, resync)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching namespaces for the namespace controller: %w", err))
	}
	return c
}

// rateLimiter retries failed namespaces fast at first and at least every
// minute, under an overall 10 qps budget, as upstream tunes it: a namespace
// being deleted should be gone soon.
func rateLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Minute),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// enqueue queues deleted namespaces only; live ones need nothing.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp.IsZero() {
		return
	}
	c.queue.AddAfter(ns.Name, deletionDelay)
}

// Run processes namespaces with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting namespace controller")

	var wg sync.WaitGroup
	defer func() {
		logger.Info("Shutting down namespace controller")
		c.queue.ShutDown()
		wg.Wait()
	}()
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker, time.Second) })
	}
	<-ctx.Done()
}

func (c *Controller) worker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)

	err := c.sync(ctx, key)
	var remaining *ResourcesRemainingError
	switch {
	case err == nil:
		c.queue.Forget(key)
	case errors.As(err, &remaining):
		// Come back about when the slowest graceful deletion should be over.
		wait := time.Duration(remaining.Estimate/2+1) * time.Second
		klog.FromContext(ctx).V(4).Info("Content remaining in namespace", "namespace", key, "waitSeconds", wait.Seconds())
		c.queue.AddAfter(key, wait)
	default:
		c.queue.AddRateLimited(key)
		utilruntime.HandleErrorWithContext(ctx, err, "Deletion of namespace failed", "namespace", key)
	}
	return true
}

// sync empties and finalizes the namespace named key if it is terminating.
// It is safe to run any number of times.
func (c *Controller) sync(ctx context.Context, key string) error {
	start := time.Now()
	defer func() {
		klog.FromContext(ctx).V(4).Info("Finished syncing namespace", "namespace", key, "duration", time.Since(start))
	}()
	ns, err := c.lister.Get(key)
	if apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Info("Namespace has been deleted", "namespace", key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s from the cache: %w", key, err)
	}
	return c.deleter.delete(ctx, ns.Name)
}
