// Package servicecidr is Kubernetes' service-cidr-controller: it protects
// every ServiceCIDR with a finalizer, marks it Ready, and lets a deleted
// ServiceCIDR go only when no allocated IPAddress would be left outside
// every remaining ServiceCIDR.
package servicecidr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingv1apply "k8s.io/client-go/applyconfigurations/networking/v1"
	networkinginformers "k8s.io/client-go/informers/networking/v1"
	"k8s.io/client-go/kubernetes"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
	"k8s.io/klog/v2"
)

const (
	// Finalizer keeps a ServiceCIDR while addresses depend on it.
	Finalizer = "networking.k8s.io/service-cidr-finalizer"

	controllerName = "service-cidr-controller"
	// ipAllocatorName marks the IPAddresses the API server's allocator made.
	ipAllocatorName = "ipallocator.k8s.io"
	maxRetries      = 15

	// deletionGracePeriod lets every API server see that a ServiceCIDR is
	// going before its finalizer is removed, so none allocates from it.
	deletionGracePeriod = 10 * time.Second
)

// Controller reconciles ServiceCIDRs.
type Controller struct {
	client    kubernetes.Interface
	cidrs     networkinglisters.ServiceCIDRLister
	cidrsSync cache.InformerSynced
	ips       networkinglisters.IPAddressLister
	ipsSync   cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	now       func() time.Time
}

// New returns a controller acting through client on the ServiceCIDRs and
// IPAddresses the informers show.
func New(client kubernetes.Interface, cidrs networkinginformers.ServiceCIDRInformer, ips networkinginformers.IPAddressInformer) *Controller {
	c := &Controller{
		client:    client,
		cidrs:     cidrs.Lister(),
		cidrsSync: cidrs.Informer().HasSynced,
		ips:       ips.Lister(),
		ipsSync:   ips.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ipaddresses"}),
		now: time.Now,
	}
	_, err := cidrs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			sc, ok := obj.(*networkingv1.ServiceCIDR)
			if !ok {
				return
			}
			c.queue.Add(sc.Name)
			// A new CIDR may unblock the deletion of one it overlaps.
			for _, other := range c.overlapping(sc) {
				c.queue.Add(other)
			}
		},
		UpdateFunc: func(_, obj any) { c.enqueueKey(obj) },
		DeleteFunc: c.enqueueKey,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching ServiceCIDRs: %w", err))
	}
	_, err = ips.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueContaining,
		DeleteFunc: c.enqueueContaining,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching IPAddresses: %w", err))
	}
	return c
}

func (c *Controller) enqueueKey(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueContaining queues the ServiceCIDRs an allocated address lies in:
// the address may block or unblock their deletion.
func (c *Controller) enqueueContaining(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	ip, ok := obj.(*networkingv1.IPAddress)
	if !ok || ip.Labels[networkingv1.LabelManagedBy] != ipAllocatorName {
		return
	}
	addr, err := netip.ParseAddr(ip.Name)
	if err != nil {
		return
	}
	for _, sc := range c.containing(addr) {
		c.queue.Add(sc.Name)
	}
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: []cache.InformerSynced{c.cidrsSync, c.ipsSync}, MaxRetries: maxRetries}
	loop.Run(ctx, workers)
}

// Sync reconciles the ServiceCIDR named key.
func (c *Controller) Sync(ctx context.Context, key string) error {
	sc, err := c.cidrs.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if sc.DeletionTimestamp != nil {
		if !c.canDelete(ctx, sc) {
			return c.setReady(ctx, sc, metav1.Condition{
				Type:    networkingv1.ServiceCIDRConditionReady,
				Status:  metav1.ConditionFalse,
				Reason:  networkingv1.ServiceCIDRReasonTerminating,
				Message: "There are still IPAddresses referencing the ServiceCIDR, please remove them or create a new ServiceCIDR",
			})
		}
		if wait := deletionGracePeriod - c.now().Sub(sc.DeletionTimestamp.Time); wait > 0 {
			c.queue.AddAfter(key, wait)
			return nil
		}
		return c.patchFinalizers(ctx, sc, false)
	}
	if err := c.patchFinalizers(ctx, sc, true); err != nil {
		return err
	}
	return c.setReady(ctx, sc, metav1.Condition{
		Type:    networkingv1.ServiceCIDRConditionReady,
		Status:  metav1.ConditionTrue,
		Message: "Kubernetes Service CIDR is ready",
	})
}

// canDelete is true when every allocated address in sc is also inside
// another ServiceCIDR, or sc is wholly inside another one.
func (c *Controller) canDelete(ctx context.Context, sc *networkingv1.ServiceCIDR) bool {
	hasParent := true
	for _, cidr := range sc.Spec.CIDRs {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		parents := c.containingPrefix(prefix)
		if len(parents) == 0 || (len(parents) == 1 && parents[0].Name == sc.Name) {
			hasParent = false
		}
	}
	if hasParent {
		klog.FromContext(ctx).Info("Deleting ServiceCIDR contained in other ServiceCIDR", "ServiceCIDR", sc.Name)
		return true
	}
	for _, cidr := range sc.Spec.CIDRs {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		family := corev1.IPv4Protocol
		if prefix.Addr().Is6() {
			family = corev1.IPv6Protocol
		}
		selector := labels.SelectorFromSet(labels.Set{
			networkingv1.LabelIPAddressFamily: string(family),
			networkingv1.LabelManagedBy:       ipAllocatorName,
		})
		ips, err := c.ips.List(selector)
		if err != nil {
			return false
		}
		for _, ip := range ips {
			addr, err := netip.ParseAddr(ip.Name)
			if err != nil {
				continue
			}
			holders := c.containing(addr)
			if len(holders) == 1 && holders[0].Name == sc.Name {
				klog.FromContext(ctx).Info("Deleting ServiceCIDR blocked by IP address", "IPAddress", addr.String())
				return false
			}
		}
	}
	return true
}

func (c *Controller) patchFinalizers(ctx context.Context, sc *networkingv1.ServiceCIDR, add bool) error {
	has := slices.Contains(sc.Finalizers, Finalizer)
	if has == add {
		return nil
	}
	meta := map[string]any{"finalizers": []string{Finalizer}}
	if !add {
		meta = map[string]any{"$deleteFromPrimitiveList/finalizers": []string{Finalizer}}
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	_, err = c.client.NetworkingV1().ServiceCIDRs().Patch(ctx, sc.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patching finalizers of ServiceCIDR %s: %w", sc.Name, err)
	}
	return nil
}

func (c *Controller) setReady(ctx context.Context, sc *networkingv1.ServiceCIDR, cond metav1.Condition) error {
	cur := apimeta.FindStatusCondition(sc.Status.Conditions, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason && cur.Message == cond.Message {
		return nil
	}
	condition := metav1apply.Condition().
		WithType(cond.Type).
		WithStatus(cond.Status).
		WithReason(cond.Reason).
		WithMessage(cond.Message).
		WithLastTransitionTime(metav1.NewTime(c.now()))
	apply := networkingv1apply.ServiceCIDR(sc.Name).WithStatus(networkingv1apply.ServiceCIDRStatus().WithConditions(condition))
	_, err := c.client.NetworkingV1().ServiceCIDRs().ApplyStatus(ctx, apply, metav1.ApplyOptions{FieldManager: controllerName, Force: true})
	return err
}

// overlapping names the ServiceCIDRs sharing addresses with sc.
func (c *Controller) overlapping(sc *networkingv1.ServiceCIDR) []string {
	out := sets.New[string]()
	all, _ := c.cidrs.List(labels.Everything())
	for _, cidr := range sc.Spec.CIDRs {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			continue
		}
		for _, other := range all {
			for _, oc := range other.Spec.CIDRs {
				if p, err := netip.ParsePrefix(oc); err == nil && p.Overlaps(prefix) {
					out.Insert(other.Name)
				}
			}
		}
	}
	return sets.List(out)
}

// containingPrefix lists the ServiceCIDRs with a CIDR that holds prefix.
func (c *Controller) containingPrefix(prefix netip.Prefix) []*networkingv1.ServiceCIDR {
	var out []*networkingv1.ServiceCIDR
	all, _ := c.cidrs.List(labels.Everything())
	for _, sc := range all {
		for _, cidr := range sc.Spec.CIDRs {
			if p, err := netip.ParsePrefix(cidr); err == nil && p.Overlaps(prefix) && p.Bits() <= prefix.Bits() {
				out = append(out, sc)
			}
		}
	}
	return out
}

// containing lists the ServiceCIDRs that could have allocated addr: it lies
// inside one of their CIDRs and is not its network or IPv4 broadcast address.
func (c *Controller) containing(addr netip.Addr) []*networkingv1.ServiceCIDR {
	var out []*networkingv1.ServiceCIDR
	all, _ := c.cidrs.List(labels.Everything())
	for _, sc := range all {
		for _, cidr := range sc.Spec.CIDRs {
			if p, err := netip.ParsePrefix(cidr); err == nil && allocatable(p, addr) {
				out = append(out, sc)
			}
		}
	}
	return out
}

func allocatable(prefix netip.Prefix, addr netip.Addr) bool {
	prefix = prefix.Masked()
	if !prefix.Contains(addr) || addr == prefix.Addr() {
		return false
	}
	if addr.Is4() {
		b := prefix.Addr().As4()
		host := 32 - prefix.Bits()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if host < 32 {
			v |= uint32(1)<<host - 1
		} else {
			v = ^uint32(0)
		}
		bcast := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		return addr != bcast
	}
	return true
}
