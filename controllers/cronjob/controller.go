// Package cronjob is Kubernetes' CronJob controller (v2): it starts a Job
// for each schedule time of a CronJob, in its time zone, within its
// starting deadline and concurrency policy, keeps status.active and the
// last schedule and success times, prunes finished Jobs beyond the history
// limits, and requeues each CronJob exactly at its next schedule time.
package cronjob

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and its service account's.
	Name = "cronjob-controller"
	// DefaultWorkers is kube-controller-manager's --concurrent-cron-job-syncs.
	DefaultWorkers = 5
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Controller reconciles CronJobs with the Jobs they own.
type Controller struct {
	client   kubernetes.Interface
	clock    clock.PassiveClock
	recorder record.EventRecorder
	events   record.EventBroadcaster

	cronJobLister batchlisters.CronJobLister
	jobLister     batchlisters.JobLister
	synced        []cache.InformerSynced
	queue         workqueue.TypedRateLimitingInterface[string]
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, jobs batchinformers.JobInformer, cronJobs batchinformers.CronJobInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("cronjob controller client: %w", err)
	}
	return New(client, jobs, cronJobs, clock.RealClock{}), nil
}

// New returns a controller that writes through client, reads the
// informers' caches and takes the time from clk.
func New(client kubernetes.Interface, jobs batchinformers.JobInformer, cronJobs batchinformers.CronJobInformer, clk clock.PassiveClock) *Controller {
	events := record.NewBroadcaster()
	c := &Controller{
		client:        client,
		clock:         clk,
		events:        events,
		recorder:      events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name}),
		cronJobLister: cronJobs.Lister(),
		jobLister:     jobs.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob"}),
	}
	jh, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching jobs for the cronjob controller: %w", err))
	}
	ch, err := cronJobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching cronjobs for the cronjob controller: %w", err))
	}
	for _, h := range []cache.ResourceEventHandlerRegistration{jh, ch} {
		if h != nil {
			c.synced = append(c.synced, h.HasSynced)
		}
	}
	return c
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.events.StartStructuredLogging(3)
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.events.Shutdown()
	(&worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}).Run(ctx, workers)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("couldn't get key for object %+v: %w", obj, err))
		return
	}
	c.queue.Add(key)
}

func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *batchv1.CronJob {
	if ref.Kind != cronJobKind.Kind {
		return nil
	}
	cj, err := c.cronJobLister.CronJobs(namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return nil
	}
	return cj
}

func (c *Controller) addJob(obj any) {
	job := obj.(*batchv1.Job)
	if job.DeletionTimestamp != nil {
		c.deleteJob(job)
		return
	}
	if ref := metav1.GetControllerOf(job); ref != nil {
		if cj := c.resolveControllerRef(job.Namespace, ref); cj != nil {
			c.enqueue(cj)
		}
	}
}

func (c *Controller) updateJob(old, cur any) {
	curJob, oldJob := cur.(*batchv1.Job), old.(*batchv1.Job)
	if curJob.ResourceVersion == oldJob.ResourceVersion {
		return
	}
	curRef, oldRef := metav1.GetControllerOf(curJob), metav1.GetControllerOf(oldJob)
	if !reflect.DeepEqual(curRef, oldRef) && oldRef != nil {
		if cj := c.resolveControllerRef(oldJob.Namespace, oldRef); cj != nil {
			c.enqueue(cj)
		}
	}
	if curRef != nil {
		if cj := c.resolveControllerRef(curJob.Namespace, curRef); cj != nil {
			c.enqueue(cj)
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
	if ref := metav1.GetControllerOf(job); ref != nil {
		if cj := c.resolveControllerRef(job.Namespace, ref); cj != nil {
			c.enqueue(cj)
		}
	}
}

// updateCronJob requeues at the new schedule's next time when the schedule
// or time zone changed, else now.
func (c *Controller) updateCronJob(old, cur any) {
	oldCJ, ok1 := old.(*batchv1.CronJob)
	newCJ, ok2 := cur.(*batchv1.CronJob)
	if !ok1 || !ok2 {
		return
	}
	if oldCJ.Spec.Schedule != newCJ.Spec.Schedule || !ptr.Equal(oldCJ.Spec.TimeZone, newCJ.Spec.TimeZone) {
		sched, err := parseSchedule(formatSchedule(newCJ, nil))
		if err != nil {
			klog.V(2).InfoS("Unparseable schedule for cronjob", "cronjob", klog.KObj(newCJ), "schedule", newCJ.Spec.Schedule, "err", err)
			c.recorder.Eventf(newCJ, corev1.EventTypeWarning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s", newCJ.Spec.Schedule)
			return
		}
		c.queue.AddAfter(newCJ.Namespace+"/"+newCJ.Name, nextScheduleTimeDuration(newCJ, c.clock.Now(), sched))
		return
	}
	c.enqueue(cur)
}

// Sync reconciles the CronJob named by key and requeues it for its next
// schedule time.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	cj, err := c.cronJobLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	jobs, err := c.jobsFor(cj)
	if err != nil {
		return err
	}
	cj = cj.DeepCopy()
	cleaned := c.cleanupFinishedJobs(ctx, cj, jobs)
	requeueAfter, synced, syncErr := c.syncCronJob(ctx, cj, jobs)
	if syncErr != nil {
		logger.V(2).Info("Error reconciling cronjob", "cronjob", klog.KObj(cj), "err", syncErr)
	}
	if cleaned || synced {
		if _, err := c.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			logger.V(2).Info("Unable to update status for cronjob", "cronjob", klog.KObj(cj), "resourceVersion", cj.ResourceVersion, "err", err)
			return fmt.Errorf("updating status of cronjob %s: %w", key, err)
		}
	}
	if requeueAfter != nil {
		logger.V(4).Info("Re-queuing cronjob", "cronjob", klog.KObj(cj), "requeueAfter", *requeueAfter)
		c.queue.AddAfter(key, *requeueAfter)
		return nil
	}
	return syncErr
}

// jobsFor are the Jobs the CronJob controls.
func (c *Controller) jobsFor(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobLister.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			out = append(out, j)
		}
	}
	return out, nil
}

// syncCronJob updates cj's status from its jobs and starts the Job of the
// current schedule time if due; it returns when to sync again and whether
// the status changed.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*time.Duration, bool, error) {
	logger := klog.FromContext(ctx)
	now := c.clock.Now()
	updateStatus := false

	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found := inActiveList(cj, j.UID)
		finished, cond := finishedCondition(j)
		switch {
		case !found && !finished:
			// The cache may be behind the status this controller wrote.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, updateStatus, err
			}
			if inActiveList(fresh, j.UID) {
				cj = fresh
				continue
			}
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case finished:
			if found {
				deleteFromActiveList(cj, j.UID)
				c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, cond)
				updateStatus = true
			}
			if cond == batchv1.JobComplete && j.Status.CompletionTime != nil {
				if cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time) {
					cj.Status.LastSuccessfulTime = j.Status.CompletionTime
					updateStatus = true
				}
			}
		}
	}
	// Active Jobs the cache does not show may be gone, or just not seen yet.
	for _, ref := range cj.Status.Active {
		if children[ref.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			deleteFromActiveList(cj, ref.UID)
			updateStatus = true
		case err != nil:
			return nil, updateStatus, err
		}
	}

	if cj.DeletionTimestamp != nil {
		// The garbage collector removes the Jobs.
		return nil, updateStatus, nil
	}
	if tz := cj.Spec.TimeZone; tz != nil {
		if _, err := time.LoadLocation(*tz); err != nil {
			logger.V(4).Info("Not starting job because timeZone is invalid", "cronjob", klog.KObj(cj), "timeZone", *tz, "err", err)
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *tz, err)
			return nil, updateStatus, nil
		}
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		logger.V(4).Info("Not starting job because the cron is suspended", "cronjob", klog.KObj(cj))
		return nil, updateStatus, nil
	}
	sched, err := parseSchedule(formatSchedule(cj, c.recorder))
	if err != nil {
		logger.V(2).Info("Unparseable schedule", "cronjob", klog.KObj(cj), "schedule", cj.Spec.Schedule, "err", err)
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, updateStatus, nil
	}
	scheduledTime, err := nextScheduleTime(logger, cj, now, sched, c.recorder)
	if err != nil {
		logger.V(2).Info("Invalid schedule", "cronjob", klog.KObj(cj), "schedule", cj.Spec.Schedule, "err", err)
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return nil, updateStatus, nil
	}
	next := func() (*time.Duration, bool, error) {
		d := nextScheduleTimeDuration(cj, now, sched)
		return &d, updateStatus, nil
	}
	if scheduledTime == nil {
		logger.V(4).Info("No unmet start times", "cronjob", klog.KObj(cj))
		return next()
	}
	if cj.Spec.StartingDeadlineSeconds != nil && scheduledTime.Add(time.Second*time.Duration(*cj.Spec.StartingDeadlineSeconds)).Before(now) {
		logger.V(4).Info("Missed starting window", "cronjob", klog.KObj(cj))
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduledTime.UTC().Format(time.RFC1123Z))
		return next()
	}
	jobName := jobNameFor(cj, *scheduledTime)
	if inActiveListByName(cj, cj.Namespace, jobName) || cj.Status.LastScheduleTime.Equal(&metav1.Time{Time: *scheduledTime}) {
		logger.V(4).Info("Not starting job because the scheduled time is already processed", "cronjob", klog.KObj(cj), "schedule", scheduledTime)
		return next()
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		// Not starting now is final for this schedule time: with the
		// requeue at the next one it is skipped, as upstream.
		logger.V(4).Info("Not starting job because prior execution is still running and concurrency policy is Forbid", "cronjob", klog.KObj(cj))
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return next()
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, ref := range cj.Status.Active {
			logger.V(4).Info("Deleting job that was still running at next scheduled start time", "job", klog.KRef(ref.Namespace, ref.Name))
			job, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if err != nil {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, updateStatus, err
			}
			if !c.deleteOwnedJob(ctx, cj, job) {
				return nil, updateStatus, fmt.Errorf("could not replace job %s/%s", job.Namespace, job.Name)
			}
			updateStatus = true
		}
	}

	jobReq, err := jobFromTemplate(cj, *scheduledTime)
	if err != nil {
		logger.Error(err, "Unable to make Job from template", "cronjob", klog.KObj(cj))
		return nil, updateStatus, err
	}
	jobResp, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, jobReq, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, updateStatus, err
	case apierrors.IsAlreadyExists(err):
		// An earlier sync created it but its status update was lost.
		existing, err := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, jobReq.Name, metav1.GetOptions{})
		if err != nil {
			return nil, updateStatus, err
		}
		if !metav1.IsControlledBy(existing, cj) || inActiveList(cj, existing.UID) {
			return nil, updateStatus, nil
		}
		logger.Info("Job already exists", "cronjob", klog.KObj(cj), "job", klog.KObj(jobReq))
		jobResp = existing
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, updateStatus, err
	default:
		logger.V(4).Info("Created Job", "job", klog.KObj(jobResp), "cronjob", klog.KObj(cj))
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", jobResp.Name)
	}

	ref, err := reference.GetReference(scheme.Scheme, jobResp)
	if err != nil {
		return nil, updateStatus, fmt.Errorf("unable to make object reference for job for %s", klog.KObj(cj))
	}
	cj.Status.Active = append(cj.Status.Active, *ref)
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduledTime}
	updateStatus = true
	return next()
}

// jobNameFor names a CronJob's Job by its schedule time in minutes, so that
// one schedule time never gets two Jobs.
func jobNameFor(cj *batchv1.CronJob, scheduledTime time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduledTime.Unix()/60)
}

func jobFromTemplate(cj *batchv1.CronJob, scheduledTime time.Time) (*batchv1.Job, error) {
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, err
	}
	annotations := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduledTime.In(loc).Format(time.RFC3339)
	lbls := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		lbls[k] = v
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:              jobNameFor(cj, scheduledTime),
			Labels:            lbls,
			Annotations:       annotations,
			CreationTimestamp: metav1.Time{Time: scheduledTime},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job, nil
}

// cleanupFinishedJobs deletes the oldest finished Jobs beyond the history
// limits.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	if cj.Spec.FailedJobsHistoryLimit == nil && cj.Spec.SuccessfulJobsHistoryLimit == nil {
		return false
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch finished, cond := finishedCondition(j); {
		case finished && cond == batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case finished && cond == batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	updated := false
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil && c.removeOldestJobs(ctx, cj, succeeded, *l) {
		updated = true
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil && c.removeOldestJobs(ctx, cj, failed, *l) {
		updated = true
	}
	return updated
}

func (c *Controller) removeOldestJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, limit int32) bool {
	n := len(jobs) - int(limit)
	if n <= 0 {
		return false
	}
	klog.FromContext(ctx).V(4).Info("Cleaning up jobs from CronJob list", "deletejobnum", n, "jobnum", len(jobs), "cronjob", klog.KObj(cj))
	sortByStartTime(jobs)
	updated := false
	for _, j := range jobs[:n] {
		if c.deleteOwnedJob(ctx, cj, j) {
			updated = true
		}
	}
	return updated
}

// deleteOwnedJob deletes a Job in the background and drops it from active.
func (c *Controller) deleteOwnedJob(ctx context.Context, cj *batchv1.CronJob, job *batchv1.Job) bool {
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		klog.FromContext(ctx).Error(err, "Error deleting job from cronjob", "job", klog.KObj(job), "cronjob", klog.KObj(cj))
		return false
	}
	deleteFromActiveList(cj, job.UID)
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", job.Name)
	return true
}

// sortByStartTime puts Jobs never started last, ties by name.
func sortByStartTime(jobs []*batchv1.Job) {
	sort.SliceStable(jobs, func(i, j int) bool {
		a, b := jobs[i].Status.StartTime, jobs[j].Status.StartTime
		switch {
		case a == nil && b != nil:
			return false
		case a != nil && b == nil:
			return true
		case a.Equal(b):
			return jobs[i].Name < jobs[j].Name
		}
		return a.Before(b)
	})
}

func finishedCondition(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

func inActiveList(cj *batchv1.CronJob, uid types.UID) bool {
	for _, j := range cj.Status.Active {
		if j.UID == uid {
			return true
		}
	}
	return false
}

func inActiveListByName(cj *batchv1.CronJob, namespace, name string) bool {
	for _, j := range cj.Status.Active {
		if j.Name == name && j.Namespace == namespace {
			return true
		}
	}
	return false
}

func deleteFromActiveList(cj *batchv1.CronJob, uid types.UID) {
	active := []corev1.ObjectReference{}
	for _, j := range cj.Status.Active {
		if j.UID != uid {
			active = append(active, j)
		}
	}
	cj.Status.Active = active
}
