// Package podautoscaler is Kubernetes' horizontal-pod-autoscaler: it sets
// the replicas of a scale target (through its scale subresource) from the
// metrics APIs, within an HPA's bounds, behavior and stabilization windows,
// and reports what it saw and did in the HPA's status and in events.
package podautoscaler

import (
	"context"
	"fmt"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	autoscalinginformers "k8s.io/client-go/informers/autoscaling/v2"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	resourceclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
	externalclient "k8s.io/metrics/pkg/client/external_metrics"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name in kube-controller-manager, and its
	// service account's.
	Name = "horizontal-pod-autoscaler"
	// DefaultWorkers is --concurrent-horizontal-pod-autoscaler-syncs' default.
	DefaultWorkers = 5
	// mapperResetPeriod is how often kube-controller-manager forgets the
	// discovered resources, so that new kinds (CRDs) become targets.
	mapperResetPeriod = 30 * time.Second
)

// Config holds kube-controller-manager's --horizontal-pod-autoscaler-* settings.
type Config struct {
	// SyncPeriod is how often each HPA is reconciled.
	SyncPeriod time.Duration
	// DownscaleStabilization is how far back the highest recommendation
	// holds a scale-down.
	DownscaleStabilization time.Duration
	// Tolerance is the usage ratio deviation from 1 that changes nothing.
	Tolerance float64
	// CPUInitializationPeriod is how long after start a pod's CPU samples
	// count only once it is ready and sampled since.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay is how long after start a pod that is not
	// ready counts as never having been ready.
	InitialReadinessDelay time.Duration
}

// DefaultConfig is kube-controller-manager's defaults.
func DefaultConfig() Config {
	return Config{
		SyncPeriod:              15 * time.Second,
		DownscaleStabilization:  5 * time.Minute,
		Tolerance:               0.1,
		CPUInitializationPeriod: 5 * time.Minute,
		InitialReadinessDelay:   30 * time.Second,
	}
}

// Controller reconciles HorizontalPodAutoscalers.
type Controller struct {
	cfg         Config
	client      kubernetes.Interface
	scales      scale.ScalesGetter
	mapper      meta.RESTMapper
	calc        *replicaCalculator
	history     *history
	selectors   *selectorStore
	consistency *statusWrites
	clock       clock.PassiveClock

	hpas   autoscalinglisters.HorizontalPodAutoscalerLister
	pods   corelisters.PodLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	// background runs beside the workers: cache resets of discovery.
	background []func(ctx context.Context)
}

// NewForConfig builds a Controller on clients of its own from config: the
// scale subresource found through discovery, and the resource, custom and
// external metrics APIs.
func NewForConfig(config *rest.Config, hpas autoscalinginformers.HorizontalPodAutoscalerInformer, pods coreinformers.PodInformer, cfg Config) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("horizontal pod autoscaler client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	// Not cached: the resolver keeps its own cache and should see new kinds.
	scales, err := scale.NewForConfig(config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(client.Discovery()))
	if err != nil {
		return nil, fmt.Errorf("failed to init HPA scale client: %w", err)
	}
	resource, err := resourceclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("failed to init the resource client for %s: %w", Name, err)
	}
	external, err := externalclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("failed to init the external metrics client for %s: %w", Name, err)
	}
	customAPIs := customclient.NewAvailableAPIsGetter(client.Discovery())
	metrics := NewRESTMetricsClient(resource, customclient.NewForConfig(config, mapper, customAPIs), external)
	c, err := New(client, scales, mapper, metrics, hpas, pods, cfg, clock.RealClock{})
	if err != nil {
		return nil, err
	}
	c.background = append(c.background,
		func(ctx context.Context) {
			wait.UntilWithContext(ctx, func(context.Context) { mapper.Reset() }, mapperResetPeriod)
		},
		func(ctx context.Context) { customclient.PeriodicallyInvalidate(customAPIs, cfg.SyncPeriod, ctx.Done()) })
	return c, nil
}

// New returns a controller that scales through scales, finds targets with
// mapper and reads metrics from metrics.
func New(client kubernetes.Interface, scales scale.ScalesGetter, mapper meta.RESTMapper, metrics MetricsClient,
	hpas autoscalinginformers.HorizontalPodAutoscalerInformer, pods coreinformers.PodInformer, cfg Config, clk clock.PassiveClock) (*Controller, error) {
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		cfg:         cfg,
		client:      client,
		scales:      scales,
		mapper:      mapper,
		history:     newHistory(clk, cfg.DownscaleStabilization),
		selectors:   newSelectorStore(),
		consistency: newStatusWrites(),
		clock:       clk,
		hpas:        hpas.Lister(),
		pods:        pods.Lister(),
		// Every HPA comes back once per sync period, whatever happened.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig[string](fixedInterval(cfg.SyncPeriod),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "horizontalpodautoscaler"}),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name}),
	}
	c.calc = &replicaCalculator{metrics: metrics, pods: c.pods, clock: clk,
		cpuInitializationPeriod: cfg.CPUInitializationPeriod, delayOfInitialReadiness: cfg.InitialReadinessDelay}
	hr, err := hpas.Informer().AddEventHandlerWithResyncPeriod(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addHPA,
		UpdateFunc: c.updateHPA,
		DeleteFunc: c.deleteHPA,
	}, cfg.SyncPeriod)
	if err != nil {
		return nil, fmt.Errorf("watching HPAs for the horizontal pod autoscaler: %w", err)
	}
	c.synced = []cache.InformerSynced{hr.HasSynced, pods.Informer().HasSynced}
	return c, nil
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, f := range c.background {
		wg.Go(func() { f(ctx) })
	}
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// sync reconciles key and schedules its next turn a sync period on.
func (c *Controller) sync(ctx context.Context, key string) error {
	deleted, err := c.Sync(ctx, key)
	if !deleted {
		c.queue.AddRateLimited(key)
	}
	return err
}

func (c *Controller) addHPA(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("couldn't get key for object %+v: %w", obj, err))
		return
	}
	// Known before its first sync, with a selector matching nothing, so
	// that the first sync can record the real one.
	c.selectors.putIfAbsent(key)
	c.queue.Add(key)
}

func (c *Controller) updateHPA(oldObj, newObj any) {
	old, ok1 := oldObj.(*autoscalingv2.HorizontalPodAutoscaler)
	cur, ok2 := newObj.(*autoscalingv2.HorizontalPodAutoscaler)
	// A spec change is acted on at once; a status change (such as the
	// controller's own) waits its turn, or the controller would spin.
	if ok1 && ok2 && old.Generation != cur.Generation {
		c.addHPA(cur)
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(newObj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("couldn't get key for object %+v: %w", newObj, err))
		return
	}
	c.queue.AddRateLimited(key)
}

func (c *Controller) deleteHPA(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("couldn't get key for object %+v: %w", obj, err))
		return
	}
	hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			hpa, _ = tombstone.Obj.(*autoscalingv2.HorizontalPodAutoscaler)
		}
	}
	if hpa != nil {
		c.consistency.clear(key, hpa.UID)
	}
	c.queue.Forget(key)
	c.selectors.delete(key)
}

// Sync reconciles the HPA named key; deleted says it is gone, and is not
// to be synced again.
func (c *Controller) Sync(ctx context.Context, key string) (deleted bool, err error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return true, err
	}
	hpa, err := c.hpas.HorizontalPodAutoscalers(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Info("Horizontal Pod Autoscaler has been deleted", "HPA", klog.KRef(namespace, name))
		c.consistency.clear(key, "")
		c.history.forget(key)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// A cache older than the controller's own last status write would
	// have it act twice on one observation.
	if err := c.consistency.ensureSeen(key, hpa); err != nil {
		return false, err
	}
	return false, c.reconcile(ctx, hpa, key)
}

// fixedInterval is a rate limiter that always waits interval.
type fixedInterval time.Duration

func (f fixedInterval) When(string) time.Duration { return time.Duration(f) }
func (f fixedInterval) NumRequeues(string) int    { return 1 }
func (f fixedInterval) Forget(string)             {}

// statusWrites remembers the resource version of each HPA's last status
// write by the controller (upstream's StaleControllerConsistencyHPA, on by
// default in 1.37).
type statusWrites struct {
	mu     sync.Mutex
	writes map[string]statusWrite
}

type statusWrite struct {
	uid types.UID
	rv  string
}

func newStatusWrites() *statusWrites { return &statusWrites{writes: map[string]statusWrite{}} }

func (s *statusWrites) wrote(key string, uid types.UID, rv string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes[key] = statusWrite{uid, rv}
}

// clear forgets key's write; an empty uid matches any.
func (s *statusWrites) clear(key string, uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.writes[key]; ok && (uid == "" || w.uid == uid) {
		delete(s.writes, key)
	}
}

// ensureSeen fails while cached is older than the last write; once it is
// not, the write is forgotten.
func (s *statusWrites) ensureSeen(key string, cached *autoscalingv2.HorizontalPodAutoscaler) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.writes[key]
	if !ok {
		return nil
	}
	if w.uid != cached.UID {
		delete(s.writes, key)
		return nil
	}
	cmp, err := resourceversion.CompareResourceVersion(cached.ResourceVersion, w.rv)
	if err == nil && cmp < 0 {
		return fmt.Errorf("the cache has HPA %s at resource version %s, older than the controller's write at %s", key, cached.ResourceVersion, w.rv)
	}
	delete(s.writes, key)
	return nil
}

// selectorStore holds the selector of each HPA by namespace, to find pods
// that more than one HPA would scale.
type selectorStore struct {
	mu         sync.RWMutex
	namespaces map[string]map[string]labels.Selector // namespace -> key -> selector
}

func newSelectorStore() *selectorStore {
	return &selectorStore{namespaces: map[string]map[string]labels.Selector{}}
}

func (s *selectorStore) putIfAbsent(key string) {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.namespaces[ns]
	if m == nil {
		m = map[string]labels.Selector{}
		s.namespaces[ns] = m
	}
	if _, ok := m[key]; !ok {
		m[key] = labels.Nothing()
	}
}

// putIfPresent records key's selector unless the HPA was deleted meanwhile.
func (s *selectorStore) putIfPresent(key string, sel labels.Selector) bool {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.namespaces[ns][key]; !ok {
		return false
	}
	s.namespaces[ns][key] = sel
	return true
}

func (s *selectorStore) delete(key string) {
	ns, _, _ := cache.SplitMetaNamespaceKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.namespaces[ns], key)
	if len(s.namespaces[ns]) == 0 {
		delete(s.namespaces, ns)
	}
}

// matching returns up to limit keys of HPAs whose selectors match one of pods.
func (s *selectorStore) matching(namespace string, pods []*corev1.Pod, limit int) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	found := map[string]bool{}
	var out []string
	seen := map[string]bool{}
	for _, pod := range pods {
		set := labels.Set(pod.Labels)
		if seen[set.String()] {
			continue
		}
		seen[set.String()] = true
		for key, sel := range s.namespaces[namespace] {
			if !found[key] && sel.Matches(set) {
				found[key] = true
				out = append(out, key)
				if len(out) >= limit {
					return out
				}
			}
		}
	}
	return out
}
