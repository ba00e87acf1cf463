// Package nodeipam is kube-controller-manager's node IPAM controller with
// its RangeAllocator: every Node gets spec.podCIDR and spec.podCIDRs, one
// node-sized subnet of each cluster CIDR, which it keeps until it is deleted.
package nodeipam

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// DefaultWorkers is upstream's cidrUpdateWorkers.
	DefaultWorkers = 30
	// DefaultNodeMaskSizeIPv4 and DefaultNodeMaskSizeIPv6 are
	// kube-controller-manager's defaults for --node-cidr-mask-size.
	DefaultNodeMaskSizeIPv4 = 24
	DefaultNodeMaskSizeIPv6 = 64

	controllerName = "node-ipam-controller"
	// cidrUpdateRetries is how often upstream tries to patch a node's CIDRs.
	cidrUpdateRetries = 3
)

// Options configure the allocator.
type Options struct {
	// ClusterCIDRs are the ranges node subnets come from, one per IP family
	// (two for dual stack).
	ClusterCIDRs []*net.IPNet
	// NodeMaskSizes are the prefix lengths of node subnets, one per cluster
	// CIDR; zero picks the upstream default for the family.
	NodeMaskSizes []int
	// ServiceCIDRs are kept out of the node subnets where they overlap.
	ServiceCIDRs []*net.IPNet
}

// Controller is the range allocator.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	sets     []*cidrSet
	recorder record.EventRecorder
	events   record.EventBroadcaster
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, nodes coreinformers.NodeInformer, opts Options) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("node IPAM client: %w", err)
	}
	return New(client, nodes, opts)
}

// New returns an allocator writing through client.
func New(client kubernetes.Interface, nodes coreinformers.NodeInformer, opts Options) (*Controller, error) {
	if len(opts.ClusterCIDRs) == 0 {
		return nil, fmt.Errorf("node IPAM needs a cluster CIDR")
	}
	c := &Controller{
		client: client,
		nodes:  nodes.Lister(),
		synced: nodes.Informer().HasSynced,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cidrallocator_node"}),
		events: record.NewBroadcaster(),
	}
	c.recorder = c.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "cidrAllocator"})
	for i, cluster := range opts.ClusterCIDRs {
		mask := 0
		if i < len(opts.NodeMaskSizes) {
			mask = opts.NodeMaskSizes[i]
		}
		if mask == 0 {
			mask = DefaultNodeMaskSizeIPv4
			if cluster.IP.To4() == nil {
				mask = DefaultNodeMaskSizeIPv6
			}
		}
		set, err := newCIDRSet(cluster, mask)
		if err != nil {
			return nil, fmt.Errorf("cluster CIDR %s: %w", cluster, err)
		}
		for _, svc := range opts.ServiceCIDRs {
			if !cluster.Contains(svc.IP.Mask(cluster.Mask)) && !svc.Contains(cluster.IP.Mask(svc.Mask)) {
				continue
			}
			if err := set.occupy(svc); err != nil {
				klog.ErrorS(err, "Error filtering out service cidr out cluster cidr", "CIDR", cluster, "index", i, "serviceCIDR", svc)
			}
		}
		c.sets = append(c.sets, set)
	}
	_, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		// A node has no finalizer, so its deletion is the only moment its
		// subnets can go back to the pool.
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			node, ok := obj.(*corev1.Node)
			if !ok {
				return
			}
			if err := c.release(node); err != nil {
				utilruntime.HandleError(fmt.Errorf("releasing the pod CIDRs of node %s: %w", node.Name, err))
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes for node IPAM: %w", err)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// Run recovers the subnets nodes already hold, then allocates until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.events.StartStructuredLogging(3)
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced) {
		return
	}
	// Every held subnet is occupied before any node is given a new one, so
	// a restart never hands out a subnet twice.
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing nodes to recover their pod CIDRs: %w", err))
		return
	}
	for _, node := range nodes {
		if err := c.occupy(node); err != nil {
			utilruntime.HandleError(err)
		}
	}
	loop := worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: []cache.InformerSynced{c.synced}}
	loop.Run(ctx, workers)
}

// Sync gives the node named key its subnets, or marks the ones it has as taken.
func (c *Controller) Sync(ctx context.Context, key string) error {
	node, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if node.DeletionTimestamp != nil {
		return nil
	}
	if len(node.Spec.PodCIDRs) > 0 {
		return c.occupy(node)
	}
	allocated := make([]*net.IPNet, len(c.sets))
	for i, set := range c.sets {
		cidr, err := set.allocateNext()
		if err != nil {
			for j := range i {
				_ = c.sets[j].release(allocated[j])
			}
			c.recordStatusChange(node, "CIDRNotAvailable")
			return fmt.Errorf("failed to allocate cidr from cluster cidr at idx:%v: %w", i, err)
		}
		allocated[i] = cidr
	}
	return c.assign(ctx, node, allocated)
}

// assign writes allocated to the node, giving the subnets back if the
// node turns out to have some already or the write fails for certain.
func (c *Controller) assign(ctx context.Context, node *corev1.Node, allocated []*net.IPNet) error {
	cidrs := make([]string, len(allocated))
	for i, cidr := range allocated {
		cidrs[i] = cidr.String()
	}
	giveBack := func() {
		for i, cidr := range allocated {
			if err := c.sets[i].release(cidr); err != nil {
				klog.ErrorS(err, "Error when releasing CIDR", "index", i, "CIDR", cidr)
			}
		}
	}
	current, err := c.nodes.Get(node.Name)
	if err != nil {
		giveBack()
		return err
	}
	if len(current.Spec.PodCIDRs) != 0 {
		if !equalStrings(current.Spec.PodCIDRs, cidrs) {
			klog.ErrorS(nil, "Node already has a CIDR allocated. Releasing the new one", "node", klog.KObj(current), "podCIDRs", current.Spec.PodCIDRs)
			giveBack()
		}
		return nil
	}
	for range cidrUpdateRetries {
		if err = nodeutil.PatchNodeCIDRs(ctx, c.client, types.NodeName(node.Name), cidrs); err == nil {
			klog.InfoS("Set node PodCIDR", "node", klog.KObj(node), "podCIDRs", cidrs)
			return nil
		}
	}
	klog.ErrorS(err, "Failed to update node PodCIDR after multiple attempts", "node", klog.KObj(node), "podCIDRs", cidrs)
	c.recordStatusChange(node, "CIDRAssignmentFailed")
	// After a timeout the patch may have landed: keeping the subnets
	// leaks them until a restart, which is safer than handing them out twice.
	if !apierrors.IsServerTimeout(err) {
		giveBack()
	}
	return err
}

func (c *Controller) occupy(node *corev1.Node) error {
	return c.eachCIDR(node, (*cidrSet).occupy)
}

func (c *Controller) release(node *corev1.Node) error {
	return c.eachCIDR(node, (*cidrSet).release)
}

func (c *Controller) eachCIDR(node *corev1.Node, f func(*cidrSet, *net.IPNet) error) error {
	for i, s := range node.Spec.PodCIDRs {
		_, cidr, err := net.ParseCIDR(s)
		if err != nil {
			return fmt.Errorf("failed to parse node %s, CIDR %s: %w", node.Name, s, err)
		}
		if i >= len(c.sets) {
			return fmt.Errorf("node:%s has an allocated cidr: %v at index:%v that does not exist in cluster cidrs configuration", node.Name, s, i)
		}
		if err := f(c.sets[i], cidr); err != nil {
			return fmt.Errorf("cidr %v at idx %v of node %v: %w", cidr, i, node.Name, err)
		}
	}
	return nil
}

// recordStatusChange is upstream's RecordNodeStatusChange.
func (c *Controller) recordStatusChange(node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
