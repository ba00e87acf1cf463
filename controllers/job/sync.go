package job

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// syncContext is one sync's view of a Job and its pods.
type syncContext struct {
	job                  *batchv1.Job
	pods                 []*corev1.Pod
	activePods           []*corev1.Pod
	succeeded, failed    int32
	prevSucceededIndexes orderedIntervals
	succeededIndexes     orderedIntervals
	failedIndexes        *orderedIntervals
	newBackoffRecord     backoffRecord
	expectedRmFinalizers sets.Set[types.UID]
	uncounted            uncounted
	// podsWithDelayedDeletionPerIndex keep their finalizer until their
	// index's replacement carries their failure count.
	podsWithDelayedDeletionPerIndex map[int]*corev1.Pod
	// finishedCondition is the condition the Job reaches in this sync, if
	// any: first the interim SuccessCriteriaMet or FailureTarget, then the
	// final Complete or Failed.
	finishedCondition *batchv1.JobCondition
	ready             int32
	terminating       int32
}

type uncounted struct {
	succeeded, failed sets.Set[types.UID]
}

// Sync reconciles the Job named by key ("namespace/name").
func (c *Controller) Sync(ctx context.Context, key string) error {
	logger := klog.FromContext(ctx)
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	if ns == "" || name == "" {
		return fmt.Errorf("invalid job key %q: either namespace or name is missing", key)
	}
	shared, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.delete(key)
		c.finalizerExpectations.delete(key)
		c.backoff.remove(key)
		return nil
	}
	if err != nil {
		return err
	}
	// A Job can be replaced by one with managedBy while its key is queued.
	if m := managedByExternalController(shared); m != nil {
		logger.V(2).Info("Skip syncing the job as it is managed by an external controller", "key", key, "uid", shared.UID, "controllerName", *m)
		return nil
	}
	if c.cacheBehindWrites(shared) {
		logger.V(4).Info("Skip syncing the job until the cache shows its last status update", "key", key)
		return nil
	}
	job := shared.DeepCopy()
	if isJobFinished(job) {
		c.backoff.remove(key)
		c.finishedJobs.Delete(job.UID)
		return nil
	}
	if _, ok := c.finishedJobs.Load(job.UID); ok {
		return nil
	}
	if m := job.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.recorder.Event(job, corev1.EventTypeWarning, "UnknownCompletionMode", "Skipped Job sync because completion mode is unknown")
		return nil
	}
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	// Read expectations before the pods: a pod created after this point
	// only defers the sync to the next event.
	satisfied := c.expectations.satisfied(key)
	pods, err := c.podsForJob(ctx, job)
	if err != nil {
		return err
	}
	jc := &syncContext{
		job:        job,
		pods:       pods,
		activePods: activePods(pods),
		uncounted: uncounted{
			succeeded: sets.New(job.Status.UncountedTerminatedPods.Succeeded...),
			failed:    sets.New(job.Status.UncountedTerminatedPods.Failed...),
		},
		expectedRmFinalizers: c.finalizerExpectations.expected(key),
		terminating:          int32(len(terminatingPods(pods))),
	}
	jc.ready = countReady(jc.activePods)
	active := int32(len(jc.activePods))
	newSucceeded, newFailed := newFinishedPods(jc)
	jc.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(jc.uncounted.succeeded.Len())
	jc.failed = job.Status.Failed + int32(nonIgnoredFailedCount(jc, newFailed)) + int32(jc.uncounted.failed.Len())

	if job.Status.StartTime == nil && !jobSuspended(job) {
		now := metav1.NewTime(c.clock.Now())
		job.Status.StartTime = &now
	}
	jc.newBackoffRecord = c.backoff.newRecord(key, newSucceeded, newFailed)

	// Earlier verdicts first, then failures, then successes.
	jc.finishedCondition = successCriteriaMetCondition(job)
	if jc.finishedCondition == nil {
		if ft := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); ft != nil && ft.Status == corev1.ConditionTrue {
			jc.finishedCondition = c.newCondition(batchv1.JobFailed, ft.Reason, ft.Message)
		} else if msg := failJobMessage(job, pods); msg != nil {
			jc.finishedCondition = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, *msg)
		}
	}
	if jc.finishedCondition == nil {
		switch {
		case jc.failed > *job.Spec.BackoffLimit || pastBackoffLimitOnFailure(job, pods):
			jc.finishedCondition = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
		case c.pastActiveDeadline(job):
			jc.finishedCondition = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
		case job.Spec.ActiveDeadlineSeconds != nil && !jobSuspended(job):
			next := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(job.Status.StartTime.Time)
			logger.V(2).Info("Job has activeDeadlineSeconds configuration. Will sync this job again", "key", key, "nextSyncIn", next)
			c.queue.AddAfter(key, next)
		}
	}
	if isIndexedJob(job) {
		jc.prevSucceededIndexes, jc.succeededIndexes = succeededIndexes(logger, job, pods)
		jc.succeeded = int32(jc.succeededIndexes.total())
		if hasBackoffLimitPerIndex(job) {
			jc.failedIndexes = failedIndexes(logger, job, pods)
			if jc.finishedCondition == nil {
				if job.Spec.MaxFailedIndexes != nil && jc.failedIndexes.total() > int(*job.Spec.MaxFailedIndexes) {
					jc.finishedCondition = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")
				} else if jc.failedIndexes.total() > 0 && jc.failedIndexes.total()+jc.succeededIndexes.total() >= int(*job.Spec.Completions) {
					jc.finishedCondition = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonFailedIndexes, "Job has failed indexes")
				}
			}
			jc.podsWithDelayedDeletionPerIndex = podsWithDelayedDeletionPerIndex(logger, jc)
		}
		if jc.finishedCondition == nil {
			if msg, met := matchSuccessPolicy(logger, job.Spec.SuccessPolicy, *job.Spec.Completions, jc.succeededIndexes); met {
				jc.finishedCondition = c.newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, msg)
			}
		}
	}

	var manageErr error
	suspendChanged := false
	if jc.finishedCondition != nil {
		deletedReady, deleted, err := c.deleteActivePods(ctx, job, jc.activePods)
		if deleted != active || !satisfied {
			// Pods may remain, or may not be in the cache yet.
			jc.finishedCondition = nil
		}
		active -= deleted
		jc.terminating += deleted
		jc.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, job, jc)
			managed = true
		}
		var complete bool
		if job.Spec.Completions == nil {
			// Any success completes a Job without completions once the
			// remaining pods are done.
			complete = jc.succeeded > 0 && active == 0
		} else {
			complete = jc.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			jc.finishedCondition = c.newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, "Reached expected number of succeeded pods")
		case managed && jobSuspended(job):
			var updated bool
			job.Status.Conditions, updated = c.ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended")
			if updated {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
				job.Status.StartTime = nil
			}
		case managed:
			var updated bool
			job.Status.Conditions, updated = c.ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed")
			if updated {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
				// activeDeadlineSeconds counts continuous activity.
				now := metav1.NewTime(c.clock.Now())
				job.Status.StartTime = &now
			}
		}
	}

	needsUpdate := suspendChanged || active != job.Status.Active || !ptr.Equal(&jc.ready, job.Status.Ready) || !ptr.Equal(job.Status.Terminating, &jc.terminating)
	job.Status.Active = active
	job.Status.Ready = ptr.To(jc.ready)
	job.Status.Terminating = ptr.To(jc.terminating)
	if err := c.trackStatusAndRemoveFinalizers(ctx, jc, needsUpdate); err != nil {
		return fmt.Errorf("tracking status: %w", err)
	}
	return manageErr
}

func (c *Controller) newCondition(t batchv1.JobConditionType, reason, message string) *batchv1.JobCondition {
	now := metav1.NewTime(c.clock.Now())
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now, Reason: reason, Message: message}
}

// ensureCondition sets condition t, adding it only when its status is not
// False; it reports whether anything changed.
func (c *Controller) ensureCondition(list []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string) ([]batchv1.JobCondition, bool) {
	if cond := findCondition(list, t); cond != nil {
		if cond.Status != status || cond.Reason != reason || cond.Message != message {
			*cond = *c.newCondition(t, reason, message)
			cond.Status = status
			return list, true
		}
		return list, false
	}
	if status != corev1.ConditionFalse {
		nc := c.newCondition(t, reason, message)
		nc.Status = status
		return append(list, *nc), true
	}
	return list, false
}

func findCondition(list []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range list {
		if list[i].Type == t {
			return &list[i]
		}
	}
	return nil
}

func successCriteriaMetCondition(job *batchv1.Job) *batchv1.JobCondition {
	if c := findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		return c
	}
	return nil
}

func isSuccessCriteriaMet(c *batchv1.JobCondition) bool {
	return c != nil && c.Type == batchv1.JobSuccessCriteriaMet && c.Status == corev1.ConditionTrue
}

func failJobMessage(job *batchv1.Job, pods []*corev1.Pod) *string {
	if job.Spec.PodFailurePolicy == nil {
		return nil
	}
	for _, p := range pods {
		if isPodFailed(p, job) {
			if msg, _, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); msg != nil {
				return msg
			}
		}
	}
	return nil
}

// pastBackoffLimitOnFailure counts container restarts of running pods under
// restartPolicy OnFailure, where failures never show as failed pods.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			for _, s := range p.Status.InitContainerStatuses {
				restarts += s.RestartCount
			}
			for _, s := range p.Status.ContainerStatuses {
				restarts += s.RestartCount
			}
		}
	}
	if *job.Spec.BackoffLimit == 0 {
		return restarts > 0
	}
	return restarts >= *job.Spec.BackoffLimit
}

func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || jobSuspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// validPods are the tracked pods not yet counted nor being uncounted that
// pass filter; for Indexed Jobs only pods with a valid index.
func validPods(jc *syncContext, uncounted sets.Set[types.UID], filter func(*corev1.Pod) bool) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || uncounted.Has(p.UID) || jc.expectedRmFinalizers.Has(p.UID) {
			continue
		}
		if isIndexedJob(jc.job) {
			if ix := completionIndex(p.Annotations); ix == unknownCompletionIndex || ix >= int(*jc.job.Spec.Completions) {
				continue
			}
		}
		if filter(p) {
			out = append(out, p)
		}
	}
	return out
}

func newFinishedPods(jc *syncContext) (succeeded, failed []*corev1.Pod) {
	succeeded = validPods(jc, jc.uncounted.succeeded, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	failed = validPods(jc, jc.uncounted.failed, func(p *corev1.Pod) bool { return isPodFailed(p, jc.job) })
	return succeeded, failed
}

func nonIgnoredFailedCount(jc *syncContext, failed []*corev1.Pod) int {
	n := len(failed)
	if jc.job.Spec.PodFailurePolicy != nil {
		for _, p := range failed {
			if _, count, _ := matchPodFailurePolicy(jc.job.Spec.PodFailurePolicy, p); !count {
				n--
			}
		}
	}
	return n
}

// manageJob creates or deletes pods toward the wanted number of active
// pods and returns the number active afterwards.
func (c *Controller) manageJob(ctx context.Context, job *batchv1.Job, jc *syncContext) (int32, error) {
	logger := klog.FromContext(ctx)
	key := jobKey(job)
	active := int32(len(jc.activePods))
	if jobSuspended(job) {
		logger.V(4).Info("Deleting all active pods in suspended job", "job", klog.KObj(job), "active", active)
		toDelete := activePodsForRemoval(job, jc.activePods, int(active))
		c.expectations.expect(key, 0, len(toDelete))
		removedReady, removed, err := c.deleteJobPods(ctx, job, key, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		return active - removed, err
	}

	parallelism := *job.Spec.Parallelism
	var wantActive int32
	if job.Spec.Completions == nil {
		// Once one pod succeeded the others only finish; none is added.
		if jc.succeeded > 0 {
			wantActive = active
		} else {
			wantActive = parallelism
		}
	} else {
		wantActive = max(min(*job.Spec.Completions-jc.succeeded, parallelism), 0)
	}

	toDelete := activePodsForRemoval(job, jc.activePods, int(max(active-wantActive, 0)))
	if len(toDelete) > maxPodCreateDeletePerSync {
		toDelete = toDelete[:maxPodCreateDeletePerSync]
	}
	if len(toDelete) > 0 {
		c.expectations.expect(key, 0, len(toDelete))
		logger.V(4).Info("Too many pods running for job", "job", klog.KObj(job), "deleted", len(toDelete), "target", wantActive)
		removedReady, removed, err := c.deleteJobPods(ctx, job, key, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		return active - removed, err
	}

	var terminating int32
	if onlyReplaceFailedPods(job) {
		terminating = jc.terminating
	}
	diff := wantActive - terminating - active
	if diff <= 0 {
		return active, nil
	}
	var remaining time.Duration
	if !hasBackoffLimitPerIndex(job) {
		remaining = jc.newBackoffRecord.remaining(c.clock)
	}
	if remaining > 0 {
		c.enqueue(job, max(remaining, syncBatchPeriod))
		return active, nil
	}
	diff = min(diff, maxPodCreateDeletePerSync)

	var indexes []int
	if isIndexedJob(job) {
		indexes = firstPendingIndexes(jc, int(diff), int(*job.Spec.Completions))
		if hasBackoffLimitPerIndex(job) {
			indexes, remaining = c.indexesToCreateNow(logger, indexes, jc.podsWithDelayedDeletionPerIndex)
			if remaining > 0 {
				c.enqueue(job, max(remaining, syncBatchPeriod))
				return active, nil
			}
		}
		diff = int32(len(indexes))
	}

	c.expectations.expect(key, int(diff), 0)
	logger.V(4).Info("Too few pods running", "key", key, "need", wantActive, "creating", diff)
	active += diff
	template := job.Spec.Template.DeepCopy()
	if isIndexedJob(job) {
		addCompletionIndexEnv(template)
	}
	if !hasFinalizer(template.Finalizers) {
		template.Finalizers = append(template.Finalizers, batchv1.JobTrackingFinalizer)
	}

	// Slow start: batches of 1, 2, 4, ... stop at the first failing batch,
	// so a Job that cannot create pods does not flood the API.
	errCh := make(chan error, diff)
	for batch := min(diff, slowStartInitialBatchSize); diff > 0; batch = min(2*batch, diff) {
		errorsBefore := len(errCh)
		var wg sync.WaitGroup
		for range batch {
			index := unknownCompletionIndex
			if len(indexes) > 0 {
				index, indexes = indexes[0], indexes[1:]
			}
			wg.Go(func() {
				t, generateName := template, ""
				if index != unknownCompletionIndex {
					t = template.DeepCopy()
					setCompletionIndex(t, index)
					t.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
					generateName = generateNameWithIndex(job.Name, index)
					if hasBackoffLimitPerIndex(job) {
						addIndexFailureCountAnnotation(logger, t, job, jc.podsWithDelayedDeletionPerIndex[index])
					}
				}
				err := c.pods.create(ctx, job, t, generateName)
				if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					// The namespace is going away with its pods: not a
					// failure, and the expectation stands until it is gone.
					return
				}
				if err != nil {
					utilruntime.HandleError(err)
					c.expectations.creationObserved(key)
					atomic.AddInt32(&active, -1)
					errCh <- err
				}
			})
		}
		wg.Wait()
		if skipped := diff - batch; len(errCh) > errorsBefore && skipped > 0 {
			logger.V(2).Info("Slow-start failure. Skipping creating pods, decrementing expectations", "skippedCount", skipped, "job", klog.KObj(job))
			active -= skipped
			for range skipped {
				c.expectations.creationObserved(key)
			}
			break
		}
		diff -= batch
	}
	return active, firstError(errCh)
}

func hasFinalizer(finalizers []string) bool {
	for _, f := range finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

func (c *Controller) indexesToCreateNow(logger klog.Logger, indexes []int, delayed map[int]*corev1.Pod) ([]int, time.Duration) {
	var now []int
	var minRemaining *time.Duration
	for _, ix := range indexes {
		r := remainingBackoffPerIndex(logger, c.clock, delayed[ix])
		if r == 0 {
			now = append(now, ix)
		} else if minRemaining == nil || r < *minRemaining {
			minRemaining = &r
		}
	}
	if len(now) > 0 {
		return now, 0
	}
	return nil, ptr.Deref(minRemaining, 0)
}

// activePodsForRemoval picks at least rmAtLeast pods to delete, first the
// duplicates and strays of an Indexed Job.
func activePodsForRemoval(job *batchv1.Job, pods []*corev1.Pod, rmAtLeast int) []*corev1.Pod {
	var rm, left []*corev1.Pod
	if isIndexedJob(job) {
		rm, left = duplicatedIndexPodsForRemoval(append([]*corev1.Pod(nil), pods...), int(*job.Spec.Completions))
	} else {
		left = append([]*corev1.Pod(nil), pods...)
	}
	if len(rm) < rmAtLeast {
		sortActivePods(left)
		rm = append(rm, left[:rmAtLeast-len(rm)]...)
	}
	return rm
}

// deleteActivePods deletes the pods of a finishing Job; their finalizers
// stay until trackStatusAndRemoveFinalizers has counted them.
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	errCh := make(chan error, len(pods))
	deleted, deletedReady := int32(len(pods)), int32(0)
	var wg sync.WaitGroup
	for _, pod := range pods {
		wg.Go(func() {
			if err := c.pods.delete(ctx, job, pod.Name); err != nil && !apierrors.IsNotFound(err) {
				atomic.AddInt32(&deleted, -1)
				errCh <- err
				return
			}
			if isPodReady(pod) {
				atomic.AddInt32(&deletedReady, 1)
			}
		})
	}
	wg.Wait()
	return deletedReady, deleted, firstError(errCh)
}

// deleteJobPods removes the tracking finalizer, then deletes: the pods were
// not counted, and a running Job must not count them.
func (c *Controller) deleteJobPods(ctx context.Context, job *batchv1.Job, key string, pods []*corev1.Pod) (int32, int32, error) {
	errCh := make(chan error, len(pods))
	deleted, deletedReady := int32(len(pods)), int32(0)
	fail := func(err error) {
		c.expectations.deletionObserved(key)
		if !apierrors.IsNotFound(err) {
			atomic.AddInt32(&deleted, -1)
			errCh <- err
		}
	}
	var wg sync.WaitGroup
	for _, pod := range pods {
		wg.Go(func() {
			if patch := removeTrackingFinalizerPatch(pod); patch != nil {
				if err := c.pods.patch(ctx, pod.Namespace, pod.Name, patch); err != nil {
					fail(fmt.Errorf("removing completion finalizer: %w", err))
					return
				}
			}
			if err := c.pods.delete(ctx, job, pod.Name); err != nil {
				fail(err)
				return
			}
			if isPodReady(pod) {
				atomic.AddInt32(&deletedReady, 1)
			}
		})
	}
	wg.Wait()
	return deletedReady, deleted, firstError(errCh)
}

func firstError(errCh <-chan error) error {
	select {
	case err := <-errCh:
		return err
	default:
		return nil
	}
}
