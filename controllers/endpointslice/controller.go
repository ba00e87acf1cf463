// Package endpointslice is Kubernetes' endpointslice-controller: it keeps
// the EndpointSlices of every Service with a selector in step with the pods
// the selector matches. The reconciliation itself is the k8s.io/endpointslice
// library, the one kube-controller-manager uses, so slices are laid out
// exactly as upstream lays them out.
package endpointslice

import (
	"context"
	"fmt"
	"time"

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
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointslicerec "k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// ControllerName is the value of the managed-by label on the slices
	// this controller owns.
	ControllerName = "endpointslice-controller.k8s.io"
	// DefaultWorkers is kube-controller-manager's
	// --concurrent-service-endpoint-syncs.
	DefaultWorkers = 5
	// maxEndpointsPerSlice is --max-endpoints-per-slice's default.
	maxEndpointsPerSlice = 100
	// sliceChangeDelay batches the syncs that the controller's own slice
	// writes trigger, as upstream's endpointSliceChangeMinSyncDelay.
	sliceChangeDelay = time.Second

	loopName = "endpointslice-controller"
)

// Controller reconciles EndpointSlices per Service.
type Controller struct {
	services   corelisters.ServiceLister
	pods       corelisters.PodLister
	slices     discoverylisters.EndpointSliceLister
	reconciler *endpointslicerec.Reconciler
	tracker    *endpointsliceutil.EndpointSliceTracker
	triggers   *endpointsliceutil.TriggerTimeTracker
	recorder   record.EventRecorder
	broadcast  record.EventBroadcaster
	queue      workqueue.TypedRateLimitingInterface[string]
	synced     []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config and the
// informers of f.
func NewForConfig(config *rest.Config, f informers.SharedInformerFactory) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("endpointslice controller client: %w", err)
	}
	return New(client, f)
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, f informers.SharedInformerFactory) (*Controller, error) {
	broadcast := record.NewBroadcaster()
	broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: loopName})
	tracker := endpointsliceutil.NewEndpointSliceTracker()
	nodes := f.Core().V1().Nodes()
	c := &Controller{
		services:   f.Core().V1().Services().Lister(),
		pods:       f.Core().V1().Pods().Lister(),
		slices:     f.Discovery().V1().EndpointSlices().Lister(),
		reconciler: endpointslicerec.NewReconciler(client, nodes.Lister(), maxEndpointsPerSlice, tracker, nil, recorder, ControllerName),
		tracker:    tracker,
		triggers:   endpointsliceutil.NewTriggerTimeTracker(),
		recorder:   recorder,
		broadcast:  broadcast,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			// Upstream's limiter: per-item backoff from 1 s to 1000 s.
			workqueue.NewTypedMaxOfRateLimiter(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 1000*time.Second)),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{f.Core().V1().Services().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueService,
			UpdateFunc: func(_, obj any) { c.enqueueService(obj) },
			DeleteFunc: c.enqueueService,
		}},
		{f.Core().V1().Pods().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.podChanged(nil, obj) },
			UpdateFunc: c.podChanged,
			DeleteFunc: func(obj any) { c.podChanged(obj, nil) },
		}},
		{f.Discovery().V1().EndpointSlices().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.sliceAdded,
			UpdateFunc: c.sliceUpdated,
			DeleteFunc: c.sliceDeleted,
		}},
		// Node changes matter only through the reconciler's node lister.
		{nodes.Informer(), cache.ResourceEventHandlerFuncs{}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("watching for the endpointslice controller: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

func (c *Controller) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// podChanged queues the Services whose endpoints a pod event may change:
// those selecting the pod before or after it.
func (c *Controller) podChanged(old, cur any) {
	services, err := endpointsliceutil.GetServicesToUpdate(c.services, endpointsliceutil.GetPodUpdateProjectionKey(old, cur))
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for key := range services {
		c.queue.Add(key)
	}
}

func (c *Controller) sliceAdded(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && c.reconciler.ManagedByController(s) && c.tracker.ShouldSync(s) {
		c.enqueueSliceService(s)
	}
}

func (c *Controller) sliceUpdated(oldObj, obj any) {
	old, ok1 := oldObj.(*discoveryv1.EndpointSlice)
	s, ok2 := obj.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// A user may relabel a slice to another Service: both need a look.
	if s.Labels[discoveryv1.LabelServiceName] != old.Labels[discoveryv1.LabelServiceName] {
		c.enqueueSliceService(s)
		c.enqueueSliceService(old)
		return
	}
	if c.reconciler.ManagedByChanged(old, s) || (c.reconciler.ManagedByController(s) && c.tracker.ShouldSync(s)) {
		c.enqueueSliceService(s)
	}
}

func (c *Controller) sliceDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	// A deletion the controller did not make itself is repaired.
	if ok && c.reconciler.ManagedByController(s) && c.tracker.Has(s) && !c.tracker.HandleDeletion(s) {
		c.enqueueSliceService(s)
	}
}

func (c *Controller) enqueueSliceService(s *discoveryv1.EndpointSlice) {
	key, err := endpointslicerec.ServiceControllerKey(s)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.AddAfter(key, sliceChangeDelay)
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.broadcast.Shutdown()
	loop := &worker.Loop{Name: loopName, Queue: c.queue, Sync: c.Sync, Synced: c.synced, MaxRetries: 15}
	loop.Run(ctx, workers)
}

// Sync reconciles the slices of the Service named key, namespace/name.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The slices go with the Service through their owner reference.
		c.triggers.DeleteService(ns, name)
		c.reconciler.DeleteService(ns, name)
		return nil
	}
	if err != nil {
		return err
	}
	// ExternalName Services and those without a selector get no slices from
	// this controller; the latter's are written by their users.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	slices, err := c.slices.EndpointSlices(ns).List(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}.AsSelectorPreValidated())
	if err != nil {
		return err
	}
	// Slices on their way out would otherwise keep the controller stuck.
	live := slices[:0:0]
	for _, s := range slices {
		if s.DeletionTimestamp == nil {
			live = append(live, s)
		}
	}
	if c.tracker.StaleSlices(svc, live) {
		return fmt.Errorf("the EndpointSlice cache of service %s is out of date", key)
	}
	triggered := c.triggers.ComputeEndpointLastChangeTriggerTime(ns, svc, pods)
	if err := c.reconciler.Reconcile(klog.FromContext(ctx), svc, pods, live, triggered); err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", ns, name, err)
		return err
	}
	return nil
}
