// Package daemonset is Kubernetes' DaemonSet controller: one pod on every
// node the template's node selector, required node affinity and
// tolerations admit, each created with a required node affinity naming its
// node (the scheduler binds it), rolled to new ControllerRevisions within
// maxUnavailable and maxSurge or on delete.
package daemonset

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/history"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "daemon-set-controller"
	// DefaultWorkers is kube-controller-manager's --concurrent-daemonset-syncs.
	DefaultWorkers = 2
	// BurstReplicas caps the pods one sync creates or deletes.
	BurstReplicas = 250
	// StatusUpdateRetries is how often a conflicting status write is retried.
	StatusUpdateRetries = 1

	// Event reasons.
	SelectingAllReason       = "SelectingAll"
	FailedPlacementReason    = "FailedPlacement"
	FailedDaemonPodReason    = "FailedDaemonPod"
	SucceededDaemonPodReason = "SucceededDaemonPod"

	slowStartInitialBatchSize = 1
)

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller reconciles DaemonSets.
type Controller struct {
	client       kubernetes.Interface
	dsLister     appslisters.DaemonSetLister
	historyList  appslisters.ControllerRevisionLister
	podLister    corelisters.PodLister
	nodeLister   corelisters.NodeLister
	broadcaster  record.EventBroadcaster
	recorder     record.EventRecorder
	queue        workqueue.TypedRateLimitingInterface[string]
	synced       []cache.InformerSynced
	expectations *expectations
	// failedPodsBackoff spaces out replacing a daemon pod that keeps failing.
	failedPodsBackoff *flowcontrol.Backoff
	burstReplicas     int
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, daemonSets appsinformers.DaemonSetInformer, revisions appsinformers.ControllerRevisionInformer,
	pods coreinformers.PodInformer, nodes coreinformers.NodeInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("daemonset controller client: %w", err)
	}
	return New(client, daemonSets, revisions, pods, nodes), nil
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, daemonSets appsinformers.DaemonSetInformer, revisions appsinformers.ControllerRevisionInformer,
	pods coreinformers.PodInformer, nodes coreinformers.NodeInformer) *Controller {
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:      client,
		dsLister:    daemonSets.Lister(),
		historyList: revisions.Lister(),
		podLister:   pods.Lister(),
		nodeLister:  nodes.Lister(),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "daemonset-controller"}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset"}),
		expectations:      newExpectations(),
		failedPodsBackoff: flowcontrol.NewBackOff(time.Second, 15*time.Minute),
		burstReplicas:     BurstReplicas,
	}
	var regs []cache.ResourceEventHandlerRegistration
	add := func(what string, inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
		reg, err := inf.AddEventHandler(h)
		if err != nil {
			utilruntime.HandleError(fmt.Errorf("watching %s for the daemonset controller: %w", what, err))
			return
		}
		regs = append(regs, reg)
	}
	add("daemonsets", daemonSets.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteDaemonSet,
	})
	add("controllerrevisions", revisions.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.revisionChanged,
		UpdateFunc: func(_, cur any) { c.revisionChanged(cur) },
		DeleteFunc: c.revisionChanged,
	})
	add("pods", pods.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	add("nodes", nodes.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    c.nodeChanged,
		UpdateFunc: c.updateNode,
		DeleteFunc: c.nodeChanged,
	})
	for _, r := range regs {
		c.synced = append(c.synced, r.HasSynced)
	}
	return c
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	go func() {
		// Forget old backoff entries, as upstream's GC of the backoff does.
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.failedPodsBackoff.GC()
			}
		}
	}()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("couldn't get key for object %+v: %w", obj, err))
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, after time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
		c.queue.AddAfter(key, after)
	}
}

func (c *Controller) enqueueAll() {
	all, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range all {
		c.enqueue(ds)
	}
}

func (c *Controller) deleteDaemonSet(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.expectations.delete(key)
	}
	c.enqueue(obj)
}

func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref == nil || ref.Kind != controllerKind.Kind {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

func (c *Controller) revisionChanged(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if ds := c.resolveControllerRef(cr.Namespace, metav1.GetControllerOfNoCopy(cr)); ds != nil {
		c.enqueue(ds)
		return
	}
	if metav1.GetControllerOfNoCopy(cr) == nil {
		if sets, err := c.dsLister.GetHistoryDaemonSets(cr); err == nil {
			for _, ds := range sets {
				c.enqueue(ds)
			}
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// A restarted controller can see a pod already being deleted.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		ds := c.resolveControllerRef(pod.Namespace, ref)
		if ds == nil {
			return
		}
		if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
			c.expectations.creationObserved(key)
			c.queue.Add(key)
		}
		return
	}
	if sets, err := c.dsLister.GetPodDaemonSets(pod); err == nil {
		for _, ds := range sets {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		// Graceful deletion: count it as deleted now, not when it is gone.
		c.deletePod(curPod)
		return
	}
	curRef, oldRef := metav1.GetControllerOf(curPod), metav1.GetControllerOf(oldPod)
	if !reflect.DeepEqual(curRef, oldRef) && oldRef != nil {
		if ds := c.resolveControllerRef(oldPod.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.resolveControllerRef(curPod.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		if !history.IsPodReady(oldPod) && history.IsPodReady(curPod) && ds.Spec.MinReadySeconds > 0 {
			c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if !reflect.DeepEqual(curPod.Labels, oldPod.Labels) || !reflect.DeepEqual(curRef, oldRef) {
		if sets, err := c.dsLister.GetPodDaemonSets(curPod); err == nil {
			for _, ds := range sets {
				c.enqueue(ds)
			}
		}
	}
}

func (c *Controller) deletePod(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ds := c.resolveControllerRef(pod.Namespace, metav1.GetControllerOfNoCopy(pod))
	if ds == nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
		c.expectations.deletionObserved(key)
		c.queue.Add(key)
	}
}

// nodeChanged resyncs every DaemonSet for an added or deleted node: a new
// node may need pods, and a deleted node's unbound pods must go.
func (c *Controller) nodeChanged(obj any) { c.enqueueAll() }

func (c *Controller) updateNode(old, cur any) {
	oldNode, curNode := old.(*corev1.Node), cur.(*corev1.Node)
	// Heartbeats and status changes never change where daemons run.
	if apiequality.Semantic.DeepEqual(oldNode.Labels, curNode.Labels) && apiequality.Semantic.DeepEqual(oldNode.Spec.Taints, curNode.Spec.Taints) {
		return
	}
	c.enqueueAll()
}

// Sync reconciles the DaemonSet named by key (namespace/name).
func (c *Controller) Sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.delete(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("unable to retrieve ds %v from store: %w", key, err)
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("couldn't get list of nodes when syncing daemon set %s: %w", key, err)
	}
	if reflect.DeepEqual(ds.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, SelectingAllReason, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Pods of a deleted set are the garbage collector's.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("failed to construct revisions of DaemonSet: %w", err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	if !c.expectations.satisfied(key) {
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	err = c.updateDaemonSet(ctx, ds, nodes, hash, key, old)
	statusErr := c.updateStatus(ctx, ds, nodes, hash, true)
	if err != nil {
		if statusErr != nil {
			klog.FromContext(ctx).Error(statusErr, "Failed to update status", "daemonSet", klog.KObj(ds))
		}
		return err
	}
	return statusErr
}

func (c *Controller) updateDaemonSet(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash, key string, old []*appsv1.ControllerRevision) error {
	if err := c.manage(ctx, ds, nodes, hash); err != nil {
		return err
	}
	if c.expectations.satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if err := c.rollingUpdate(ctx, ds, nodes, hash); err != nil {
			return err
		}
	}
	if err := c.cleanupHistory(ctx, ds, old); err != nil {
		return fmt.Errorf("failed to clean up revisions of DaemonSet: %w", err)
	}
	return nil
}

// daemonPods returns the pods the set controls, adopting and releasing.
func (c *Controller) daemonPods(ctx context.Context, ds *appsv1.DaemonSet) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, err
	}
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	claimer := &history.PodClaimer{Client: c.client, Owner: ds, Kind: controllerKind, Selector: selector,
		Fresh: func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		}}
	return claimer.Claim(ctx, all)
}

// nodesToDaemonPods maps node names to the set's pods there; terminal pods
// already being deleted are left out unless includeDeletedTerminal.
func (c *Controller) nodesToDaemonPods(ctx context.Context, ds *appsv1.DaemonSet, includeDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	out := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		terminal := pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
		if !includeDeletedTerminal && terminal && pod.DeletionTimestamp != nil {
			continue
		}
		node, err := targetNodeName(pod)
		if err != nil {
			klog.FromContext(ctx).Info("Failed to get target node name of Pod in DaemonSet", "pod", klog.KObj(pod), "daemonset", klog.KObj(ds))
			continue
		}
		out[node] = append(out[node], pod)
	}
	return out, nil
}
