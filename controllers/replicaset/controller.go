// Package replicaset is Kubernetes' ReplicaSet controller, which also
// serves ReplicationControllers: each keeps spec.replicas pods matching its
// selector, adopting orphans and releasing pods whose labels stop matching,
// and reports how many exist, are fully labelled, ready and available.
// A ReplicationController is handled as the ReplicaSet it converts to, as
// upstream does.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// BurstReplicas is how many pods one sync creates or deletes at most,
	// as kube-controller-manager's.
	BurstReplicas = 500
	// DefaultWorkers is kube-controller-manager's --concurrent-replicaset-syncs
	// and --concurrent-rc-syncs.
	DefaultWorkers = 5
	// slowStartInitialBatchSize is the first batch of pod creations; each
	// successful batch doubles the next, so a quota that admits nothing
	// costs one failed create, not hundreds.
	slowStartInitialBatchSize = 1
	// statusUpdateRetries is how often a conflicting status update is
	// retried on a fresh read before the key is requeued.
	statusUpdateRetries = 1
)

// owners is the controller's view of its own kind, as ReplicaSets.
type owners struct {
	gvk      schema.GroupVersionKind
	informer cache.SharedIndexInformer
	// convert returns the informer's object as a ReplicaSet, nil if it is
	// not one of the kind's objects.
	convert func(obj any) *appsv1.ReplicaSet
	// get and list read the cache.
	get  func(namespace, name string) (*appsv1.ReplicaSet, error)
	list func(namespace string) ([]*appsv1.ReplicaSet, error)
	// getLive reads the API.
	getLive      func(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error)
	updateStatus func(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// eventObject is what events are recorded on: the user's own object.
	eventObject func(rs *appsv1.ReplicaSet) runtime.Object
	// terminatingReplicas: whether status.terminatingReplicas is kept;
	// ReplicationControllers have no such field.
	terminatingReplicas bool
	// consistent: whether syncs wait for the informers to have seen the
	// controller's own writes; upstream does so for ReplicaSets only.
	consistent bool
}

// Controller keeps the replicas of one kind of replica controller.
type Controller struct {
	name        string
	owners      owners
	client      kubernetes.Interface
	pods        corelisters.PodLister
	podIndexer  cache.Indexer
	podControl  podControl
	broadcaster record.EventBroadcaster
	expect      *expectations
	consistency *consistency
	burst       int
	queue       workqueue.TypedRateLimitingInterface[string]
	synced      []cache.InformerSynced
	now         func() time.Time
}

func newController(name, queueName string, o owners, pods coreinformers.PodInformer, client kubernetes.Interface) (*Controller, error) {
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		name:        name,
		owners:      o,
		client:      client,
		pods:        pods.Lister(),
		podIndexer:  pods.Informer().GetIndexer(),
		broadcaster: broadcaster,
		podControl:  podControl{client: client, recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: name})},
		expect:      newExpectations(),
		burst:       BurstReplicas,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: queueName}),
		now: time.Now,
	}
	if o.consistent {
		c.consistency = newConsistency(map[string]cache.Store{"pods": pods.Informer().GetStore(), "replicasets.apps": o.informer.GetStore()})
		c.podControl.onWrite = func(pod *corev1.Pod) {
			if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
				c.consistency.wroteAt(pod.Namespace+"/"+ref.Name, ref.UID, "pods", pod.ResourceVersion)
			}
		}
	}
	if err := AddPodControllerIndexer(pods.Informer()); err != nil {
		return nil, err
	}
	rsHandler, err := o.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addOwner,
		UpdateFunc: c.updateOwner,
		DeleteFunc: c.deleteOwner,
	})
	if err != nil {
		return nil, fmt.Errorf("watching %s for the %s: %w", o.gvk.Kind, name, err)
	}
	podHandler, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	if err != nil {
		return nil, fmt.Errorf("watching pods for the %s: %w", name, err)
	}
	c.synced = []cache.InformerSynced{rsHandler.HasSynced, podHandler.HasSynced}
	return c, nil
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	loop := &worker.Loop{Name: c.name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func key(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

func (c *Controller) addOwner(obj any) {
	if rs := c.owners.convert(obj); rs != nil {
		c.queue.Add(key(rs))
	}
}

func (c *Controller) updateOwner(oldObj, newObj any) {
	oldRS, curRS := c.owners.convert(oldObj), c.owners.convert(newObj)
	if oldRS == nil || curRS == nil {
		return
	}
	// A delete and a recreate under the same name seen as one update.
	if oldRS.UID != curRS.UID {
		c.deleteOwner(cache.DeletedFinalStateUnknown{Key: key(oldRS), Obj: oldObj})
	}
	c.queue.Add(key(curRS))
}

func (c *Controller) deleteOwner(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	rs := c.owners.convert(obj)
	if rs == nil {
		return
	}
	// A new object under the same name starts without expectations.
	c.consistency.clear(key(rs), rs.UID)
	c.expect.delete(key(rs))
	c.queue.Add(key(rs))
}

// resolve returns the controller a pod's controller reference names, if it
// is of this kind and still the same object.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != c.owners.gvk.Kind {
		return nil
	}
	rs, err := c.owners.get(namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// matching returns the controllers whose selector matches an orphan pod.
func (c *Controller) matching(pod *corev1.Pod) []*appsv1.ReplicaSet {
	all, err := c.owners.list(pod.Namespace)
	if err != nil {
		return nil
	}
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || selector.Empty() || !selector.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, rs)
	}
	if len(out) > 1 {
		utilruntime.HandleError(fmt.Errorf("user error! more than one %v is selecting pods with labels: %+v", c.owners.gvk.Kind, pod.Labels))
	}
	return out
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// A pod already being deleted when first seen (after a restart) is
		// no creation.
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if rs := c.resolve(pod.Namespace, ref); rs != nil {
			c.expect.creationObserved(key(rs))
			c.queue.Add(key(rs))
		}
		return
	}
	for _, rs := range c.matching(pod) {
		c.queue.Add(key(rs))
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	oldPod, curPod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if oldPod.ResourceVersion == curPod.ResourceVersion {
		return
	}
	labelChanged := !reflect.DeepEqual(curPod.Labels, oldPod.Labels)
	if curPod.DeletionTimestamp != nil {
		// A graceful deletion counts as the deletion: replacements start
		// now, not once the kubelet is done.
		c.deletePod(curPod)
		if labelChanged {
			c.deletePod(oldPod)
		}
		return
	}
	curRef, oldRef := metav1.GetControllerOf(curPod), metav1.GetControllerOf(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolve(oldPod.Namespace, oldRef); rs != nil {
			c.queue.Add(key(rs))
		}
	}
	if curRef != nil {
		rs := c.resolve(curPod.Namespace, curRef)
		if rs == nil {
			return
		}
		c.queue.Add(key(rs))
		// Availability changes with time, not with an event: look again
		// once minReadySeconds have passed.
		if !podutils.IsPodReady(oldPod) && podutils.IsPodReady(curPod) && rs.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(key(rs), time.Duration(rs.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if labelChanged || refChanged {
		for _, rs := range c.matching(curPod) {
			c.queue.Add(key(rs))
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
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return
	}
	rs := c.resolve(pod.Namespace, ref)
	if rs == nil {
		return
	}
	c.expect.deletionObserved(key(rs), podKey(pod))
	c.queue.Add(key(rs))
}

// Sync brings the controller named key to its replica count, unless it still
// waits for its own earlier creates and deletes, and writes its status.
func (c *Controller) Sync(ctx context.Context, k string) error {
	logger := klog.FromContext(ctx)
	namespace, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return err
	}
	if err := c.consistency.ensureReady(k); err != nil {
		return err
	}
	rs, err := c.owners.get(namespace, name)
	if apierrors.IsNotFound(err) {
		c.consistency.clear(k, "")
		c.expect.delete(k)
		return nil
	}
	if err != nil {
		return err
	}
	needsSync := c.expect.satisfied(k)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("error converting pod selector to selector for rs %v/%v: %w", namespace, name, err))
		return nil
	}
	all, err := PodsByOwner(c.podIndexer, &rs.ObjectMeta, c.owners.gvk.Kind, true)
	if err != nil {
		return err
	}
	var active, terminating []*corev1.Pod
	for _, p := range all {
		if isPodActive(p) {
			active = append(active, p)
		}
	}
	cl := &claimer{pods: c.podControl, owner: rs, kind: c.owners.gvk, selector: selector, canAdopt: func(ctx context.Context) error {
		fresh, err := c.owners.getLive(ctx, rs.Namespace, rs.Name)
		if err != nil {
			return fmt.Errorf("can't recheck DeletionTimestamp: %w", err)
		}
		if fresh.UID != rs.UID {
			return fmt.Errorf("original %v %v/%v is gone: got uid %v, wanted %v", c.owners.gvk.Kind, rs.Namespace, rs.Name, fresh.UID, rs.UID)
		}
		if fresh.DeletionTimestamp != nil {
			return fmt.Errorf("%v/%v has just been deleted at %v", fresh.Namespace, fresh.Name, fresh.DeletionTimestamp)
		}
		return nil
	}}
	active, err = cl.claim(ctx, active)
	if err != nil {
		return err
	}
	if c.owners.terminatingReplicas {
		for _, p := range all {
			if isPodTerminating(p) && metav1.IsControlledBy(p, rs) && selector.Matches(labels.Set(p.Labels)) {
				terminating = append(terminating, p)
			}
		}
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, active, rs)
	}
	rs = rs.DeepCopy()
	now := c.now()
	status := calculateStatus(rs, active, terminating, manageErr, c.owners.terminatingReplicas, now)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	c.consistency.wroteAt(k, rs.UID, "replicasets.apps", updated.ResourceVersion)
	if manageErr != nil {
		return manageErr
	}
	// Pods become available with time alone: sync again when the next
	// one does, as a last resort should no pod event come.
	if updated.Spec.MinReadySeconds > 0 && updated.Status.ReadyReplicas != updated.Status.AvailableReplicas {
		next := time.Duration(updated.Spec.MinReadySeconds) * time.Second
		if d, ok := nextAvailabilityCheck(active, updated.Spec.MinReadySeconds, c.now()); ok {
			next = d
		}
		logger.V(4).Info("Checking availability again later", "replicaSet", klog.KObj(rs), "after", next)
		c.queue.AddAfter(k, next)
	}
	return nil
}

// nextAvailabilityCheck is the time until the first ready pod that is not
// yet available becomes available.
func nextAvailabilityCheck(pods []*corev1.Pod, minReadySeconds int32, now time.Time) (time.Duration, bool) {
	var next time.Duration
	found := false
	for _, p := range pods {
		if !podutils.IsPodReady(p) {
			continue
		}
		t := podReadyTime(p)
		if t.IsZero() {
			continue
		}
		d := t.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
		if d > 0 && (!found || d < next) {
			next, found = d, true
		}
	}
	if !found {
		return 0, false
	}
	return next, true
}

// manageReplicas creates or deletes pods to reach spec.replicas, at most
// burst at a time.
func (c *Controller) manageReplicas(ctx context.Context, active []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	logger := klog.FromContext(ctx)
	k := key(rs)
	diff := len(active) - int(*rs.Spec.Replicas)
	owner := c.owners.eventObject(rs)
	switch {
	case diff < 0:
		diff = min(-diff, c.burst)
		// Expect the creations before making them: their watch events may
		// arrive before the calls return.
		c.expect.expectCreations(k, diff)
		logger.V(2).Info("Too few replicas", "replicaSet", klog.KObj(rs), "need", *rs.Spec.Replicas, "creating", diff)
		ref := metav1.NewControllerRef(rs, c.owners.gvk)
		created, err := slowStartBatch(diff, slowStartInitialBatchSize, func() error {
			err := c.podControl.createPod(ctx, rs.Namespace, &rs.Spec.Template, owner, rs.Name, ref)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			return err
		})
		// Creations never attempted will never be observed.
		for range diff - created {
			c.expect.creationObserved(k)
		}
		return err
	case diff > 0:
		diff = min(diff, c.burst)
		logger.V(2).Info("Too many replicas", "replicaSet", klog.KObj(rs), "need", *rs.Spec.Replicas, "deleting", diff)
		related, err := c.relatedPods(rs)
		if err != nil {
			utilruntime.HandleError(err)
		}
		victims := podsToDelete(active, related, diff, metav1.NewTime(c.now()))
		keys := make([]string, 0, len(victims))
		for _, p := range victims {
			keys = append(keys, podKey(p))
		}
		c.expect.expectDeletions(k, keys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Go(func() {
				if err := c.podControl.deletePod(ctx, rs.Namespace, p.Name, owner); err != nil {
					c.expect.deletionObserved(k, podKey(p))
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// slowStartBatch calls fn count times in batches that start at
// initialBatchSize and double after each batch without failure; it stops
// after the first batch with one, and returns how many calls succeeded.
func slowStartBatch(count, initialBatchSize int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initialBatchSize); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errs)
		if len(errs) > 0 {
			return successes, <-errs
		}
		remaining -= batch
	}
	return successes, nil
}

// relatedPods are the pods of every ReplicaSet with the same controller as
// rs (the ReplicaSets of one Deployment), for ranking pods by how crowded
// their node is.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	ref := metav1.GetControllerOf(rs)
	if ref == nil {
		return nil, nil
	}
	all, err := c.owners.list(rs.Namespace)
	if err != nil {
		return nil, err
	}
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	for _, other := range all {
		if r := metav1.GetControllerOf(other); r == nil || r.UID != ref.UID {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(other.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.pods.Pods(other.Namespace).List(selector)
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// podsToDelete picks the diff pods of active to delete first.
func podsToDelete(active, related []*corev1.Pod, diff int, now metav1.Time) []*corev1.Pod {
	if diff < len(active) {
		onNode := map[string]int{}
		for _, p := range related {
			if isPodActive(p) {
				onNode[p.Spec.NodeName]++
			}
		}
		ranks := make([]int, len(active))
		for i, p := range active {
			ranks[i] = onNode[p.Spec.NodeName]
		}
		sort.Sort(rankedPods{pods: active, rank: ranks, now: now})
	}
	return active[:diff]
}

func calculateStatus(rs *appsv1.ReplicaSet, active, terminating []*corev1.Pod, manageErr error, withTerminating bool, now time.Time) appsv1.ReplicaSetStatus {
	status := rs.Status
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fullyLabeled, ready, available int32
	for _, p := range active {
		if templateLabels.Matches(labels.Set(p.Labels)) {
			fullyLabeled++
		}
		if podutils.IsPodReady(p) {
			ready++
			if podutils.IsPodAvailable(p, rs.Spec.MinReadySeconds, metav1.NewTime(now)) {
				available++
			}
		}
	}
	failure := getCondition(rs.Status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(active) - int(*rs.Spec.Replicas); diff < 0 {
			reason = FailedCreatePodReason
		} else if diff > 0 {
			reason = FailedDeletePodReason
		}
		status.Conditions = append(filterOutCondition(status.Conditions, appsv1.ReplicaSetReplicaFailure), appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now),
			Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		status.Conditions = filterOutCondition(status.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	status.Replicas = int32(len(active))
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = nil
	if withTerminating {
		status.TerminatingReplicas = ptrTo(int32(len(terminating)))
	}
	return status
}

func getCondition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

func filterOutCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

func int32PtrEqual(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// updateStatus writes status unless it and the observed generation are
// already current, retrying a failure once on a fresh read.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if rs.Status.Replicas == status.Replicas &&
		rs.Status.FullyLabeledReplicas == status.FullyLabeledReplicas &&
		rs.Status.ReadyReplicas == status.ReadyReplicas &&
		rs.Status.AvailableReplicas == status.AvailableReplicas &&
		int32PtrEqual(rs.Status.TerminatingReplicas, status.TerminatingReplicas) &&
		rs.Generation == rs.Status.ObservedGeneration &&
		reflect.DeepEqual(rs.Status.Conditions, status.Conditions) {
		return rs, nil
	}
	// The generation acted on, not whatever a retry reads.
	status.ObservedGeneration = rs.Generation
	var updateErr error
	for i := 0; ; i++ {
		klog.FromContext(ctx).V(4).Info("Updating status", "kind", c.owners.gvk.Kind, "replicaSet", klog.KObj(rs),
			"replicas", status.Replicas, "fullyLabeledReplicas", status.FullyLabeledReplicas, "readyReplicas", status.ReadyReplicas,
			"availableReplicas", status.AvailableReplicas, "observedGeneration", status.ObservedGeneration)
		rs.Status = status
		var updated *appsv1.ReplicaSet
		updated, updateErr = c.owners.updateStatus(ctx, rs)
		if updateErr == nil {
			return updated, nil
		}
		if i >= statusUpdateRetries {
			break
		}
		fresh, err := c.owners.getLive(ctx, rs.Namespace, rs.Name)
		if err != nil {
			return nil, err
		}
		rs = fresh
	}
	return nil, fmt.Errorf("updating status of %s %s: %w", c.owners.gvk.Kind, key(rs), updateErr)
}

// podControllerIndex indexes pods by their controller reference, or by
// namespace alone for orphans.
const podControllerIndex = "skiff.podControllerRef"

func podControllerIndexKey(namespace string, ref *metav1.OwnerReference) string {
	if ref == nil {
		return namespace
	}
	return namespace + "/" + ref.Kind + "/" + ref.Name + "/" + string(ref.UID)
}

// AddPodControllerIndexer adds the index PodsByOwner reads to a pod
// informer that does not have it yet. It must be called before the
// informer starts.
func AddPodControllerIndexer(inf cache.SharedIndexInformer) error {
	if _, ok := inf.GetIndexer().GetIndexers()[podControllerIndex]; ok {
		return nil
	}
	err := inf.AddIndexers(cache.Indexers{podControllerIndex: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, nil
		}
		return []string{podControllerIndexKey(pod.Namespace, metav1.GetControllerOf(pod))}, nil
	}})
	if err != nil {
		return fmt.Errorf("adding the pod controller index: %w", err)
	}
	return nil
}

// PodsByOwner returns the cached pods whose controller is owner, a kind
// object, and with orphans the namespace's pods without a controller.
func PodsByOwner(indexer cache.Indexer, owner *metav1.ObjectMeta, kind string, orphans bool) ([]*corev1.Pod, error) {
	if owner.Namespace == "" || owner.Name == "" || owner.UID == "" || kind == "" {
		return nil, errors.New("owner namespace, name, uid and kind are required")
	}
	keys := []string{podControllerIndexKey(owner.Namespace, &metav1.OwnerReference{Kind: kind, Name: owner.Name, UID: owner.UID})}
	if orphans {
		keys = append(keys, podControllerIndexKey(owner.Namespace, nil))
	}
	var out []*corev1.Pod
	for _, k := range keys {
		objs, err := indexer.ByIndex(podControllerIndex, k)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			if pod, ok := obj.(*corev1.Pod); ok {
				out = append(out, pod)
			}
		}
	}
	return out, nil
}
