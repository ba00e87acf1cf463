// Package statefulset is Kubernetes' StatefulSet controller: pods with
// stable names <set>-<ordinal> and per-ordinal PersistentVolumeClaims,
// created in order (or in parallel), scaled down in reverse order and
// rolled to new ControllerRevisions ordinal by ordinal from the highest.
package statefulset

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/history"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "statefulset-controller"
	// DefaultWorkers is kube-controller-manager's --concurrent-statefulset-syncs.
	DefaultWorkers = 5
)

// Controller reconciles StatefulSets.
type Controller struct {
	client      kubernetes.Interface
	sets        appslisters.StatefulSetLister
	pods        corelisters.PodLister
	claims      corelisters.PersistentVolumeClaimLister
	history     *history.History
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	queue       workqueue.TypedRateLimitingInterface[string]
	synced      []cache.InformerSynced
	now         func() time.Time
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, pods coreinformers.PodInformer, sets appsinformers.StatefulSetInformer,
	claims coreinformers.PersistentVolumeClaimInformer, revisions appsinformers.ControllerRevisionInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("statefulset controller client: %w", err)
	}
	return New(client, pods, sets, claims, revisions), nil
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, pods coreinformers.PodInformer, sets appsinformers.StatefulSetInformer,
	claims coreinformers.PersistentVolumeClaimInformer, revisions appsinformers.ControllerRevisionInformer) *Controller {
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:      client,
		sets:        sets.Lister(),
		pods:        pods.Lister(),
		claims:      claims.Lister(),
		history:     &history.History{Client: client, Lister: revisions.Lister()},
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset"}),
		now: time.Now,
	}
	podReg, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching pods for the statefulset controller: %w", err))
	}
	setReg, err := sets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching statefulsets for the statefulset controller: %w", err))
	}
	c.synced = []cache.InformerSynced{claims.Informer().HasSynced, revisions.Informer().HasSynced}
	for _, r := range []cache.ResourceEventHandlerRegistration{podReg, setReg} {
		if r != nil {
			c.synced = append(c.synced, r.HasSynced)
		}
	}
	return c
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
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

func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	set, err := c.sets.StatefulSets(namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

func (c *Controller) enqueueSetsSelecting(pod *corev1.Pod) {
	sets, err := c.sets.GetPodStatefulSets(pod)
	if err != nil {
		return
	}
	for _, s := range sets {
		c.enqueue(s)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if set := c.resolveControllerRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	c.enqueueSetsSelecting(pod)
}

func (c *Controller) updatePod(old, cur any) {
	oldPod, curPod := old.(*corev1.Pod), cur.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	labelChanged := !reflect.DeepEqual(oldPod.Labels, curPod.Labels)
	oldRef, curRef := metav1.GetControllerOf(oldPod), metav1.GetControllerOf(curPod)
	refChanged := !reflect.DeepEqual(oldRef, curRef)
	if refChanged && oldRef != nil {
		if set := c.resolveControllerRef(oldPod.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.resolveControllerRef(curPod.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		// Availability comes minReadySeconds after readiness, with no event.
		if !history.IsPodReady(oldPod) && history.IsPodReady(curPod) && set.Spec.MinReadySeconds > 0 {
			if key, err := cache.MetaNamespaceKeyFunc(set); err == nil {
				c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
			}
		}
		return
	}
	if labelChanged || refChanged {
		c.enqueueSetsSelecting(curPod)
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
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if set := c.resolveControllerRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
	}
}

// Sync reconciles the StatefulSet named by key (namespace/name).
func (c *Controller) Sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	set, err := c.sets.StatefulSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Info("StatefulSet has been deleted", "key", key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading statefulset %s from the cache: %w", key, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Error converting StatefulSet selector", "key", key)
		return nil
	}
	if err := c.adoptOrphanRevisions(ctx, set, selector); err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, set, selector)
	if err != nil {
		return err
	}
	now := c.now()
	status, err := c.updateStatefulSet(ctx, set, pods, now)
	if err != nil {
		return err
	}
	if set.Spec.MinReadySeconds > 0 && status != nil && status.ReadyReplicas != status.AvailableReplicas {
		c.queue.AddAfter(key, nextAvailabilityCheck(pods, set.Spec.MinReadySeconds, now))
	}
	return nil
}

// nextAvailabilityCheck is when the soonest ready pod becomes available.
func nextAvailabilityCheck(pods []*corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	next := time.Duration(minReadySeconds) * time.Second
	for _, p := range pods {
		c := history.PodReadyCondition(p)
		if c == nil || c.Status != corev1.ConditionTrue || history.IsPodAvailable(p, minReadySeconds, now) || c.LastTransitionTime.IsZero() {
			continue
		}
		if d := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now); d >= 0 && d < next {
			next = d + time.Second/10
		}
	}
	return next
}

func (c *Controller) fresh(set *appsv1.StatefulSet) func(ctx context.Context) (metav1.Object, error) {
	return func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	}
}

func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.pods.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	claimer := &history.PodClaimer{
		Client: c.client, Owner: set, Kind: controllerKind, Selector: selector,
		Filter: func(p *corev1.Pod) bool { return isMemberOf(set, p) },
		Fresh:  c.fresh(set),
	}
	return claimer.Claim(ctx, all)
}

func (c *Controller) adoptOrphanRevisions(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) error {
	revisions, err := c.history.List(set, selector)
	if err != nil {
		return err
	}
	var orphans []*appsv1.ControllerRevision
	for _, r := range revisions {
		if metav1.GetControllerOfNoCopy(r) == nil {
			orphans = append(orphans, r)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	fresh, err := c.fresh(set)(ctx)
	if err != nil {
		return fmt.Errorf("can't adopt ControllerRevisions: %w", err)
	}
	if fresh.GetUID() != set.UID || fresh.GetDeletionTimestamp() != nil {
		return fmt.Errorf("can't adopt ControllerRevisions: statefulset %s/%s is gone or being deleted", set.Namespace, set.Name)
	}
	for _, r := range orphans {
		if _, err := c.history.Adopt(ctx, set, controllerKind, r); err != nil {
			return err
		}
	}
	return nil
}

// updateStatus writes status when it differs from the set's.
func (c *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) error {
	completeUpdate(set, status)
	if !inconsistentStatus(set, status) {
		return nil
	}
	set = set.DeepCopy()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		set.Status = *status
		_, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if updated, getErr := c.sets.StatefulSets(set.Namespace).Get(set.Name); getErr == nil {
			set = updated.DeepCopy()
		}
		return err
	})
}

func inconsistentStatus(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) bool {
	return status.ObservedGeneration > set.Status.ObservedGeneration ||
		status.Replicas != set.Status.Replicas ||
		status.CurrentReplicas != set.Status.CurrentReplicas ||
		status.ReadyReplicas != set.Status.ReadyReplicas ||
		status.UpdatedReplicas != set.Status.UpdatedReplicas ||
		status.CurrentRevision != set.Status.CurrentRevision ||
		status.AvailableReplicas != set.Status.AvailableReplicas ||
		status.UpdateRevision != set.Status.UpdateRevision ||
		!reflect.DeepEqual(set.Status.Conditions, status.Conditions)
}

// completeUpdate makes the update revision current once every replica runs
// it and is ready.
func completeUpdate(set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) {
	if status.UpdatedReplicas == *set.Spec.Replicas && status.ReadyReplicas == *set.Spec.Replicas && status.Replicas == *set.Spec.Replicas {
		status.CurrentReplicas = status.UpdatedReplicas
		status.CurrentRevision = status.UpdateRevision
	}
}
