package statefulset

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/history"
)

// maxBatchSize caps a parallel batch of pod operations.
const maxBatchSize = 500

// updateStatefulSet is upstream's defaultStatefulSetControl.UpdateStatefulSet:
// it brings the pods towards the spec, writes the status and prunes history.
func (c *Controller) updateStatefulSet(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, now time.Time) (*appsv1.StatefulSetStatus, error) {
	set = set.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, err
	}
	revisions, err := c.history.List(set, selector)
	if err != nil {
		return nil, err
	}
	history.SortControllerRevisions(revisions)

	current, update, status, err := c.performUpdate(ctx, set, pods, revisions, now)
	truncErr := c.truncateHistory(ctx, set, pods, revisions, current, update)
	if err != nil {
		return nil, utilerrors.NewAggregate([]error{err, truncErr})
	}
	return status, truncErr
}

func (c *Controller) performUpdate(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revisions []*appsv1.ControllerRevision,
	now time.Time) (current, update *appsv1.ControllerRevision, status *appsv1.StatefulSetStatus, err error) {
	current, update, collisionCount, err := c.getRevisions(ctx, set, revisions)
	if err != nil {
		return current, update, nil, err
	}
	status, err = c.syncReplicas(ctx, set, current, update, collisionCount, pods, now)
	if err != nil && status == nil {
		return current, update, nil, err
	}
	statusErr := c.updateStatus(ctx, set, status)
	if statusErr == nil {
		klog.FromContext(ctx).V(4).Info("Updated status", "statefulSet", klog.KObj(set), "replicas", status.Replicas,
			"readyReplicas", status.ReadyReplicas, "currentReplicas", status.CurrentReplicas, "updatedReplicas", status.UpdatedReplicas)
	}
	if err != nil {
		return current, update, status, err
	}
	return current, update, status, statusErr
}

// getRevisions returns the current and update revisions, creating the
// update revision, or renumbering an equal older one (a rollback), when the
// template changed.
func (c *Controller) getRevisions(ctx context.Context, set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisionCount int32, err error) {
	if set.Status.CollisionCount != nil {
		collisionCount = *set.Status.CollisionCount
	}
	update, err = newRevision(set, nextRevision(revisions), &collisionCount)
	if err != nil {
		return nil, nil, collisionCount, err
	}
	equal := history.FindEqualRevisions(revisions, update)
	switch n := len(equal); {
	case n > 0 && history.EqualRevision(revisions[len(revisions)-1], equal[n-1]):
		update = revisions[len(revisions)-1]
	case n > 0:
		update, err = c.history.UpdateRevision(ctx, equal[n-1], update.Revision)
	case len(revisions) > 0 && c.setMatchesRevision(set, update, revisions[len(revisions)-1]):
		update = revisions[len(revisions)-1]
	default:
		update, err = c.history.Create(ctx, set, update, &collisionCount)
	}
	if err != nil {
		return nil, nil, collisionCount, err
	}
	for _, r := range revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
			break
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisionCount, nil
}

// setMatchesRevision is upstream's semantic comparison: a revision written
// by an older server may differ in bytes, not in the template it restores.
func (c *Controller) setMatchesRevision(set *appsv1.StatefulSet, proposed, latest *appsv1.ControllerRevision) bool {
	latestSet, err := applyRevision(set, latest)
	if err != nil {
		return false
	}
	reconstructed, err := newRevision(latestSet, -1, nil)
	if err != nil {
		return false
	}
	return history.EqualRevision(proposed, reconstructed)
}

func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revisions []*appsv1.ControllerRevision,
	current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{}
	if current != nil {
		live[current.Name] = true
	}
	if update != nil {
		live[update.Name] = true
	}
	for _, p := range pods {
		live[podRevision(p)] = true
	}
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	limit := int(*set.Spec.RevisionHistoryLimit)
	if limit < 0 || len(old) <= limit {
		return nil
	}
	for _, r := range old[:len(old)-limit] {
		if err := c.history.Delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func computeStatus(status *appsv1.StatefulSetStatus, minReadySeconds int32, current, update *appsv1.ControllerRevision, now time.Time, lists ...[]*corev1.Pod) {
	status.Replicas, status.ReadyReplicas, status.AvailableReplicas, status.CurrentReplicas, status.UpdatedReplicas = 0, 0, 0, 0, 0
	for _, list := range lists {
		for _, pod := range list {
			if isCreated(pod) {
				status.Replicas++
			}
			if isRunningAndReady(pod) {
				status.ReadyReplicas++
				if isRunningAndAvailable(pod, minReadySeconds, now) {
					status.AvailableReplicas++
				}
			}
			if isCreated(pod) && !isTerminating(pod) {
				switch rev := podRevision(pod); {
				case rev == current.Name && rev == update.Name:
					status.CurrentReplicas++
					status.UpdatedReplicas++
				case rev == current.Name:
					status.CurrentReplicas++
				case rev == update.Name:
					status.UpdatedReplicas++
				}
			}
		}
	}
}

// syncReplicas is upstream's updateStatefulSet: create, fix, and delete pods
// so the set converges, ordered unless the policy is Parallel.
func (c *Controller) syncReplicas(ctx context.Context, set *appsv1.StatefulSet, currentRevision, updateRevision *appsv1.ControllerRevision,
	collisionCount int32, pods []*corev1.Pod, now time.Time) (*appsv1.StatefulSetStatus, error) {
	logger := klog.FromContext(ctx)
	currentSet, err := applyRevision(set, currentRevision)
	if err != nil {
		return nil, err
	}
	updateSet, err := applyRevision(set, updateRevision)
	if err != nil {
		return nil, err
	}
	if set.Spec.UpdateStrategy.Type == appsv1.RecreateStatefulSetStrategyType {
		// The StatefulSetRecreateStrategy gate is alpha and off in 1.37.
		err := fmt.Errorf("statefulset %s/%s uses Recreate strategy but feature gate %s is disabled", set.Namespace, set.Name, "StatefulSetRecreateStrategy")
		c.recorder.Event(set, corev1.EventTypeWarning, "UnknownStrategy", err.Error())
		return nil, err
	}

	status := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    currentRevision.Name,
		UpdateRevision:     updateRevision.Name,
		CollisionCount:     &collisionCount,
		Conditions:         append([]appsv1.StatefulSetCondition(nil), set.Status.Conditions...),
	}
	computeStatus(&status, set.Spec.MinReadySeconds, currentRevision, updateRevision, now, pods)

	replicas := make([]*corev1.Pod, int(*set.Spec.Replicas))
	var condemned []*corev1.Pod
	for _, pod := range pods {
		if podInOrdinalRange(pod, set) {
			replicas[getOrdinal(pod)-startOrdinal(set)] = pod
		} else if getOrdinal(pod) >= 0 {
			condemned = append(condemned, pod)
		}
	}
	start, end := startOrdinal(set), endOrdinal(set)
	for ord := start; ord <= end; ord++ {
		if replicas[ord-start] == nil {
			replicas[ord-start] = newVersionedStatefulSetPod(currentSet, updateSet, currentRevision.Name, updateRevision.Name, ord)
		}
	}
	sort.SliceStable(condemned, func(i, j int) bool { return getOrdinal(condemned[i]) > getOrdinal(condemned[j]) })

	var firstUnavailable *corev1.Pod
	for _, p := range replicas {
		if firstUnavailable == nil && isUnavailable(p, set.Spec.MinReadySeconds, now) {
			firstUnavailable = p
		}
	}
	for i := len(condemned) - 1; i >= 0; i-- {
		if firstUnavailable == nil && isUnavailable(condemned[i], set.Spec.MinReadySeconds, now) {
			firstUnavailable = condemned[i]
		}
	}
	if set.DeletionTimestamp != nil {
		return &status, nil
	}
	monotonic := !allowsBurst(set)
	done := func(err error) (*appsv1.StatefulSetStatus, error) {
		computeStatus(&status, set.Spec.MinReadySeconds, currentRevision, updateRevision, now, replicas, condemned)
		return &status, err
	}

	if exit, err := runForAll(replicas, func(i int) (bool, error) {
		return c.processReplica(ctx, set, updateSet, monotonic, replicas, i, now)
	}, monotonic); exit || err != nil {
		return done(err)
	}
	if exit, err := runForAll(condemned, func(i int) (bool, error) {
		if c.claimsMatchRetentionPolicy(ctx, updateSet, condemned[i]) {
			return false, nil
		}
		if err := c.updateClaimsForRetentionPolicy(ctx, updateSet, condemned[i]); err != nil {
			return true, err
		}
		return false, nil
	}, monotonic); exit || err != nil {
		return done(err)
	}
	if exit, err := runForAll(condemned, func(i int) (bool, error) {
		return c.processCondemned(ctx, set, firstUnavailable, monotonic, condemned, i, now)
	}, monotonic); exit || err != nil {
		return done(err)
	}
	computeStatus(&status, set.Spec.MinReadySeconds, currentRevision, updateRevision, now, replicas, condemned)

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return &status, nil
	}
	logger.V(4).Info("StatefulSet rolling update", "statefulSet", klog.KObj(set), "updateRevision", updateRevision.Name)
	return c.rollingUpdate(ctx, set, replicas, updateRevision, status, now)
}

// rollingUpdate deletes pods of old revisions from the highest ordinal down
// to the partition, at most maxUnavailable unavailable at a time (the
// MaxUnavailableStatefulSet gate is on by default in 1.37).
func (c *Controller) rollingUpdate(ctx context.Context, set *appsv1.StatefulSet, replicas []*corev1.Pod, updateRevision *appsv1.ControllerRevision,
	status appsv1.StatefulSetStatus, now time.Time) (*appsv1.StatefulSetStatus, error) {
	logger := klog.FromContext(ctx)
	updateMin := 0
	if set.Spec.UpdateStrategy.RollingUpdate != nil && set.Spec.UpdateStrategy.RollingUpdate.Partition != nil {
		updateMin = int(*set.Spec.UpdateStrategy.RollingUpdate.Partition)
	}
	maxUnavail, err := maxUnavailable(set)
	if err != nil {
		return &status, err
	}
	parallel := set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
	unavailable, unavailableNeedingUpdate := 0, 0
	for _, pod := range replicas {
		if isUnavailable(pod, set.Spec.MinReadySeconds, now) {
			unavailable++
			if parallel && podRevision(pod) != updateRevision.Name && !isTerminating(pod) {
				unavailableNeedingUpdate++
			}
		}
	}
	if unavailable >= maxUnavail && unavailableNeedingUpdate == 0 {
		return &status, nil
	}
	deletePod := func(pod *corev1.Pod) error {
		logger.V(2).Info("StatefulSet terminating Pod for update", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
		if err := c.deleteStatefulPod(ctx, set, pod); err != nil {
			return err
		}
		status.CurrentReplicas--
		return nil
	}
	if parallel {
		// Unavailable old pods cost nothing to replace.
		for target := len(replicas) - 1; target >= updateMin; target-- {
			pod := replicas[target]
			if podRevision(pod) != updateRevision.Name && !isRunningAndAvailable(pod, set.Spec.MinReadySeconds, now) && !isTerminating(pod) {
				if err := deletePod(pod); err != nil {
					return &status, err
				}
			}
		}
		budget := maxUnavail - unavailable
		for target := len(replicas) - 1; target >= updateMin && budget > 0; target-- {
			pod := replicas[target]
			if podRevision(pod) != updateRevision.Name && !isUnavailable(pod, set.Spec.MinReadySeconds, now) {
				if err := deletePod(pod); err != nil {
					return &status, err
				}
				budget--
			}
		}
		return &status, nil
	}
	toDelete, deleted := maxUnavail-unavailable, 0
	for target := len(replicas) - 1; target >= updateMin && deleted < toDelete; target-- {
		if podRevision(replicas[target]) != updateRevision.Name && !isTerminating(replicas[target]) {
			if err := deletePod(replicas[target]); err != nil {
				return &status, err
			}
			deleted++
		}
	}
	return &status, nil
}

// runForAll runs fn over pods: in order, stopping at the first that asks to
// stop, or in slow-start batches when not monotonic.
func runForAll(pods []*corev1.Pod, fn func(i int) (bool, error), monotonic bool) (bool, error) {
	if monotonic {
		for i := range pods {
			if exit, err := fn(i); exit || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	if _, err := slowStartBatch(1, len(pods), fn); err != nil {
		return true, err
	}
	return false, nil
}

func slowStartBatch(initial, remaining int, fn func(int) (bool, error)) (int, error) {
	successes, j := 0, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining, maxBatchSize) {
		errCh := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			k := j
			j++
			wg.Go(func() {
				if _, err := fn(k); err != nil {
					errCh <- err
				}
			})
		}
		wg.Wait()
		successes += batch - len(errCh)
		close(errCh)
		var errs []error
		for err := range errCh {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			return successes, utilerrors.NewAggregate(errs)
		}
		remaining -= batch
	}
	return successes, nil
}

func (c *Controller) processReplica(ctx context.Context, set, updateSet *appsv1.StatefulSet, monotonic bool, replicas []*corev1.Pod, i int, now time.Time) (bool, error) {
	logger := klog.FromContext(ctx)
	pod := replicas[i]
	// A pod that ran to completion is replaced under the same name.
	if isTerminalPhase(pod) {
		if pod.DeletionTimestamp == nil {
			if err := c.deleteStatefulPod(ctx, set, pod); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	if !isCreated(pod) {
		stale, err := c.podClaimIsStale(set, pod)
		if err != nil || stale {
			return true, err
		}
		if err := c.createStatefulPod(ctx, set, pod); err != nil {
			return true, err
		}
		if monotonic {
			return true, nil
		}
	}
	if isPending(pod) {
		logger.V(4).Info("StatefulSet is triggering PVC creation for pending Pod", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
		if err := c.createClaims(ctx, set, pod); err != nil {
			return true, err
		}
		if err := c.updateClaimsForRetentionPolicy(ctx, set, pod); err != nil {
			c.recordPodEvent("update", set, pod, err)
			return true, err
		}
	}
	if isTerminating(pod) && monotonic {
		logger.V(4).Info("StatefulSet is waiting for Pod to Terminate", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
		return true, nil
	}
	if !isRunningAndReady(pod) && monotonic {
		logger.V(4).Info("StatefulSet is waiting for Pod to be Running and Ready", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
		return true, nil
	}
	if !isRunningAndAvailable(pod, set.Spec.MinReadySeconds, now) && monotonic {
		logger.V(4).Info("StatefulSet is waiting for Pod to be Available", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
		return true, nil
	}
	if identityMatches(set, pod) && storageMatches(set, pod) && c.claimsMatchRetentionPolicy(ctx, updateSet, pod) {
		return false, nil
	}
	return false, c.updateStatefulPod(ctx, updateSet, pod.DeepCopy())
}

func (c *Controller) processCondemned(ctx context.Context, set *appsv1.StatefulSet, firstUnavailable *corev1.Pod, monotonic bool, condemned []*corev1.Pod, i int, now time.Time) (bool, error) {
	logger := klog.FromContext(ctx)
	pod := condemned[i]
	if isTerminating(pod) {
		if monotonic {
			logger.V(4).Info("StatefulSet is waiting for Pod to Terminate prior to scale down", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
			return true, nil
		}
		return false, nil
	}
	if monotonic && pod != firstUnavailable && (!isRunningAndReady(pod) || !isRunningAndAvailable(pod, set.Spec.MinReadySeconds, now)) {
		logger.V(4).Info("StatefulSet is waiting for Pod to be Running, Ready and Available prior to scale down", "statefulSet", klog.KObj(set), "pod", klog.KObj(firstUnavailable))
		return true, nil
	}
	logger.V(2).Info("Pod of StatefulSet is terminating for scale down", "statefulSet", klog.KObj(set), "pod", klog.KObj(pod))
	return true, c.deleteStatefulPod(ctx, set, pod)
}

// Pod and claim writes, each recorded as an event on the set.

func (c *Controller) createStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if err := c.createClaims(ctx, set, pod); err != nil {
		c.recordPodEvent("create", set, pod, err)
		return err
	}
	_, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return err
	}
	if err == nil {
		if err := c.updateClaimsForRetentionPolicy(ctx, set, pod); err != nil {
			c.recordPodEvent("update", set, pod, err)
			return err
		}
	}
	c.recordPodEvent("create", set, pod, err)
	return err
}

func (c *Controller) updateStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	attempted := false
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		consistent := true
		if !identityMatches(set, pod) {
			updateIdentity(set, pod)
			consistent = false
		}
		if !storageMatches(set, pod) {
			updateStorage(set, pod)
			consistent = false
			if err := c.createClaims(ctx, set, pod); err != nil {
				c.recordPodEvent("update", set, pod, err)
				return err
			}
		}
		if !c.claimsMatchRetentionPolicy(ctx, set, pod) {
			if err := c.updateClaimsForRetentionPolicy(ctx, set, pod); err != nil {
				c.recordPodEvent("update", set, pod, err)
				return err
			}
			consistent = false
		}
		if consistent {
			return nil
		}
		attempted = true
		_, err := c.client.CoreV1().Pods(pod.Namespace).Update(ctx, pod, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if updated, getErr := c.pods.Pods(set.Namespace).Get(pod.Name); getErr == nil {
			pod = updated.DeepCopy()
		}
		return err
	})
	if attempted {
		c.recordPodEvent("update", set, pod, err)
	}
	return err
}

func (c *Controller) deleteStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.recordPodEvent("delete", set, pod, err)
		return err
	}
	c.recordPodEvent("delete", set, pod, nil)
	return nil
}

// createClaims creates the pod's missing PVCs; a claim being deleted
// blocks the pod until it is gone.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	var errs []error
	for _, claim := range podClaims(set, pod) {
		existing, err := c.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			_, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Create(ctx, &claim, metav1.CreateOptions{})
			if err != nil {
				errs = append(errs, fmt.Errorf("failed to create PVC %s: %w", claim.Name, err))
			}
			if err == nil || !apierrors.IsAlreadyExists(err) {
				c.recordClaimEvent("create", set, pod, &claim, err)
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("failed to retrieve PVC %s: %w", claim.Name, err))
			c.recordClaimEvent("create", set, pod, &claim, err)
		case existing.DeletionTimestamp != nil:
			errs = append(errs, fmt.Errorf("pvc %s is being deleted", claim.Name))
		}
	}
	return utilerrors.NewAggregate(errs)
}

func (c *Controller) claimsMatchRetentionPolicy(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	ordinal := getOrdinal(pod)
	for i := range set.Spec.VolumeClaimTemplates {
		name := claimName(set, &set.Spec.VolumeClaimTemplates[i], ordinal)
		claim, err := c.claims.PersistentVolumeClaims(set.Namespace).Get(name)
		if err != nil {
			// Missing claims are picked up on a later pass.
			continue
		}
		if !isClaimOwnerUpToDate(claim, set, pod) {
			return false
		}
	}
	return true
}

func (c *Controller) updateClaimsForRetentionPolicy(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	ordinal := getOrdinal(pod)
	for i := range set.Spec.VolumeClaimTemplates {
		name := claimName(set, &set.Spec.VolumeClaimTemplates[i], ordinal)
		claim, err := c.claims.PersistentVolumeClaims(set.Namespace).Get(name)
		switch {
		case apierrors.IsNotFound(err):
			klog.FromContext(ctx).V(4).Info("Expected claim missing, continuing to pick up in next iteration", "PVC", klog.KRef(set.Namespace, name))
			continue
		case err != nil:
			return fmt.Errorf("Could not retrieve claim %s not found for %s when checking PVC deletion policy: %w", name, pod.Name, err)
		}
		if hasUnexpectedController(claim, set, pod) {
			c.recorder.Event(set, corev1.EventTypeWarning, "ConflictingController",
				fmt.Sprintf("PersistentVolumeClaim %s has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim", name))
		}
		if isClaimOwnerUpToDate(claim, set, pod) {
			continue
		}
		claim = claim.DeepCopy()
		updateClaimOwnerRefs(claim, set, pod)
		if _, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("could not update claim %s for delete policy ownerRefs: %w", name, err)
		}
	}
	return nil
}

// podClaimIsStale reports whether a claim of the pod still belongs to a
// previous pod of that ordinal, about to be deleted by the garbage collector:
// the new pod must wait rather than mount it.
func (c *Controller) podClaimIsStale(set *appsv1.StatefulSet, pod *corev1.Pod) (bool, error) {
	if retentionPolicy(set).WhenScaled == appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		return false, nil
	}
	for _, claim := range podClaims(set, pod) {
		pvc, err := c.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return false, err
		case hasStaleOwnerRef(pvc, pod, podKind):
			return true, nil
		}
	}
	return false, nil
}

// titles maps the verbs events are recorded for to their title case.
var titles = map[string]string{"create": "Create", "update": "Update", "delete": "Delete"}

func (c *Controller) recordPodEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	v := titles[verb]
	if err == nil {
		c.recorder.Event(set, corev1.EventTypeNormal, "Successful"+v, fmt.Sprintf("%s Pod %s in StatefulSet %s successful", v, pod.Name, set.Name))
		return
	}
	c.recorder.Event(set, corev1.EventTypeWarning, "Failed"+v, fmt.Sprintf("%s Pod %s in StatefulSet %s failed error: %s", v, pod.Name, set.Name, err))
}

func (c *Controller) recordClaimEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim, err error) {
	v := titles[verb]
	if err == nil {
		c.recorder.Event(set, corev1.EventTypeNormal, "Successful"+v, fmt.Sprintf("%s Claim %s Pod %s in StatefulSet %s success", v, claim.Name, pod.Name, set.Name))
		return
	}
	c.recorder.Event(set, corev1.EventTypeWarning, "Failed"+v, fmt.Sprintf("%s Claim %s for Pod %s in StatefulSet %s failed error: %s", v, claim.Name, pod.Name, set.Name, err))
}
