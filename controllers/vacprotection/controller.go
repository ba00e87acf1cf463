// Package vacprotection is kube-controller-manager's
// volumeattributesclass-protection-controller: a VolumeAttributesClass
// keeps its kubernetes.io/vac-protection finalizer, which admission adds,
// while any volume or claim refers to it, so that a class in use cannot
// disappear under a volume being modified.
package vacprotection

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "volumeattributesclass-protection-controller"
	// Finalizer is what StorageObjectInUseProtection admission adds.
	Finalizer = "kubernetes.io/vac-protection"
	// DefaultWorkers is upstream's worker count.
	DefaultWorkers = 1

	// classIndex indexes volumes and claims by the classes they name.
	classIndex = "volumeAttributesClassName"
)

// Controller removes the finalizer of classes nothing refers to.
type Controller struct {
	client  kubernetes.Interface
	classes storagelisters.VolumeAttributesClassLister
	volumes cache.Indexer
	claims  cache.Indexer
	queue   workqueue.TypedRateLimitingInterface[string]
	synced  []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, claims coreinformers.PersistentVolumeClaimInformer, volumes coreinformers.PersistentVolumeInformer,
	classes storageinformers.VolumeAttributesClassInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("vac protection client: %w", err)
	}
	return New(client, claims, volumes, classes)
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, claims coreinformers.PersistentVolumeClaimInformer, volumes coreinformers.PersistentVolumeInformer,
	classes storageinformers.VolumeAttributesClassInformer) (*Controller, error) {
	c := &Controller{
		client:  client,
		classes: classes.Lister(),
		volumes: volumes.Informer().GetIndexer(),
		claims:  claims.Informer().GetIndexer(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "vacprotection"}),
	}
	if err := volumes.Informer().AddIndexers(cache.Indexers{classIndex: func(obj any) ([]string, error) {
		if pv, ok := obj.(*corev1.PersistentVolume); ok {
			return volumeClasses(pv), nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("indexing volumes by attributes class: %w", err)
	}
	if err := claims.Informer().AddIndexers(cache.Indexers{classIndex: func(obj any) ([]string, error) {
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			return claimClasses(pvc), nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("indexing claims by attributes class: %w", err)
	}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{classes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.classChanged,
			UpdateFunc: func(_, obj any) { c.classChanged(obj) },
		}},
		// A class is freed when the last reference to it goes: a claim or
		// volume dropping it or being deleted.
		{claims.Informer(), onDroppedReferences(c.queue, claimClasses)},
		{volumes.Informer(), onDroppedReferences(c.queue, volumeClasses)},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("watching for vac protection: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// claimClasses are the classes a claim refers to: the one it asks for,
// the one it has, and the one a modification is under way to.
func claimClasses(pvc *corev1.PersistentVolumeClaim) []string {
	names := sets.New[string]()
	for _, n := range []string{ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""), ptr.Deref(pvc.Status.CurrentVolumeAttributesClassName, "")} {
		if n != "" {
			names.Insert(n)
		}
	}
	if s := pvc.Status.ModifyVolumeStatus; s != nil && s.TargetVolumeAttributesClassName != "" {
		names.Insert(s.TargetVolumeAttributesClassName)
	}
	return names.UnsortedList()
}

func volumeClasses(pv *corev1.PersistentVolume) []string {
	if n := ptr.Deref(pv.Spec.VolumeAttributesClassName, ""); n != "" {
		return []string{n}
	}
	return nil
}

// onDroppedReferences queues the classes an object of type T stops
// referring to, by an update or by going away.
func onDroppedReferences[T any](queue workqueue.TypedInterface[string], classesOf func(T) []string) cache.ResourceEventHandlerFuncs {
	refs := func(obj any) []string {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if o, ok := obj.(T); ok {
			return classesOf(o)
		}
		return nil
	}
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			for n := range sets.New(refs(old)...).Delete(refs(cur)...) {
				queue.Add(n)
			}
		},
		DeleteFunc: func(obj any) {
			for _, n := range refs(obj) {
				queue.Add(n)
			}
		},
	}
}

func (c *Controller) classChanged(obj any) {
	if vac, ok := obj.(*storagev1.VolumeAttributesClass); ok && (needsFinalizer(vac) || isDeletionCandidate(vac)) {
		c.queue.Add(vac.Name)
	}
}

func isDeletionCandidate(vac *storagev1.VolumeAttributesClass) bool {
	return vac.DeletionTimestamp != nil && slices.Contains(vac.Finalizers, Finalizer)
}

func needsFinalizer(vac *storagev1.VolumeAttributesClass) bool {
	return vac.DeletionTimestamp == nil && !slices.Contains(vac.Finalizers, Finalizer)
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync keeps the finalizer on the class named key while it is in use.
func (c *Controller) Sync(ctx context.Context, key string) error {
	vac, err := c.classes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	clone := vac.DeepCopy()
	switch {
	case isDeletionCandidate(vac):
		used, err := c.inUse(key)
		if err != nil || used {
			return err
		}
		clone.Finalizers = slices.DeleteFunc(clone.Finalizers, func(f string) bool { return f == Finalizer })
	case needsFinalizer(vac):
		clone.Finalizers = append(clone.Finalizers, Finalizer)
	default:
		return nil
	}
	if _, err := c.client.StorageV1().VolumeAttributesClasses().Update(ctx, clone, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the protection finalizer of VolumeAttributesClass %s: %w", key, err)
	}
	klog.FromContext(ctx).V(3).Info("Updated protection finalizer of VAC", "VAC", klog.KObj(vac))
	return nil
}

// inUse reports whether a volume or claim refers to the class.
func (c *Controller) inUse(name string) (bool, error) {
	for _, idx := range []cache.Indexer{c.volumes, c.claims} {
		objs, err := idx.ByIndex(classIndex, name)
		if err != nil {
			return true, fmt.Errorf("listing users of VolumeAttributesClass %s: %w", name, err)
		}
		if len(objs) > 0 {
			return true, nil
		}
	}
	return false, nil
}
