// Package ttlafterfinished is Kubernetes' ttl-after-finished-controller:
// it deletes a finished Job, with its pods in the foreground, once
// ttlSecondsAfterFinished have passed since it finished.
package ttlafterfinished

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name in kube-controller-manager.
	Name = "ttl-after-finished-controller"
	// DefaultWorkers is --concurrent-ttl-after-finished-syncs' default.
	DefaultWorkers = 5
)

// Option changes how New builds the controller.
type Option func(*Controller)

// WithClock makes the controller tell time, and wait for expiry, by clk.
func WithClock(clk clock.WithTicker) Option { return func(c *Controller) { c.clock = clk } }

// Controller deletes finished Jobs whose TTL ran out.
type Controller struct {
	client kubernetes.Interface
	jobs   batchlisters.JobLister
	synced []cache.InformerSynced
	queue  workqueue.TypedRateLimitingInterface[string]
	clock  clock.WithTicker
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, jobs batchinformers.JobInformer, opts ...Option) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("ttl-after-finished controller client: %w", err)
	}
	return New(client, jobs, opts...)
}

// New returns a controller that deletes through client.
func New(client kubernetes.Interface, jobs batchinformers.JobInformer, opts ...Option) (*Controller, error) {
	c := &Controller{client: client, jobs: jobs.Lister(), clock: clock.RealClock{}}
	for _, o := range opts {
		o(c)
	}
	c.queue = workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "ttl_jobs_to_delete", Clock: c.clock})
	reg, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("watching jobs for the ttl-after-finished controller: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced}
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if job, ok := obj.(*batchv1.Job); ok && job.DeletionTimestamp == nil && needsCleanup(job) {
		c.queue.Add(cache.NewObjectName(job.Namespace, job.Name).String())
	}
}

// Run deletes with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync deletes the Job named key if its TTL ran out, or comes back to it
// when it will have. The cache says whether to look; a fresh read decides,
// since the TTL may have been changed.
func (c *Controller) Sync(ctx context.Context, key string) error {
	name, err := cache.ParseObjectName(key)
	if err != nil {
		return err
	}
	job, err := c.jobs.Jobs(name.Namespace).Get(name.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading job %s from the cache: %w", key, err)
	}
	klog.FromContext(ctx).V(4).Info("Checking if Job is ready for cleanup", "job", klog.KObj(job))
	if expired, err := c.expired(ctx, key, job); err != nil || !expired {
		return err
	}
	fresh, err := c.client.BatchV1().Jobs(name.Namespace).Get(ctx, name.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading job %s: %w", key, err)
	}
	if expired, err := c.expired(ctx, key, fresh); err != nil || !expired {
		return err
	}
	// Foreground, so that the Job goes only after its pods.
	policy := metav1.DeletePropagationForeground
	klog.FromContext(ctx).V(4).Info("Cleaning up Job", "job", klog.KObj(fresh))
	err = c.client.BatchV1().Jobs(fresh.Namespace).Delete(ctx, fresh.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	return nil
}

// expired reports whether job's TTL ran out, queueing key for when it
// will otherwise.
func (c *Controller) expired(ctx context.Context, key string, job *batchv1.Job) (bool, error) {
	if job.DeletionTimestamp != nil || !needsCleanup(job) {
		return false, nil
	}
	finishAt, err := finishTime(job)
	if err != nil {
		return false, err
	}
	now := c.clock.Now()
	if finishAt.After(now) {
		klog.FromContext(ctx).Info("Warning: Found Job finished in the future. This is likely due to time skew in the cluster. Job cleanup will be deferred.", "job", klog.KObj(job))
	}
	left := finishAt.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now)
	if left <= 0 {
		return true, nil
	}
	c.queue.AddAfter(key, left)
	return false, nil
}

func needsCleanup(job *batchv1.Job) bool {
	if job.Spec.TTLSecondsAfterFinished == nil {
		return false
	}
	_, ok := finishedCondition(job)
	return ok
}

func finishedCondition(job *batchv1.Job) (batchv1.JobCondition, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return batchv1.JobCondition{}, false
}

// finishTime is when the Job's Complete or Failed condition became true.
func finishTime(job *batchv1.Job) (time.Time, error) {
	c, ok := finishedCondition(job)
	if !ok {
		return time.Time{}, fmt.Errorf("unable to find the status of the finished Job %s/%s", job.Namespace, job.Name)
	}
	if c.LastTransitionTime.IsZero() {
		return time.Time{}, fmt.Errorf("unable to find the time when the Job %s/%s finished", job.Namespace, job.Name)
	}
	return c.LastTransitionTime.Time, nil
}
