package job

import (
	"context"
	"fmt"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// trackStatusAndRemoveFinalizers counts finished pods exactly once: it
// first records them in status.uncountedTerminatedPods, then removes their
// tracking finalizers, then moves them into the counters; and it finishes
// the Job once nothing is left uncounted or terminating.
func (c *Controller) trackStatusAndRemoveFinalizers(ctx context.Context, jc *syncContext, needsFlush bool) error {
	logger := klog.FromContext(ctx)
	job := jc.job
	indexed := isIndexedJob(job)
	if indexed {
		// Completed indexes are added in order.
		sortByCompletionIndex(jc.pods)
	}
	withFinalizer := sets.New[types.UID]()
	for _, p := range jc.pods {
		if hasTrackingFinalizer(p) && !jc.expectedRmFinalizers.Has(p.UID) {
			withFinalizer.Insert(p.UID)
		}
	}
	if cleanUncountedPodsWithoutFinalizers(&job.Status, withFinalizer) {
		needsFlush = true
	}
	var (
		toRemoveFinalizer   []*corev1.Pod
		newSucceededIndexes []int
		reachedMax          bool
	)
	uncountedStatus := job.Status.UncountedTerminatedPods
	for _, pod := range jc.pods {
		if !hasTrackingFinalizer(pod) || jc.expectedRmFinalizers.Has(pod.UID) {
			continue
		}
		failed := isPodFailed(pod, job)
		if !canRemoveFinalizer(logger, jc, pod, failed) {
			continue
		}
		toRemoveFinalizer = append(toRemoveFinalizer, pod)
		if pod.Status.Phase == corev1.PodSucceeded && !jc.uncounted.failed.Has(pod.UID) {
			if indexed {
				// The index alone keeps a succeeded pod from being counted
				// twice.
				ix := completionIndex(pod.Annotations)
				if ix != unknownCompletionIndex && ix < int(*job.Spec.Completions) && !jc.prevSucceededIndexes.has(ix) {
					newSucceededIndexes = append(newSucceededIndexes, ix)
					needsFlush = true
				}
			} else if !jc.uncounted.succeeded.Has(pod.UID) {
				needsFlush = true
				uncountedStatus.Succeeded = append(uncountedStatus.Succeeded, pod.UID)
			}
		} else if failed || (jc.finishedCondition != nil && !isSuccessCriteriaMet(jc.finishedCondition)) {
			// A failing Job counts every unfinished pod as failed.
			ix := completionIndex(pod.Annotations)
			if !jc.uncounted.failed.Has(pod.UID) && (!indexed || (ix != unknownCompletionIndex && ix < int(*job.Spec.Completions))) {
				count := true
				if job.Spec.PodFailurePolicy != nil {
					_, count, _ = matchPodFailurePolicy(job.Spec.PodFailurePolicy, pod)
				}
				if count {
					needsFlush = true
					uncountedStatus.Failed = append(uncountedStatus.Failed, pod.UID)
				}
			}
		}
		if len(newSucceededIndexes)+len(uncountedStatus.Succeeded)+len(uncountedStatus.Failed) >= maxUncountedPods {
			// The status and pod updates requeue the Job for the rest.
			reachedMax = true
			break
		}
	}
	if indexed {
		jc.succeededIndexes = jc.succeededIndexes.withIndexes(newSucceededIndexes)
		s := jc.succeededIndexes.String()
		if s != job.Status.CompletedIndexes {
			needsFlush = true
		}
		job.Status.Succeeded = int32(jc.succeededIndexes.total())
		job.Status.CompletedIndexes = s
		var failedStr *string
		if jc.failedIndexes != nil {
			failedStr = ptr.To(jc.failedIndexes.String())
		}
		if !ptr.Equal(job.Status.FailedIndexes, failedStr) {
			job.Status.FailedIndexes = failedStr
			needsFlush = true
		}
	}
	// The interim condition is written before any finalizer goes, so that
	// the verdict survives a restart; the final one follows.
	if jc.finishedCondition != nil && jc.finishedCondition.Type == batchv1.JobFailureTarget {
		job.Status.Conditions = append(job.Status.Conditions, *jc.finishedCondition)
		needsFlush = true
		jc.finishedCondition = c.newCondition(batchv1.JobFailed, jc.finishedCondition.Reason, jc.finishedCondition.Message)
	}
	if isSuccessCriteriaMet(jc.finishedCondition) {
		if successCriteriaMetCondition(job) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *jc.finishedCondition)
			needsFlush = true
		}
		jc.finishedCondition = c.newCondition(batchv1.JobComplete, jc.finishedCondition.Reason, jc.finishedCondition.Message)
	}
	var err error
	if needsFlush, err = c.flushUncountedAndRemoveFinalizers(ctx, jc, toRemoveFinalizer, withFinalizer, needsFlush); err != nil {
		return err
	}
	finished := !reachedMax && c.enactJobFinished(logger, jc)
	if finished {
		needsFlush = true
	}
	if needsFlush {
		if _, err := c.updateStatus(ctx, jc.job); err != nil {
			return fmt.Errorf("removing uncounted pods from status: %w", err)
		}
		if finished {
			c.recordJobFinished(jc.job, jc.finishedCondition)
			c.finishedJobs.Store(jc.job.UID, struct{}{})
		}
	}
	return nil
}

// canRemoveFinalizer: the Job is going away or finishing, the pod
// succeeded, or it failed and no replacement still needs its failure count.
func canRemoveFinalizer(logger klog.Logger, jc *syncContext, pod *corev1.Pod, failed bool) bool {
	if jc.job.DeletionTimestamp != nil || jc.finishedCondition != nil || pod.Status.Phase == corev1.PodSucceeded {
		return true
	}
	if !failed {
		return false
	}
	if hasBackoffLimitPerIndex(jc.job) {
		if ix := completionIndex(pod.Annotations); ix != unknownCompletionIndex {
			if p, ok := jc.podsWithDelayedDeletionPerIndex[ix]; ok && p.UID == pod.UID {
				logger.V(3).Info("Delaying pod finalizer removal to await for pod recreation within the index", "pod", klog.KObj(pod))
				return false
			}
		}
	}
	return true
}

// flushUncountedAndRemoveFinalizers writes the uncounted pods, removes
// their finalizers and counts those removed; it returns whether status
// changes remain to be written.
func (c *Controller) flushUncountedAndRemoveFinalizers(ctx context.Context, jc *syncContext, pods []*corev1.Pod, withFinalizer sets.Set[types.UID], needsFlush bool) (bool, error) {
	if needsFlush {
		job, err := c.updateStatus(ctx, jc.job)
		if err != nil {
			return needsFlush, fmt.Errorf("adding uncounted pods to status: %w", err)
		}
		jc.job = job
		c.backoff.update(jc.newBackoffRecord)
		needsFlush = false
	}
	var rmErr error
	if len(pods) > 0 {
		var removed []bool
		removed, rmErr = c.removeTrackingFinalizers(ctx, jobKey(jc.job), pods)
		for i, p := range pods {
			if removed[i] {
				withFinalizer.Delete(p.UID)
			}
		}
	}
	if cleanUncountedPodsWithoutFinalizers(&jc.job.Status, withFinalizer) {
		needsFlush = true
	}
	if rmErr != nil && needsFlush {
		// Keep what progress there was.
		if _, err := c.updateStatus(ctx, jc.job); err != nil {
			return needsFlush, fmt.Errorf("removing uncounted pods from status: %w", err)
		}
	}
	return needsFlush, rmErr
}

// cleanUncountedPodsWithoutFinalizers moves the uncounted pods whose
// finalizer is gone into the counters.
func cleanUncountedPodsWithoutFinalizers(status *batchv1.JobStatus, withFinalizer sets.Set[types.UID]) bool {
	updated := false
	u := status.UncountedTerminatedPods
	if kept := filterUIDs(u.Succeeded, withFinalizer); len(kept) != len(u.Succeeded) {
		updated = true
		status.Succeeded += int32(len(u.Succeeded) - len(kept))
		u.Succeeded = kept
	}
	if kept := filterUIDs(u.Failed, withFinalizer); len(kept) != len(u.Failed) {
		updated = true
		status.Failed += int32(len(u.Failed) - len(kept))
		u.Failed = kept
	}
	return updated
}

func filterUIDs(uids []types.UID, keep sets.Set[types.UID]) []types.UID {
	var out []types.UID
	for _, uid := range uids {
		if keep.Has(uid) {
			out = append(out, uid)
		}
	}
	return out
}

// removeTrackingFinalizers reports per pod whether its finalizer is gone
// (a pod already deleted counts as removed).
func (c *Controller) removeTrackingFinalizers(ctx context.Context, key string, pods []*corev1.Pod) ([]bool, error) {
	removed := make([]bool, len(pods))
	uids := make([]types.UID, len(pods))
	for i, p := range pods {
		uids[i] = p.UID
	}
	c.finalizerExpectations.expectRemoved(key, uids)
	errCh := make(chan error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Go(func() {
			patch := removeTrackingFinalizerPatch(pod)
			if patch == nil {
				return
			}
			if err := c.pods.patch(ctx, pod.Namespace, pod.Name, patch); err != nil {
				// No update will come for this pod.
				c.finalizerExpectations.removalObserved(key, pod.UID)
				if !apierrors.IsNotFound(err) {
					errCh <- fmt.Errorf("removing tracking finalizer: %w", err)
					return
				}
			}
			removed[i] = true
		})
	}
	wg.Wait()
	return removed, firstError(errCh)
}

// enactJobFinished sets the final condition once no pod is left uncounted
// or terminating.
func (c *Controller) enactJobFinished(logger klog.Logger, jc *syncContext) bool {
	if jc.finishedCondition == nil {
		return false
	}
	job := jc.job
	if u := job.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		logger.V(4).Info("Delaying marking the Job as finished, because there are still uncounted pod(s)", "job", klog.KObj(job), "condition", jc.finishedCondition.Type)
		return false
	}
	if jc.terminating > 0 {
		logger.V(4).Info("Delaying marking the Job as finished, because there are still terminating pod(s)", "job", klog.KObj(job), "condition", jc.finishedCondition.Type, "count", jc.terminating)
		return false
	}
	fc := jc.finishedCondition
	job.Status.Conditions, _ = c.ensureCondition(job.Status.Conditions, fc.Type, fc.Status, fc.Reason, fc.Message)
	if fc.Type == batchv1.JobComplete {
		t := fc.LastTransitionTime
		job.Status.CompletionTime = &t
	}
	return true
}

func (c *Controller) recordJobFinished(job *batchv1.Job, fc *batchv1.JobCondition) {
	if fc.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
		return
	}
	c.recorder.Event(job, corev1.EventTypeWarning, fc.Reason, fc.Message)
}

func (c *Controller) updateStatus(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	updated, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	c.written.Store(jobKey(updated), writtenVersion{uid: updated.UID, resourceVersion: updated.ResourceVersion})
	return updated, nil
}

// writtenVersion is the last status this controller wrote for a Job.
type writtenVersion struct {
	uid             types.UID
	resourceVersion string
}

// cacheBehindWrites says whether the cached Job is older than the status
// this controller last wrote for it: a sync on it would recount pods
// already counted. The informer's event for the write requeues the Job.
func (c *Controller) cacheBehindWrites(job *batchv1.Job) bool {
	v, ok := c.written.Load(jobKey(job))
	if !ok {
		return false
	}
	w := v.(writtenVersion)
	if w.uid != job.UID {
		c.written.Delete(jobKey(job))
		return false
	}
	cmp, err := resourceversion.CompareResourceVersion(job.ResourceVersion, w.resourceVersion)
	if err != nil || cmp >= 0 {
		c.written.CompareAndDelete(jobKey(job), w)
		return false
	}
	return true
}
