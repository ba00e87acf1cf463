// Package job is Kubernetes' Job controller: it runs a Job's pods to the
// requested number of completions, within its backoff limits, deadline and
// pod failure policy, tracks finished pods through the
// batch.kubernetes.io/job-tracking finalizer so that none is counted twice or
// lost, and reports status and conditions exactly as kube-controller-manager
// 1.37 does.
package job

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and its service account's.
	Name = "job-controller"
	// DefaultWorkers is kube-controller-manager's --concurrent-job-syncs.
	DefaultWorkers = 5

	// DefaultPodFailureBackoff is the delay before a failed pod is replaced;
	// it doubles with each further failure up to MaxPodFailureBackoff.
	DefaultPodFailureBackoff = 10 * time.Second
	MaxPodFailureBackoff     = 10 * time.Minute

	// syncBatchPeriod gathers the pod events of a burst into one sync.
	syncBatchPeriod = time.Second
	apiBackoff      = time.Second
	maxAPIBackoff   = time.Minute
	// maxUncountedPods keeps status.uncountedTerminatedPods small and one
	// big Job from starving the others.
	maxUncountedPods          = 500
	maxPodCreateDeletePerSync = 500
	slowStartInitialBatchSize = 1
)

var jobKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller reconciles Jobs with their pods.
type Controller struct {
	client   kubernetes.Interface
	pods     podControl
	clock    clock.Clock
	recorder record.EventRecorder
	events   record.EventBroadcaster

	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	orphanQueue workqueue.TypedRateLimitingInterface[string]

	expectations          *expectations
	finalizerExpectations *finalizerExpectations
	backoff               *backoffStore
	// finishedJobs are Jobs this controller marked finished whose update the
	// cache has not shown yet.
	finishedJobs sync.Map
	// written holds a writtenVersion per Job key.
	written sync.Map
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, pods coreinformers.PodInformer, jobs batchinformers.JobInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("job controller client: %w", err)
	}
	return New(client, pods, jobs, clock.RealClock{}), nil
}

// New returns a controller that writes through client and reads the
// informers' caches.
func New(client kubernetes.Interface, pods coreinformers.PodInformer, jobs batchinformers.JobInformer, clk clock.WithTicker) *Controller {
	events := record.NewBroadcaster()
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name})
	c := &Controller{
		client:                client,
		pods:                  podControl{client: client, recorder: recorder},
		clock:                 clk,
		recorder:              recorder,
		events:                events,
		jobLister:             jobs.Lister(),
		podLister:             pods.Lister(),
		expectations:          newExpectations(clk),
		finalizerExpectations: newFinalizerExpectations(),
		backoff:               newBackoffStore(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackoff, maxAPIBackoff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job", Clock: clk}),
		orphanQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.NewTypedItemExponentialFailureRateLimiter[string](apiBackoff, maxAPIBackoff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod", Clock: clk}),
	}
	jh, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching jobs for the job controller: %w", err))
	}
	ph, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) { c.deletePod(obj, true) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching pods for the job controller: %w", err))
	}
	for _, h := range []cache.ResourceEventHandlerRegistration{jh, ph} {
		if h != nil {
			c.synced = append(c.synced, h.HasSynced)
		}
	}
	return c
}

// Run reconciles with workers goroutines per queue until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.events.StartStructuredLogging(3)
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	var wg sync.WaitGroup
	wg.Go(func() {
		(&worker.Loop{Name: Name + " orphan pods", Queue: c.orphanQueue, Sync: c.syncOrphanPod, Synced: c.synced}).Run(ctx, workers)
	})
	(&worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}).Run(ctx, workers)
	wg.Wait()
}

func jobKey(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func (c *Controller) enqueue(job *batchv1.Job, delay time.Duration) {
	c.queue.AddAfter(jobKey(job), delay)
}

func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *batchv1.Job {
	if ref.Kind != jobKind.Kind {
		return nil
	}
	job, err := c.jobLister.Jobs(namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

// podJobs are the Jobs whose selector matches an orphan pod.
func (c *Controller) podJobs(pod *corev1.Pod) []*batchv1.Job {
	if len(pod.Labels) == 0 {
		return nil
	}
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, j := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, j)
	}
	return out
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// A restarted controller sees a pod being deleted as an add.
		c.deletePod(pod, false)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		job := c.resolveControllerRef(pod.Namespace, ref)
		if job == nil {
			if hasTrackingFinalizer(pod) {
				c.enqueueOrphanPod(pod)
			}
			return
		}
		c.expectations.creationObserved(jobKey(job))
		c.enqueue(job, syncBatchPeriod)
		return
	}
	if hasTrackingFinalizer(pod) {
		c.enqueueOrphanPod(pod)
	}
	for _, job := range c.podJobs(pod) {
		c.enqueue(job, syncBatchPeriod)
	}
}

func (c *Controller) updatePod(old, cur any) {
	curPod, oldPod := cur.(*corev1.Pod), old.(*corev1.Pod)
	if curPod.ResourceVersion == oldPod.ResourceVersion {
		return
	}
	if curPod.DeletionTimestamp != nil {
		// Deleted pods are counted as failed at once; the kubelet's final
		// update would come too late.
		c.deletePod(curPod, false)
		return
	}
	finalizerRemoved := !hasTrackingFinalizer(curPod)
	curRef, oldRef := metav1.GetControllerOf(curPod), metav1.GetControllerOf(oldPod)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if job := c.resolveControllerRef(oldPod.Namespace, oldRef); job != nil {
			if finalizerRemoved {
				c.finalizerExpectations.removalObserved(jobKey(job), curPod.UID)
			}
			c.enqueue(job, syncBatchPeriod)
		}
	}
	if curRef != nil {
		job := c.resolveControllerRef(curPod.Namespace, curRef)
		if job == nil {
			if hasTrackingFinalizer(curPod) {
				c.enqueueOrphanPod(curPod)
			}
			return
		}
		if finalizerRemoved {
			c.finalizerExpectations.removalObserved(jobKey(job), curPod.UID)
		}
		c.enqueue(job, syncBatchPeriod)
		return
	}
	if hasTrackingFinalizer(curPod) {
		c.enqueueOrphanPod(curPod)
	}
	if refChanged || !reflect.DeepEqual(curPod.Labels, oldPod.Labels) {
		for _, job := range c.podJobs(curPod) {
			c.enqueue(job, syncBatchPeriod)
		}
	}
}

// deletePod handles a pod gone or going; final says it left the cache.
func (c *Controller) deletePod(obj any, final bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tombstone.Obj.(*corev1.Pod); !ok {
			return
		}
	}
	ref := metav1.GetControllerOf(pod)
	hasFinalizer := hasTrackingFinalizer(pod)
	if ref == nil {
		if hasFinalizer {
			c.enqueueOrphanPod(pod)
		}
		return
	}
	job := c.resolveControllerRef(pod.Namespace, ref)
	if job == nil || isJobFinished(job) {
		if hasFinalizer {
			c.enqueueOrphanPod(pod)
		}
		return
	}
	key := jobKey(job)
	c.expectations.deletionObserved(key)
	if final || !hasFinalizer {
		c.finalizerExpectations.removalObserved(key, pod.UID)
	}
	c.enqueue(job, syncBatchPeriod)
}

func (c *Controller) addJob(obj any) {
	if job, ok := obj.(*batchv1.Job); ok {
		c.enqueue(job, 0)
	}
}

func (c *Controller) updateJob(old, cur any) {
	oldJob, curJob := old.(*batchv1.Job), cur.(*batchv1.Job)
	if isJobFinished(curJob) {
		c.enqueueSelectorPods(curJob)
		return
	}
	if curJob.Generation == oldJob.Generation {
		c.enqueue(curJob, syncBatchPeriod)
	} else {
		// A spec change (such as suspend) acts at once.
		c.enqueue(curJob, 0)
	}
	if curJob.Status.StartTime != nil && curJob.Spec.ActiveDeadlineSeconds != nil {
		oldADS := oldJob.Spec.ActiveDeadlineSeconds
		if oldADS == nil || *oldADS != *curJob.Spec.ActiveDeadlineSeconds {
			total := time.Duration(*curJob.Spec.ActiveDeadlineSeconds) * time.Second
			c.enqueue(curJob, total-c.clock.Since(curJob.Status.StartTime.Time))
		}
	}
}

func (c *Controller) deleteJob(obj any) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if job, ok = tombstone.Obj.(*batchv1.Job); !ok {
			return
		}
	}
	c.enqueue(job, 0)
	c.finishedJobs.Delete(job.UID)
	c.written.Delete(jobKey(job))
	c.enqueueSelectorPods(job)
	c.backoff.remove(jobKey(job))
}

// Orphan queue keys are "pod:<ns>/<name>" for one pod and
// "selector:<ns>/<selector>" for all pods a finished or deleted Job selected.
func (c *Controller) enqueueOrphanPod(pod *corev1.Pod) {
	c.orphanQueue.Add("pod:" + pod.Namespace + "/" + pod.Name)
}

func (c *Controller) enqueueSelectorPods(job *batchv1.Job) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("job %s/%s has invalid label selector: %w", job.Namespace, job.Name, err))
		return
	}
	c.orphanQueue.Add("selector:" + job.Namespace + "/" + sel.String())
}

// syncOrphanPod removes the tracking finalizer from pods whose Job is gone
// or finished, so that they can be deleted.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
	kind, rest, _ := strings.Cut(key, ":")
	ns, value, _ := strings.Cut(rest, "/")
	switch kind {
	case "pod":
		pod, err := c.podLister.Pods(ns).Get(value)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return c.handleOrphanPod(ctx, pod)
	case "selector":
		sel, err := labels.Parse(value)
		if err != nil {
			return fmt.Errorf("invalid label selector: %w", err)
		}
		pods, err := c.podLister.Pods(ns).List(sel)
		if err != nil {
			return err
		}
		for _, pod := range pods {
			if err := c.handleOrphanPod(ctx, pod); err != nil {
				klog.FromContext(ctx).Error(err, "Syncing orphan pod failed", "pod", klog.KObj(pod))
			}
		}
		return nil
	}
	return fmt.Errorf("unknown orphan pod key %q", key)
}

func (c *Controller) handleOrphanPod(ctx context.Context, pod *corev1.Pod) error {
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if ref.Kind != jobKind.Kind || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
			return nil
		}
		job := c.resolveControllerRef(pod.Namespace, ref)
		if job != nil && (managedByExternalController(job) != nil || !isJobFinished(job)) {
			return nil
		}
	}
	if patch := removeTrackingFinalizerPatch(pod); patch != nil {
		if err := c.pods.patch(ctx, pod.Namespace, pod.Name, patch); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// podsForJob lists the pods the Job owns, adopting matching orphans and
// releasing owned pods that no longer match its selector, as upstream's
// ControllerRefManager does.
func (c *Controller) podsForJob(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("couldn't convert Job selector: %w", err)
	}
	all, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var (
		claimed  []*corev1.Pod
		canAdopt *bool
		errs     []error
	)
	adoptable := func() bool {
		if canAdopt == nil {
			fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
			ok := err == nil && fresh.UID == job.UID && fresh.DeletionTimestamp == nil
			canAdopt = &ok
		}
		return *canAdopt
	}
	for _, pod := range all {
		matches := sel.Matches(labels.Set(pod.Labels))
		if ref := metav1.GetControllerOf(pod); ref != nil {
			if ref.UID != job.UID {
				continue
			}
			if matches || job.DeletionTimestamp != nil || pod.DeletionTimestamp != nil {
				claimed = append(claimed, pod)
				continue
			}
			patch := fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q,"$deleteFromPrimitiveList/finalizers":[%q]}}`,
				job.UID, pod.UID, batchv1.JobTrackingFinalizer)
			if err := c.pods.patch(ctx, pod.Namespace, pod.Name, patch); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, err)
			}
			continue
		}
		if !matches || sel.Empty() || job.DeletionTimestamp != nil || pod.DeletionTimestamp != nil || !adoptable() {
			continue
		}
		patch := fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q,"finalizers":[%q]}}`,
			jobKind.GroupVersion().String(), jobKind.Kind, job.Name, job.UID, pod.UID, batchv1.JobTrackingFinalizer)
		if err := c.pods.patch(ctx, pod.Namespace, pod.Name, patch); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		adopted := pod.DeepCopy()
		if !hasTrackingFinalizer(adopted) {
			adopted.Finalizers = append(adopted.Finalizers, batchv1.JobTrackingFinalizer)
		}
		claimed = append(claimed, adopted)
	}
	if len(errs) > 0 {
		return claimed, errs[0]
	}
	return claimed, nil
}

func isJobFinished(job *batchv1.Job) bool {
	_, finished := finishedCondition(job)
	return finished
}

func finishedCondition(job *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

// managedByExternalController returns the managedBy of a Job another
// controller reconciles.
func managedByExternalController(job *batchv1.Job) *string {
	if m := job.Spec.ManagedBy; m != nil && *m != batchv1.JobControllerName {
		return m
	}
	return nil
}

func jobSuspended(job *batchv1.Job) bool {
	return job.Spec.Suspend != nil && *job.Spec.Suspend
}

func onlyReplaceFailedPods(job *batchv1.Job) bool {
	return job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed
}

// isPodFailed says whether pod counts as failed: Failed, or, unless only
// failed pods are replaced, being deleted before it succeeded.
func isPodFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(job) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}
