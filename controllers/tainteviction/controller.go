// Package tainteviction is Kubernetes' taint-eviction-controller: it
// deletes the pods bound to a node with NoExecute taints they do not
// tolerate, at once, or when the shortest tolerationSeconds of the
// tolerations that let them stay runs out; a taint removed in time cancels
// the eviction.
package tainteviction

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/pods"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name in kube-controller-manager, and the
	// source of its events.
	Name = "taint-eviction-controller"
	// DefaultWorkers is upstream's UpdateWorkerSize.
	DefaultWorkers = 8

	// The condition and event texts are upstream's.
	conditionReason  = "DeletionByTaintManager"
	conditionMessage = "Taint manager: deleting due to NoExecute taint"
	eventReason      = "TaintManagerEviction"
)

// Option changes how New builds the controller.
type Option func(*Controller)

// WithClock makes the controller tell time, and wait for tolerations to
// run out, by clk.
func WithClock(clk clock.WithTicker) Option { return func(c *Controller) { c.clock = clk } }

// eviction is a pod's pending deletion: when it was decided and when it
// falls due.
type eviction struct {
	createdAt, fireAt time.Time
}

// Controller evicts pods from nodes with NoExecute taints.
type Controller struct {
	client      kubernetes.Interface
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	pods        corelisters.PodLister
	podIndexer  cache.Indexer
	nodes       corelisters.NodeLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	clock       clock.WithTicker

	mu sync.Mutex
	// scheduled holds the pending evictions by pod key. Once scheduled, an
	// eviction keeps its time until cancelled, as upstream's timed workers do.
	scheduled map[string]eviction
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, opts ...Option) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("taint eviction controller client: %w", err)
	}
	return New(client, podInformer, nodeInformer, opts...)
}

// New returns a controller that deletes pods through client.
func New(client kubernetes.Interface, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, opts ...Option) (*Controller, error) {
	c := &Controller{
		client:    client,
		pods:      podInformer.Lister(),
		nodes:     nodeInformer.Lister(),
		clock:     clock.RealClock{},
		scheduled: map[string]eviction{},
	}
	for _, o := range opts {
		o(c)
	}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "noexec_taint_pod", Clock: c.clock})
	c.broadcaster = record.NewBroadcaster()
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name})

	if err := pods.IndexByNodeName(podInformer.Informer()); err != nil {
		return nil, err
	}
	c.podIndexer = podInformer.Informer().GetIndexer()
	podReg, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueuePod,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Pod)
			n, ok2 := cur.(*corev1.Pod)
			if ok1 && ok2 && o.Spec.NodeName == n.Spec.NodeName && apiequality.Semantic.DeepEqual(o.Spec.Tolerations, n.Spec.Tolerations) {
				return
			}
			c.enqueuePod(cur)
		},
		DeleteFunc: c.enqueuePod,
	})
	if err != nil {
		return nil, fmt.Errorf("watching pods for the taint eviction controller: %w", err)
	}
	nodeReg, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueNode,
		UpdateFunc: func(old, cur any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := cur.(*corev1.Node)
			if ok1 && ok2 && apiequality.Semantic.DeepEqual(noExecuteTaints(o.Spec.Taints), noExecuteTaints(n.Spec.Taints)) {
				return
			}
			c.enqueueNode(cur)
		},
		DeleteFunc: c.enqueueNode,
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes for the taint eviction controller: %w", err)
	}
	c.synced = []cache.InformerSynced{podReg.HasSynced, nodeReg.HasSynced}
	return c, nil
}

func (c *Controller) enqueuePod(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		c.queue.Add(cache.NewObjectName(pod.Namespace, pod.Name).String())
	}
}

// enqueueNode queues every pod on the node: its taints decide their fate.
func (c *Controller) enqueueNode(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	onNode, err := pods.OnNode(c.podIndexer, node.Name)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	for _, pod := range onNode {
		c.enqueuePod(pod)
	}
}

// Run evicts with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync decides the fate of the pod named key: evict now, later, or not.
func (c *Controller) Sync(ctx context.Context, key string) error {
	name, err := cache.ParseObjectName(key)
	if err != nil {
		return err
	}
	pod, err := c.pods.Pods(name.Namespace).Get(name.Name)
	if apierrors.IsNotFound(err) {
		c.cancel(name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pod %s from the cache: %w", key, err)
	}
	if pod.Spec.NodeName == "" {
		return nil
	}
	var taints []corev1.Taint
	node, err := c.nodes.Get(pod.Spec.NodeName)
	switch {
	case err == nil:
		taints = noExecuteTaints(node.Spec.Taints)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading node %s from the cache: %w", pod.Spec.NodeName, err)
	}
	if len(taints) == 0 {
		c.cancel(name)
		return nil
	}
	logger := klog.FromContext(ctx)
	tolerated, used := matchingTolerations(logger, taints, pod.Spec.Tolerations)
	now := c.clock.Now()
	if !tolerated {
		logger.V(2).Info("Not all taints are tolerated after update for pod on node", "pod", klog.KObj(pod), "node", klog.KRef("", pod.Spec.NodeName))
		c.cancel(name)
		return c.evict(ctx, name)
	}
	wait := minTolerationTime(used)
	if wait < 0 {
		logger.V(4).Info("Current tolerations for pod tolerate forever, cancelling any scheduled deletion", "pod", klog.KObj(pod))
		c.cancel(name)
		return nil
	}
	c.mu.Lock()
	e, ok := c.scheduled[key]
	if !ok {
		e = eviction{createdAt: now, fireAt: now.Add(wait)}
		c.scheduled[key] = e
	}
	c.mu.Unlock()
	if left := e.fireAt.Sub(now); left > 0 {
		c.queue.AddAfter(key, left)
		return nil
	}
	if err := c.evict(ctx, name); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.scheduled, key)
	c.mu.Unlock()
	return nil
}

// cancel forgets a pending eviction, telling the pod's events when there
// was one.
func (c *Controller) cancel(name cache.ObjectName) {
	c.mu.Lock()
	_, ok := c.scheduled[name.String()]
	delete(c.scheduled, name.String())
	c.mu.Unlock()
	if ok {
		c.recorder.Eventf(podRef(name), corev1.EventTypeNormal, eventReason, "Cancelling deletion of Pod %s", name)
	}
}

// evict marks the pod as a disruption target and deletes it with its own
// grace period.
func (c *Controller) evict(ctx context.Context, name cache.ObjectName) error {
	klog.FromContext(ctx).Info("Deleting pod", "controller", Name, "pod", klog.KRef(name.Namespace, name.Name))
	c.recorder.Eventf(podRef(name), corev1.EventTypeNormal, eventReason, "Marking for deletion Pod %s", name)
	pod, err := c.client.CoreV1().Pods(name.Namespace).Get(ctx, name.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pod %s: %w", name, err)
	}
	status := pod.Status.DeepCopy()
	if pods.UpdateCondition(status, corev1.PodCondition{
		Type:               corev1.DisruptionTarget,
		ObservedGeneration: pod.Generation,
		Status:             corev1.ConditionTrue,
		Reason:             conditionReason,
		Message:            conditionMessage,
	}) {
		if err := pods.PatchStatus(ctx, c.client, pod, *status); err != nil {
			return err
		}
	}
	err = c.client.CoreV1().Pods(name.Namespace).Delete(ctx, name.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s: %w", name, err)
	}
	return nil
}

func podRef(name cache.ObjectName) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: name.Namespace, Name: name.Name}
}

func noExecuteTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

// matchingTolerations reports whether every taint is tolerated, and by
// which toleration each (the first that matches).
func matchingTolerations(logger klog.Logger, taints []corev1.Taint, tolerations []corev1.Toleration) (bool, []corev1.Toleration) {
	var used []corev1.Toleration
	for i := range taints {
		found := false
		for j := range tolerations {
			// Comparison operators are alpha in 1.37 and off by default.
			if tolerations[j].ToleratesTaint(logger, &taints[i], false) {
				used = append(used, tolerations[j])
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, used
}

// minTolerationTime is how long the tolerations let a pod stay: the
// shortest tolerationSeconds, zero for a non-positive one or none used,
// and -1 for forever.
func minTolerationTime(tolerations []corev1.Toleration) time.Duration {
	if len(tolerations) == 0 {
		return 0
	}
	least := int64(math.MaxInt64)
	for _, t := range tolerations {
		if t.TolerationSeconds == nil {
			continue
		}
		if *t.TolerationSeconds <= 0 {
			return 0
		}
		least = min(least, *t.TolerationSeconds)
	}
	if least == math.MaxInt64 {
		return -1
	}
	return time.Duration(least) * time.Second
}
