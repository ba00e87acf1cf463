// Package pvprotection is kube-controller-manager's
// pv-protection-controller: a volume being deleted keeps its
// kubernetes.io/pv-protection finalizer, which admission added, while it is
// Bound.
package pvprotection

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "pv-protection-controller"
	// Finalizer is what StorageObjectInUseProtection admission adds.
	Finalizer = "kubernetes.io/pv-protection"
	// DefaultWorkers is upstream's worker count.
	DefaultWorkers = 1
)

// Controller removes the finalizer of volumes no claim is bound to.
type Controller struct {
	client  kubernetes.Interface
	volumes corelisters.PersistentVolumeLister
	queue   workqueue.TypedRateLimitingInterface[string]
	synced  []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, volumes coreinformers.PersistentVolumeInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("pv protection client: %w", err)
	}
	return New(client, volumes), nil
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, volumes coreinformers.PersistentVolumeInformer) *Controller {
	c := &Controller{
		client:  client,
		volumes: volumes.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvprotection"}),
	}
	r, err := volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.volumeChanged,
		UpdateFunc: func(_, obj any) { c.volumeChanged(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumes for pv protection: %w", err))
	}
	if r != nil {
		c.synced = append(c.synced, r.HasSynced)
	}
	return c
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func (c *Controller) volumeChanged(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok && (needsFinalizer(pv) || isDeletionCandidate(pv)) {
		c.queue.Add(pv.Name)
	}
}

func isDeletionCandidate(pv *corev1.PersistentVolume) bool {
	return pv.DeletionTimestamp != nil && slices.Contains(pv.Finalizers, Finalizer)
}

func needsFinalizer(pv *corev1.PersistentVolume) bool {
	return pv.DeletionTimestamp == nil && !slices.Contains(pv.Finalizers, Finalizer)
}

// Sync keeps the finalizer on the volume named key while it is Bound.
func (c *Controller) Sync(ctx context.Context, key string) error {
	pv, err := c.volumes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	clone := pv.DeepCopy()
	switch {
	case isDeletionCandidate(pv):
		// The binder keeps the phase: Bound means a claim uses it.
		if pv.Status.Phase == corev1.VolumeBound {
			return nil
		}
		clone.Finalizers = slices.DeleteFunc(clone.Finalizers, func(f string) bool { return f == Finalizer })
	case needsFinalizer(pv):
		clone.Finalizers = append(clone.Finalizers, Finalizer)
	default:
		return nil
	}
	if _, err := c.client.CoreV1().PersistentVolumes().Update(ctx, clone, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the protection finalizer of volume %s: %w", key, err)
	}
	klog.FromContext(ctx).V(3).Info("Updated protection finalizer of PV", "PV", pv.Name)
	return nil
}
