// Package endpointslicemirroring is Kubernetes' endpointslicemirroring
// controller: it mirrors the Endpoints that users write for Services without
// a selector into EndpointSlices, so that consumers of slices (kube-proxy,
// DNS) see those custom endpoints too.
package endpointslicemirroring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "endpointslicemirroring-controller"
	// ControllerName is the value of the managed-by label on the slices
	// this controller owns.
	ControllerName = "endpointslicemirroring-controller.k8s.io"
	// DefaultWorkers is kube-controller-manager's
	// --mirroring-concurrent-service-endpoint-syncs.
	DefaultWorkers = 5
	// DefaultMaxEndpointsPerSubset is --mirroring-max-endpoints-per-subset's
	// default.
	DefaultMaxEndpointsPerSubset = 1000

	// maxRetries is how often a key is retried before it is dropped.
	maxRetries = 15
	// eventComponent is the source upstream's events carry.
	eventComponent = "endpoint-slice-mirroring-controller"
)

// errStaleCache asks for a retry when the slice cache lags behind the
// controller's own writes, which would otherwise make it write twice.
var errStaleCache = errors.New("EndpointSlice informer cache is out of date")

// Controller mirrors Endpoints into EndpointSlices.
type Controller struct {
	endpoints  corelisters.EndpointsLister
	slices     discoverylisters.EndpointSliceLister
	services   corelisters.ServiceLister
	tracker    *endpointsliceutil.EndpointSliceTracker
	reconciler *reconciler
	broadcast  record.EventBroadcaster
	queue      workqueue.TypedRateLimitingInterface[string]
	synced     []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config and the
// informers of f.
func NewForConfig(config *rest.Config, f informers.SharedInformerFactory) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("endpointslicemirroring controller client: %w", err)
	}
	return New(client, f, DefaultMaxEndpointsPerSubset)
}

// New returns a controller writing through client that mirrors at most
// maxPerSubset addresses of each Endpoints subset.
func New(client kubernetes.Interface, f informers.SharedInformerFactory, maxPerSubset int) (*Controller, error) {
	broadcast := record.NewBroadcaster()
	broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent})
	tracker := endpointsliceutil.NewEndpointSliceTracker()
	c := &Controller{
		endpoints: f.Core().V1().Endpoints().Lister(),
		slices:    f.Discovery().V1().EndpointSlices().Lister(),
		services:  f.Core().V1().Services().Lister(),
		tracker:   tracker,
		reconciler: &reconciler{
			client:       client,
			tracker:      tracker,
			recorder:     recorder,
			maxPerSubset: maxPerSubset,
		},
		broadcast: broadcast,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			// Upstream's limiter: per-item backoff from 1 s to 100 s, and
			// 10 qps with bursts of 100 overall.
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 100*time.Second),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice_mirroring"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{f.Core().V1().Endpoints().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.endpointsAdded,
			UpdateFunc: c.endpointsUpdated,
			DeleteFunc: c.endpointsDeleted,
		}},
		{f.Discovery().V1().EndpointSlices().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.sliceAdded,
			UpdateFunc: c.sliceUpdated,
			DeleteFunc: c.sliceDeleted,
		}},
		{f.Core().V1().Services().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.serviceAddedOrDeleted,
			UpdateFunc: c.serviceUpdated,
			DeleteFunc: c.serviceAddedOrDeleted,
		}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("watching for the endpointslicemirroring controller: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// Run mirrors with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.broadcast.Shutdown()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced, MaxRetries: maxRetries}
	loop.Run(ctx, workers)
}

// Sync mirrors the Endpoints named key, namespace/name, or removes its
// mirrored slices once it is gone or no longer to be mirrored.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	ep, err := c.endpoints.Endpoints(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteMirrored(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if !shouldMirror(ep) {
		return c.deleteMirrored(ctx, ns, name)
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return c.deleteMirrored(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	// A Service with a selector has its slices from the endpointslice
	// controller; mirroring would duplicate them.
	if svc.Spec.Selector != nil {
		return c.deleteMirrored(ctx, ns, name)
	}
	slices, err := c.mirrored(ns, name)
	if err != nil {
		return err
	}
	if c.tracker.StaleSlices(svc, slices) {
		return fmt.Errorf("endpoints %s: %w", key, errStaleCache)
	}
	return c.reconciler.reconcile(ctx, ep, slices)
}

func (c *Controller) mirrored(ns, name string) ([]*discoveryv1.EndpointSlice, error) {
	return c.slices.EndpointSlices(ns).List(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}.AsSelectorPreValidated())
}

func (c *Controller) deleteMirrored(ctx context.Context, ns, name string) error {
	c.tracker.DeleteService(ns, name)
	slices, err := c.mirrored(ns, name)
	if err != nil {
		return err
	}
	return c.reconciler.deleteAll(ctx, ns, name, slices)
}

// shouldMirror leaves out Endpoints marked to be skipped and the lock
// records of leader election, which are no endpoints at all.
func shouldMirror(ep *corev1.Endpoints) bool {
	if ep == nil || ep.Labels[discoveryv1.LabelSkipMirror] == "true" {
		return false
	}
	_, leader := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !leader
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) endpointsAdded(obj any) {
	if ep, ok := obj.(*corev1.Endpoints); ok && shouldMirror(ep) {
		c.enqueue(ep)
	}
}

func (c *Controller) endpointsUpdated(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Endpoints)
	ep, ok2 := obj.(*corev1.Endpoints)
	// Either side mirrored means slices may have to be written or removed.
	if ok1 && ok2 && (shouldMirror(old) || shouldMirror(ep)) {
		c.enqueue(ep)
	}
}

func (c *Controller) endpointsDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if ep, ok := obj.(*corev1.Endpoints); ok && shouldMirror(ep) {
		c.enqueue(ep)
	}
}

func (c *Controller) serviceAddedOrDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if svc, ok := obj.(*corev1.Service); ok && svc.Spec.Selector == nil {
		c.enqueue(svc)
	}
}

func (c *Controller) serviceUpdated(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Service)
	svc, ok2 := obj.(*corev1.Service)
	if ok1 && ok2 && (old.Spec.Selector == nil) != (svc.Spec.Selector == nil) {
		c.enqueue(svc)
	}
}

func managedByController(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ControllerName
}

func (c *Controller) sliceAdded(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && managedByController(s) && c.tracker.ShouldSync(s) {
		c.enqueueSliceEndpoints(s)
	}
}

func (c *Controller) sliceUpdated(oldObj, obj any) {
	old, ok1 := oldObj.(*discoveryv1.EndpointSlice)
	s, ok2 := obj.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// A slice relabeled to another Service concerns both Endpoints.
	if s.Labels[discoveryv1.LabelServiceName] != old.Labels[discoveryv1.LabelServiceName] {
		c.enqueueSliceEndpoints(s)
		c.enqueueSliceEndpoints(old)
		return
	}
	if managedByController(old) != managedByController(s) || (managedByController(s) && c.tracker.ShouldSync(s)) {
		c.enqueueSliceEndpoints(s)
	}
}

func (c *Controller) sliceDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	// A deletion the controller did not make itself is repaired.
	if ok && managedByController(s) && c.tracker.Has(s) && !c.tracker.HandleDeletion(s) {
		c.enqueueSliceEndpoints(s)
	}
}

func (c *Controller) enqueueSliceEndpoints(s *discoveryv1.EndpointSlice) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		utilruntime.HandleError(fmt.Errorf("EndpointSlice %s/%s missing %s label", s.Namespace, s.Name, discoveryv1.LabelServiceName))
		return
	}
	// Upstream's --mirroring-endpointslice-updates-batch-period is 0.
	c.queue.Add(s.Namespace + "/" + name)
}

// logger is the controller's logger for ctx.
func logger(ctx context.Context) klog.Logger {
	return klog.FromContext(ctx).WithValues("controller", Name)
}
