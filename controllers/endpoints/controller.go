// Package endpoints is Kubernetes' endpoint-controller: it keeps the
// legacy Endpoints object of every Service with a selector in step with the
// pods the selector matches (EndpointSlices are the endpointslice
// controller's).
package endpoints

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointslicerec "k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	netutils "k8s.io/utils/net"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// ControllerName is the value of the managed-by label it sets.
	ControllerName = "endpoint-controller"
	// LabelManagedBy marks Endpoints this controller manages.
	LabelManagedBy = "endpoints.kubernetes.io/managed-by"
	// DefaultWorkers is kube-controller-manager's --concurrent-endpoint-syncs.
	DefaultWorkers = 5
	// maxCapacity is how many addresses an Endpoints object keeps; beyond
	// it the object is truncated and says so.
	maxCapacity = 1000
	truncated   = "truncated"
)

// Controller reconciles Endpoints per Service.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	triggers  *endpointsliceutil.TriggerTimeTracker
	stale     staleTracker
	recorder  record.EventRecorder
	broadcast record.EventBroadcaster
	queue     workqueue.TypedRateLimitingInterface[string]
	synced    []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config and the
// informers of f.
func NewForConfig(config *rest.Config, f informers.SharedInformerFactory) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("endpoints controller client: %w", err)
	}
	return New(client, f)
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, f informers.SharedInformerFactory) (*Controller, error) {
	broadcast := record.NewBroadcaster()
	broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	c := &Controller{
		client:    client,
		services:  f.Core().V1().Services().Lister(),
		pods:      f.Core().V1().Pods().Lister(),
		endpoints: f.Core().V1().Endpoints().Lister(),
		triggers:  endpointsliceutil.NewTriggerTimeTracker(),
		stale:     staleTracker{seen: map[string]string{}},
		recorder:  broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "endpoint-controller"}),
		broadcast: broadcast,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint"}),
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{f.Core().V1().Services().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, obj any) { c.enqueue(obj) },
			DeleteFunc: c.enqueue,
		}},
		{f.Core().V1().Pods().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.podChanged(nil, obj) },
			UpdateFunc: c.podChanged,
			DeleteFunc: func(obj any) { c.podChanged(obj, nil) },
		}},
		{f.Core().V1().Endpoints().Informer(), cache.ResourceEventHandlerFuncs{
			// Someone else's change or deletion of a managed object is
			// undone. Endpoints without a Service are not this
			// controller's: users manage them by hand.
			UpdateFunc: func(_, obj any) {
				if ep, ok := obj.(*corev1.Endpoints); ok {
					if _, err := c.services.Services(ep.Namespace).Get(ep.Name); err == nil {
						c.enqueue(obj)
					}
				}
			},
			DeleteFunc: c.endpointsDeleted,
		}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("watching for the endpoints controller: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) endpointsDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if ep, ok := obj.(*corev1.Endpoints); ok {
		c.stale.forget(ep.Namespace + "/" + ep.Name)
		c.enqueue(ep)
	}
}

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

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.broadcast.Shutdown()
	loop := &worker.Loop{Name: ControllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync writes the Endpoints of the Service named key, namespace/name.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		c.triggers.DeleteService(ns, name)
		c.stale.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	// ExternalName Services have no endpoints; those without a selector
	// have the ones their users write.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.pods.Pods(ns).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	triggered := c.triggers.ComputeEndpointLastChangeTriggerTime(ns, svc, pods)
	subsets := repack(subsetsFor(svc, pods))

	current, err := c.endpoints.Endpoints(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		current = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: svc.Labels}}
	case err != nil:
		return err
	case c.stale.isStale(key, current.ResourceVersion):
		return fmt.Errorf("the endpoints cache is out of date: version %s of %s was already replaced", current.ResourceVersion, key)
	}
	create := current.ResourceVersion == ""
	if !create && (subsetsEqual(current.Subsets, subsets) || subsetsEqual(repack(current.Subsets), subsets)) &&
		labelsCorrect(current.Labels, svc.Labels) && capacityAnnotationCorrect(current.Annotations, current.Subsets) {
		return nil
	}
	want := current.DeepCopy()
	want.Subsets = subsets
	want.Labels = map[string]string{}
	for k, v := range svc.Labels {
		want.Labels[k] = v
	}
	if want.Annotations == nil {
		want.Annotations = map[string]string{}
	}
	if triggered.IsZero() {
		delete(want.Annotations, corev1.EndpointsLastChangeTriggerTime)
	} else {
		want.Annotations[corev1.EndpointsLastChangeTriggerTime] = triggered.UTC().Format(time.RFC3339Nano)
	}
	if truncate(want) {
		want.Annotations[corev1.EndpointsOverCapacity] = truncated
	} else {
		delete(want.Annotations, corev1.EndpointsOverCapacity)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		want.Labels[corev1.IsHeadlessService] = ""
	}
	want.Labels[LabelManagedBy] = ControllerName

	var updated *corev1.Endpoints
	if create {
		_, err = c.client.CoreV1().Endpoints(ns).Create(ctx, want, metav1.CreateOptions{})
	} else {
		updated, err = c.client.CoreV1().Endpoints(ns).Update(ctx, want, metav1.UpdateOptions{})
	}
	if err != nil {
		if create && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		if create {
			c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %v/%v: %v", ns, name, err)
		} else {
			c.recorder.Eventf(want, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %v/%v: %v", ns, name, err)
		}
		return err
	}
	if updated != nil && updated.ResourceVersion != current.ResourceVersion {
		c.stale.replaced(key, current.ResourceVersion)
	}
	return nil
}

// subsetsFor lists, unpacked, an address per pod and service port: ready
// ones (or all, for publishNotReadyAddresses) as addresses, others as not
// ready. A headless Service without ports lists bare addresses.
func subsetsFor(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	var subsets []corev1.EndpointSubset
	add := func(pod *corev1.Pod, addr corev1.EndpointAddress, ports []corev1.EndpointPort) {
		if svc.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod) {
			subsets = append(subsets, corev1.EndpointSubset{Addresses: []corev1.EndpointAddress{addr}, Ports: ports})
		} else {
			subsets = append(subsets, corev1.EndpointSubset{NotReadyAddresses: []corev1.EndpointAddress{addr}, Ports: ports})
		}
	}
	for _, pod := range pods {
		if !endpointsliceutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			continue
		}
		if endpointsliceutil.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(pod, addr, []corev1.EndpointPort{})
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, err := endpointslicerec.FindPort(pod, sp)
			if err != nil {
				continue
			}
			add(pod, addr, []corev1.EndpointPort{{Name: sp.Name, Port: int32(port), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol}})
		}
	}
	return subsets
}

// podAddress is the pod's address in the Service's (primary) IP family.
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	family := corev1.IPv4Protocol
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		family = svc.Spec.IPFamilies[0]
	case svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone:
		if netutils.IsIPv6String(svc.Spec.ClusterIP) {
			family = corev1.IPv6Protocol
		}
	case netutils.IsIPv6String(pod.Status.PodIP):
		family = corev1.IPv6Protocol
	}
	for _, podIP := range pod.Status.PodIPs {
		ip := netutils.ParseIPSloppy(podIP.IP)
		if ip != nil && netutils.IsIPv6(ip) == (family == corev1.IPv6Protocol) {
			nodeName := pod.Spec.NodeName
			return corev1.EndpointAddress{
				IP:        ip.String(),
				NodeName:  &nodeName,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			}, true
		}
	}
	return corev1.EndpointAddress{}, false
}

// semanticIgnoringVersion compares subsets without the target references'
// resource versions, which change with every pod status write.
var semanticIgnoringVersion = conversion.EqualitiesOrDie(
	func(a, b corev1.ObjectReference) bool {
		a.ResourceVersion, b.ResourceVersion = "", ""
		return a == b
	},
)

func subsetsEqual(a, b []corev1.EndpointSubset) bool {
	return semanticIgnoringVersion.DeepEqual(a, b)
}

func labelsCorrect(epLabels, svcLabels map[string]string) bool {
	if epLabels[LabelManagedBy] != ControllerName {
		return false
	}
	skipped := 0
	for k, v := range epLabels {
		if k == corev1.IsHeadlessService || k == LabelManagedBy {
			skipped++
		} else if sv, ok := svcLabels[k]; !ok || sv != v {
			return false
		}
	}
	return len(svcLabels) == len(epLabels)-skipped
}

func capacityAnnotationCorrect(annotations map[string]string, subsets []corev1.EndpointSubset) bool {
	n := 0
	for _, ss := range subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if n > maxCapacity {
		return false
	}
	_, over := annotations[corev1.EndpointsOverCapacity]
	return !over
}

// truncate keeps at most maxCapacity addresses, ready ones first, each
// subset keeping its share, and says whether it had to.
func truncate(ep *corev1.Endpoints) bool {
	ready, notReady := 0, 0
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= maxCapacity {
		return false
	}
	truncateReady := ready > maxCapacity
	limit, total := maxCapacity-ready, notReady
	if truncateReady {
		limit, total = maxCapacity, ready
	}
	room := limit
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		n := len(ss.NotReadyAddresses)
		if truncateReady {
			n = len(ss.Addresses)
		}
		keep := min(int(math.Ceil(float64(n)/float64(total)*float64(limit))), room)
		if truncateReady {
			ss.Addresses = ss.Addresses[:min(keep, len(ss.Addresses))]
			ss.NotReadyAddresses = []corev1.EndpointAddress{}
			room -= len(ss.Addresses)
		} else {
			ss.NotReadyAddresses = ss.NotReadyAddresses[:min(keep, len(ss.NotReadyAddresses))]
			room -= len(ss.NotReadyAddresses)
		}
	}
	return true
}

// staleTracker remembers which version of each Endpoints object this
// controller replaced, so that a cache still showing it is not acted on.
type staleTracker struct {
	mu   sync.Mutex
	seen map[string]string
}

func (t *staleTracker) replaced(key, rv string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen[key] = rv
}

func (t *staleTracker) isStale(key, rv string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seen[key] == rv
}

func (t *staleTracker) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.seen, key)
}
