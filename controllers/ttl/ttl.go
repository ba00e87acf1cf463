// Package ttl is kube-controller-manager's ttl-controller: it annotates
// every Node with node.alpha.kubernetes.io/ttl, the seconds a kubelet may
// cache the Secrets and ConfigMaps its pods use, longer as the cluster
// grows so that large clusters put less watch load on the API server.
package ttl

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// DefaultWorkers is upstream's.
	DefaultWorkers = 5

	controllerName = "ttl-controller"
)

// boundary is one step of the TTL by cluster size. Steps overlap so that a
// cluster hovering at a size does not flip between two TTLs.
type boundary struct {
	sizeMin, sizeMax, ttlSeconds int
}

var boundaries = []boundary{
	{sizeMin: 0, sizeMax: 100, ttlSeconds: 0},
	{sizeMin: 90, sizeMax: 500, ttlSeconds: 15},
	{sizeMin: 450, sizeMax: 1000, ttlSeconds: 30},
	{sizeMin: 900, sizeMax: 2000, ttlSeconds: 60},
	{sizeMin: 1800, sizeMax: math.MaxInt32, ttlSeconds: 300},
}

// Controller keeps the TTL annotation of nodes.
type Controller struct {
	client kubernetes.Interface
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]

	mu         sync.RWMutex
	nodeCount  int
	step       int
	desiredTTL int
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, nodes coreinformers.NodeInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("ttl controller client: %w", err)
	}
	return New(client, nodes)
}

// New returns a Controller that patches nodes through client.
func New(client kubernetes.Interface, nodes coreinformers.NodeInformer) (*Controller, error) {
	c := &Controller{
		client: client,
		nodes:  nodes.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttlcontroller"}),
	}
	h, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addNode,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.deleteNode,
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes: %w", err)
	}
	c.synced = []cache.InformerSynced{h.HasSynced}
	return c, nil
}

func (c *Controller) addNode(obj any) {
	if _, ok := obj.(*corev1.Node); !ok {
		return
	}
	c.mu.Lock()
	c.nodeCount++
	if c.nodeCount > boundaries[c.step].sizeMax {
		c.step++
		c.desiredTTL = boundaries[c.step].ttlSeconds
	}
	c.mu.Unlock()
	c.enqueue(obj)
}

func (c *Controller) deleteNode(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if _, ok := obj.(*corev1.Node); !ok {
		return
	}
	c.mu.Lock()
	c.nodeCount--
	if c.nodeCount < boundaries[c.step].sizeMin {
		c.step--
		c.desiredTTL = boundaries[c.step].ttlSeconds
	}
	c.mu.Unlock()
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// DesiredTTL is the TTL, in seconds, for the cluster's current size.
func (c *Controller) DesiredTTL() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.desiredTTL
}

// Run annotates with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: controllerName, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync sets the TTL annotation of the node named key when it differs from
// the desired one (or is missing or unreadable).
func (c *Controller) Sync(ctx context.Context, key string) error {
	node, err := c.nodes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	desired := c.DesiredTTL()
	if v, ok := node.Annotations[corev1.ObjectTTLAnnotationKey]; ok {
		current, err := strconv.Atoi(v)
		if err == nil && current == desired {
			return nil
		}
		if err != nil {
			klog.FromContext(ctx).Info("Could not convert the value with annotation key for the node", "annotationValue", v,
				"annotationKey", corev1.ObjectTTLAnnotationKey, "node", klog.KObj(node))
		}
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{corev1.ObjectTTLAnnotationKey: strconv.Itoa(desired)}}})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("setting the ttl annotation of node %s: %w", node.Name, err)
	}
	klog.FromContext(ctx).V(2).Info("Changed ttl annotation", "node", klog.KObj(node), "TTL", desired)
	return nil
}
