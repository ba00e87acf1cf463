// Package resourcequota is Kubernetes' resourcequota controller: it keeps
// each ResourceQuota's status current, status.hard a copy of spec.hard and
// status.used what the namespace's objects really consume. Admission charges
// a quota as objects are created; this controller computes usage afresh when
// a quota is created or changed, periodically, and when objects that held
// quota are deleted or stop counting (a pod that terminated), so their share
// is released.
package resourcequota

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
	"github.com/skiff-dev/skiff/internal/useragent"
	skiffquota "github.com/skiff-dev/skiff/registry/quota"
)

const (
	// DefaultWorkers is kube-controller-manager's
	// --concurrent-resource-quota-syncs default.
	DefaultWorkers = 5
	// DefaultResync is kube-controller-manager's
	// --resource-quota-sync-period default: how often every quota is
	// recalculated in full.
	DefaultResync = 5 * time.Minute
	// DiscoveryPeriod is how often the set of quotable resources is
	// refreshed, as kube-controller-manager does.
	DiscoveryPeriod = 30 * time.Second

	controllerName = "resourcequota-controller"
)

// Options configure a Controller.
type Options struct {
	// Quotas is the client the controller writes quota status through.
	Quotas corev1client.ResourceQuotasGetter
	// QuotaInformer watches ResourceQuotas.
	QuotaInformer coreinformers.ResourceQuotaInformer
	// Informers provides the typed informers of the resources whose usage
	// needs the full object (pods, services, persistentvolumeclaims).
	Informers informers.SharedInformerFactory
	// Metadata provides the informers of every other resource, counted by
	// object only.
	Metadata metadatainformer.SharedInformerFactory
	// Discover lists the server's namespaced resources.
	Discover func() ([]*metav1.APIResourceList, error)
	// Resync is how often every quota is recalculated; 0 disables it.
	Resync time.Duration
}

// Controller keeps ResourceQuota status current.
type Controller struct {
	quotas   corev1client.ResourceQuotasGetter
	lister   corelisters.ResourceQuotaLister
	registry quota.Registry
	monitor  *monitor
	discover func() ([]*metav1.APIResourceList, error)
	resync   time.Duration
	synced   []cache.InformerSynced

	// queue holds quotas to recalculate; missingUsage those whose status
	// lacks usage for some limit, served first since admission rejects
	// what such a quota limits until the usage is known.
	queue        workqueue.TypedRateLimitingInterface[string]
	missingUsage workqueue.TypedRateLimitingInterface[string]

	// syncing is held for reading by syncs and for writing while the
	// monitored resources change, so no sync sees a half-built registry.
	syncing sync.RWMutex

	// written holds, per quota key, the resourceVersion of this
	// controller's last status write, until the cache is seen to hold it.
	writtenMu sync.Mutex
	written   map[string]string
}

// NewForConfig builds a Controller on its own clients from config, named as
// kube-controller-manager names this controller's client. Pods, services and
// PVCs are watched through typed.
func NewForConfig(config *rest.Config, quotas coreinformers.ResourceQuotaInformer, typed informers.SharedInformerFactory) (*Controller, error) {
	config = useragent.Default(config, "resourcequota-controller")
	client, err := corev1client.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("resourcequota controller client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("resourcequota controller discovery client: %w", err)
	}
	meta, err := metadata.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("resourcequota controller metadata client: %w", err)
	}
	return New(Options{
		Quotas:        client,
		QuotaInformer: quotas,
		Informers:     typed,
		Metadata:      metadatainformer.NewSharedInformerFactory(meta, 0),
		Discover:      disc.ServerPreferredNamespacedResources,
		Resync:        DefaultResync,
	}), nil
}

// New returns a Controller configured by opts.
func New(opts Options) *Controller {
	c := &Controller{
		quotas:   opts.Quotas,
		lister:   opts.QuotaInformer.Lister(),
		discover: opts.Discover,
		resync:   opts.Resync,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resourcequota_primary"}),
		missingUsage: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resourcequota_priority"}),
		written: map[string]string{},
	}
	c.monitor = newMonitor(opts.Informers, opts.Metadata, c.replenish)
	c.registry = generic.NewRegistry(skiffquota.NewEvaluators(generic.ListerFuncForResourceFunc(c.monitor.informerFor)))
	c.monitor.registry = c.registry
	h, err := opts.QuotaInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addQuota,
		UpdateFunc: func(old, cur any) {
			// Status updates, this controller's own among them, need no
			// recalculation; only a change of the limits does.
			o, ok1 := old.(*corev1.ResourceQuota)
			n, ok2 := cur.(*corev1.ResourceQuota)
			if ok1 && ok2 && quota.Equals(o.Spec.Hard, n.Spec.Hard) {
				return
			}
			c.addQuota(cur)
		},
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching resourcequotas for the resourcequota controller: %w", err))
	} else {
		c.synced = append(c.synced, h.HasSynced)
	}
	c.synced = append(c.synced, c.monitor.synced)
	return c
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("resourcequota controller: %w", err))
		return
	}
	c.queue.Add(key)
}

// addQuota queues a quota, on the priority queue if its status does not yet
// reflect its limits or lacks the usage of one a known evaluator computes.
func (c *Controller) addQuota(obj any) {
	rq, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(rq)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("resourcequota controller: %w", err))
		return
	}
	if !apiequality.Semantic.DeepEqual(rq.Spec.Hard, rq.Status.Hard) {
		c.missingUsage.Add(key)
		return
	}
	for name := range rq.Status.Hard {
		if _, ok := rq.Status.Used[name]; ok {
			continue
		}
		for _, e := range c.registry.List() {
			if len(e.MatchingResources([]corev1.ResourceName{name})) > 0 {
				c.missingUsage.Add(key)
				return
			}
		}
	}
	c.queue.Add(key)
}

// replenish queues the quotas of namespace that limit something of
// resource, after an object of it was deleted or stopped counting.
func (c *Controller) replenish(gr schema.GroupResource, namespace string) {
	e := c.registry.Get(gr)
	if e == nil {
		return
	}
	rqs, err := c.lister.ResourceQuotas(namespace).List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing the resource quotas of namespace %q: %w", namespace, err))
		return
	}
	for _, rq := range rqs {
		if len(e.MatchingResources(quota.ResourceNames(rq.Status.Hard))) > 0 {
			c.enqueue(rq)
		}
	}
}

// enqueueAll queues every quota for a full recalculation.
func (c *Controller) enqueueAll(ctx context.Context) {
	rqs, err := c.lister.List(labels.Everything())
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Unable to enqueue all - error listing resource quotas")
		return
	}
	for _, rq := range rqs {
		c.enqueue(rq)
	}
}

// Run discovers the quotable resources, watches them, and reconciles with
// workers goroutines per queue until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		// Right after a server starts, discovery can fail while the
		// aggregator settles; until it first succeeds, try every second
		// rather than every DiscoveryPeriod.
		_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			return c.syncMonitors(ctx), nil
		})
		wait.UntilWithContext(ctx, func(ctx context.Context) { c.syncMonitors(ctx) }, DiscoveryPeriod)
	})
	priority := &worker.Loop{Name: controllerName, Queue: c.missingUsage, Sync: c.Sync, Synced: c.synced}
	wg.Go(func() { priority.Run(ctx, workers) })
	if c.resync > 0 {
		wg.Go(func() {
			if cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
				wait.UntilWithContext(ctx, c.enqueueAll, c.resync)
			}
		})
	}
	primary := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	primary.Run(ctx, workers)
}

// syncMonitors watches the resources discovery now lists, and says whether
// discovery listed any. A group that failed discovery keeps the resources
// it had.
func (c *Controller) syncMonitors(ctx context.Context) bool {
	resources, err := quotableResources(c.discover)
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Error during resource discovery")
		if len(resources) == 0 {
			return false
		}
	}
	if !c.monitor.needs(resources) {
		return true
	}
	c.syncing.Lock()
	defer c.syncing.Unlock()
	c.monitor.watch(ctx, resources)
	return true
}

// quotableResources are the namespaced resources that can be created,
// listed, watched and deleted: those objects can hold quota.
func quotableResources(discover func() ([]*metav1.APIResourceList, error)) (map[schema.GroupVersionResource]struct{}, error) {
	lists, discoveryErr := discover()
	if discoveryErr != nil && len(lists) == 0 {
		return nil, fmt.Errorf("failed to discover resources: %w", discoveryErr)
	}
	quotable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"create", "list", "watch", "delete"}}, lists)
	gvrs, err := discovery.GroupVersionResources(quotable)
	if err != nil {
		return nil, fmt.Errorf("failed to parse resources: %w", err)
	}
	return gvrs, discoveryErr
}

// Sync recalculates the quota named key (namespace/name) and writes its
// status if it changed.
func (c *Controller) Sync(ctx context.Context, key string) error {
	c.syncing.RLock()
	defer c.syncing.RUnlock()
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	rq, err := c.lister.ResourceQuotas(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.writtenMu.Lock()
		delete(c.written, key)
		c.writtenMu.Unlock()
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting resource quota %s: %w", key, err)
	}
	return c.syncQuota(ctx, rq)
}

func (c *Controller) syncQuota(ctx context.Context, rq *corev1.ResourceQuota) error {
	used := corev1.ResourceList{}
	if rq.Status.Used != nil {
		used = quota.Add(corev1.ResourceList{}, rq.Status.Used)
	}
	hard := quota.Add(corev1.ResourceList{}, rq.Spec.Hard)

	// A failing evaluator leaves its resources' last usage in place; the
	// others still update.
	var errs []error
	newUsage, err := quota.CalculateUsage(rq.Namespace, rq.Spec.Scopes, hard, c.registry, rq.Spec.ScopeSelector)
	if err != nil {
		errs = append(errs, err)
	}
	for name, q := range newUsage {
		used[name] = q
	}
	used = quota.Mask(used, quota.ResourceNames(hard))

	key := rq.Namespace + "/" + rq.Name
	if !needsWrite(rq, used) {
		// Nothing to write, if the cached quota is current. It may not be:
		// a sync that listed before admission's latest charge was stored
		// may have written an older usage that the cache does not show
		// yet, and no later event would correct it.
		live, err := c.liveIfStale(ctx, key, rq)
		if err != nil {
			return utilerrors.NewAggregate(append(errs, err))
		}
		if live == rq {
			return utilerrors.NewAggregate(errs)
		}
		rq = live
		if !needsWrite(rq, used) {
			return utilerrors.NewAggregate(errs)
		}
	}
	updated := rq.DeepCopy()
	updated.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	if got, err := c.quotas.ResourceQuotas(rq.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		errs = append(errs, fmt.Errorf("updating the status of resource quota %s/%s: %w", rq.Namespace, rq.Name, err))
	} else {
		c.writtenMu.Lock()
		c.written[key] = got.ResourceVersion
		c.writtenMu.Unlock()
		klog.FromContext(ctx).V(4).Info("Updated resource quota status", "resourceQuota", klog.KObj(rq))
	}
	return utilerrors.NewAggregate(errs)
}

// needsWrite says whether rq's status differs from its limits and used.
func needsWrite(rq *corev1.ResourceQuota, used corev1.ResourceList) bool {
	return rq.Status.Hard == nil || rq.Status.Used == nil ||
		!apiequality.Semantic.DeepEqual(rq.Spec.Hard, rq.Status.Hard) || !quota.Equals(used, rq.Status.Used)
}

// liveIfStale returns rq, or the stored quota when this controller wrote
// one the cached rq may predate. Once the cache has been seen current, the
// quota is not read again until the next write.
func (c *Controller) liveIfStale(ctx context.Context, key string, rq *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	c.writtenMu.Lock()
	rv, ok := c.written[key]
	c.writtenMu.Unlock()
	if !ok || rv == rq.ResourceVersion {
		return rq, nil
	}
	// The controller's role may list quotas but not get them, as upstream's.
	list, err := c.quotas.ResourceQuotas(rq.Namespace).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", rq.Name).String()})
	if err != nil {
		return nil, fmt.Errorf("reading resource quota %s: %w", key, err)
	}
	if len(list.Items) == 0 {
		return rq, nil
	}
	live := &list.Items[0]
	if live.ResourceVersion == rq.ResourceVersion {
		c.writtenMu.Lock()
		if c.written[key] == rv {
			delete(c.written, key)
		}
		c.writtenMu.Unlock()
		return rq, nil
	}
	return live, nil
}
