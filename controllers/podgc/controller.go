// Package podgc is Kubernetes' pod-garbage-collector: it deletes
// terminated pods beyond a threshold, pods bound to nodes that are gone,
// terminating pods that never got a node, and terminating pods on nodes
// marked out of service, failing them first as upstream does.
package podgc

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/pods"
)

const (
	// Name is the controller's name in kube-controller-manager.
	Name = "pod-garbage-collector"
	// DefaultTerminatedPodThreshold is --terminated-pod-gc-threshold's
	// default; zero or less turns collecting terminated pods off.
	DefaultTerminatedPodThreshold = 12500

	defaultCheckPeriod = 20 * time.Second
	// defaultQuarantine is how long a node must stay missing before its
	// pods are collected, so that a slow node cache deletes nothing.
	defaultQuarantine = 40 * time.Second

	// evictedReason is the kubelet's reason on pods it evicted, which are
	// collected first.
	evictedReason = "Evicted"
)

// Option changes how New builds the controller.
type Option func(*Controller)

// WithPeriods sets how often the collector runs and how long a node must
// stay missing before its pods go.
func WithPeriods(check, quarantine time.Duration) Option {
	return func(c *Controller) { c.checkPeriod, c.quarantine = check, quarantine }
}

// WithClock makes the quarantine run by clk.
func WithClock(clk clock.WithTicker) Option { return func(c *Controller) { c.clock = clk } }

// Controller collects pods.
type Controller struct {
	client      kubernetes.Interface
	pods        corelisters.PodLister
	nodes       corelisters.NodeLister
	synced      []cache.InformerSynced
	threshold   int
	checkPeriod time.Duration
	quarantine  time.Duration
	clock       clock.WithTicker
	// nodeQueue holds the names of missing nodes until their quarantine ends.
	nodeQueue workqueue.TypedDelayingInterface[string]
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, threshold int, opts ...Option) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("pod garbage collector client: %w", err)
	}
	return New(client, podInformer, nodeInformer, threshold, opts...), nil
}

// New returns a collector deleting through client that keeps at most
// threshold terminated pods.
func New(client kubernetes.Interface, podInformer coreinformers.PodInformer, nodeInformer coreinformers.NodeInformer, threshold int, opts ...Option) *Controller {
	c := &Controller{
		client:      client,
		pods:        podInformer.Lister(),
		nodes:       nodeInformer.Lister(),
		synced:      []cache.InformerSynced{podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced},
		threshold:   threshold,
		checkPeriod: defaultCheckPeriod,
		quarantine:  defaultQuarantine,
		clock:       clock.RealClock{},
	}
	for _, o := range opts {
		o(c)
	}
	c.nodeQueue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: "orphaned_pods_nodes", Clock: c.clock})
	return c
}

// Run collects every check period until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting GC controller")
	defer func() {
		logger.Info("Shutting down GC controller")
		c.nodeQueue.ShutDown()
	}()
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		return
	}
	wait.UntilWithContext(ctx, c.gc, c.checkPeriod)
}

func (c *Controller) gc(ctx context.Context) {
	logger := klog.FromContext(ctx)
	all, err := c.pods.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Error while listing all pods")
		return
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		logger.Error(err, "Error while listing all nodes")
		return
	}
	if c.threshold > 0 {
		c.gcTerminated(ctx, all)
	}
	c.gcTerminating(ctx, all)
	c.gcOrphaned(ctx, all, nodes)
	c.gcUnscheduledTerminating(ctx, all)
}

func isTerminated(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodPending, corev1.PodRunning, corev1.PodUnknown:
		return false
	}
	return true
}

// gcTerminated deletes the terminated pods beyond the threshold, evicted
// and oldest first.
func (c *Controller) gcTerminated(ctx context.Context, all []*corev1.Pod) {
	var terminated []*corev1.Pod
	for _, pod := range all {
		if isTerminated(pod) {
			terminated = append(terminated, pod)
		}
	}
	n := len(terminated) - c.threshold
	if n <= 0 {
		return
	}
	klog.FromContext(ctx).Info("Garbage collecting pods", "numPods", n)
	sortForDeletion(terminated)
	c.deleteAll(ctx, terminated[:n], nil, "Failed to delete terminated pod")
}

// gcTerminating force-deletes terminating pods on not Ready nodes an
// administrator tainted out of service: their kubelet will not finish them.
func (c *Controller) gcTerminating(ctx context.Context, all []*corev1.Pod) {
	logger := klog.FromContext(ctx)
	var terminating []*corev1.Pod
	for _, pod := range all {
		if pod.DeletionTimestamp == nil {
			continue
		}
		node, err := c.nodes.Get(pod.Spec.NodeName)
		if err != nil {
			logger.Error(err, "Failed to get node", "node", klog.KRef("", pod.Spec.NodeName))
			continue
		}
		if !isNodeReady(node) && taintKeyExists(node.Spec.Taints, corev1.TaintNodeOutOfService) {
			terminating = append(terminating, pod)
		}
	}
	if len(terminating) == 0 {
		return
	}
	logger.V(4).Info("Garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service", "numPods", len(terminating))
	sortForDeletion(terminating)
	c.deleteAll(ctx, terminating, nil, "Failed to delete terminating pod on out-of-service node")
}

// gcOrphaned deletes the pods of nodes missing for the whole quarantine,
// checked against the API server rather than the cache.
func (c *Controller) gcOrphaned(ctx context.Context, all []*corev1.Pod, nodes []*corev1.Node) {
	logger := klog.FromContext(ctx)
	existing := sets.New[string]()
	for _, n := range nodes {
		existing.Insert(n.Name)
	}
	for _, pod := range all {
		if pod.Spec.NodeName != "" && !existing.Has(pod.Spec.NodeName) {
			c.nodeQueue.AddAfter(pod.Spec.NodeName, c.quarantine)
		}
	}
	deleted := sets.New[string]()
	for c.nodeQueue.Len() > 0 {
		name, quit := c.nodeQueue.Get()
		if quit {
			return
		}
		if !existing.Has(name) {
			_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				deleted.Insert(name)
			case err != nil:
				logger.Error(err, "Error while getting node", "node", klog.KRef("", name))
			}
		}
		c.nodeQueue.Done(name)
	}
	for _, pod := range all {
		if !deleted.Has(pod.Spec.NodeName) {
			continue
		}
		logger.V(2).Info("Found orphaned Pod assigned to the Node, deleting", "pod", klog.KObj(pod), "node", klog.KRef("", pod.Spec.NodeName))
		cond := &corev1.PodCondition{
			Type:               corev1.DisruptionTarget,
			ObservedGeneration: pod.Generation,
			Status:             corev1.ConditionTrue,
			Reason:             "DeletionByPodGC",
			Message:            "PodGC: node no longer exists",
		}
		if err := c.markFailedAndDelete(ctx, pod, cond); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Failed to delete orphaned pod", "pod", klog.KObj(pod))
		} else {
			logger.Info("Forced deletion of orphaned Pod succeeded", "pod", klog.KObj(pod))
		}
	}
}

// gcUnscheduledTerminating deletes terminating pods no node will ever
// finish.
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, all []*corev1.Pod) {
	logger := klog.FromContext(ctx)
	for _, pod := range all {
		if pod.DeletionTimestamp == nil || pod.Spec.NodeName != "" {
			continue
		}
		logger.V(2).Info("Found unscheduled terminating Pod not assigned to any Node, deleting", "pod", klog.KObj(pod))
		if err := c.markFailedAndDelete(ctx, pod, nil); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Failed to delete unscheduled terminating pod", "pod", klog.KObj(pod))
		} else {
			logger.Info("Forced deletion of unscheduled terminating Pod succeeded", "pod", klog.KObj(pod))
		}
	}
}

func (c *Controller) deleteAll(ctx context.Context, victims []*corev1.Pod, cond *corev1.PodCondition, failure string) {
	var wg sync.WaitGroup
	for _, pod := range victims {
		wg.Go(func() {
			if err := c.markFailedAndDelete(ctx, pod, cond); err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, failure, "pod", klog.KObj(pod))
			}
		})
	}
	wg.Wait()
}

// markFailedAndDelete sets a pod that has not finished Failed (with cond,
// if any) and deletes it at once: no kubelet will do either.
func (c *Controller) markFailedAndDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	klog.FromContext(ctx).Info("PodGC is force deleting Pod", "pod", klog.KObj(pod))
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		status := pod.Status.DeepCopy()
		status.Phase = corev1.PodFailed
		status.ObservedGeneration = pod.Generation
		if cond != nil {
			pods.UpdateCondition(status, *cond)
		}
		if err := pods.PatchStatus(ctx, c.client, pod, *status); err != nil {
			return err
		}
	}
	if err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, *metav1.NewDeleteOptions(0)); err != nil {
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// sortForDeletion orders pods evicted first, then oldest first, then by name.
func sortForDeletion(victims []*corev1.Pod) {
	sort.SliceStable(victims, func(i, j int) bool {
		a, b := victims[i], victims[j]
		ae, be := isEvicted(a), isEvicted(b)
		if ae != be {
			return ae
		}
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}

func isEvicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == evictedReason
}

func isNodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func taintKeyExists(taints []corev1.Taint, key string) bool {
	for _, t := range taints {
		if t.Key == key {
			return true
		}
	}
	return false
}
