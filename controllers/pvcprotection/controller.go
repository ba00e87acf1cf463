// Package pvcprotection is kube-controller-manager's
// pvc-protection-controller: a claim being deleted keeps its
// kubernetes.io/pvc-protection finalizer, which admission added, until no
// scheduled pod uses it any more.
package pvcprotection

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-helpers/storage/ephemeral"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "pvc-protection-controller"
	// Finalizer is what StorageObjectInUseProtection admission adds.
	Finalizer = "kubernetes.io/pvc-protection"
	// DefaultWorkers is upstream's worker count.
	DefaultWorkers = 1
)

// Controller removes the finalizer of claims no pod uses.
type Controller struct {
	client kubernetes.Interface
	claims corelisters.PersistentVolumeClaimLister
	pods   corelisters.PodLister
	queue  workqueue.TypedRateLimitingInterface[string]
	synced []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, claims coreinformers.PersistentVolumeClaimInformer, pods coreinformers.PodInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("pvc protection client: %w", err)
	}
	return New(client, claims, pods), nil
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, claims coreinformers.PersistentVolumeClaimInformer, pods coreinformers.PodInformer) *Controller {
	c := &Controller{
		client: client,
		claims: claims.Lister(),
		pods:   pods.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "pvcprotection"}),
	}
	cr, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.claimChanged,
		UpdateFunc: func(_, obj any) { c.claimChanged(obj) },
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumeclaims for pvc protection: %w", err))
	}
	pr, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podChanged,
		UpdateFunc: func(_, obj any) { c.podChanged(obj) },
		DeleteFunc: c.podChanged,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching pods for pvc protection: %w", err))
	}
	for _, r := range []cache.ResourceEventHandlerRegistration{cr, pr} {
		if r != nil {
			c.synced = append(c.synced, r.HasSynced)
		}
	}
	return c
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func (c *Controller) claimChanged(obj any) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	if needsFinalizer(pvc) || isDeletionCandidate(pvc) {
		c.queue.Add(pvc.Namespace + "/" + pvc.Name)
	}
}

// podChanged queues the claims of a pod that went away or finished, which
// may have been the last user of a claim being deleted.
func (c *Controller) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			c.queue.Add(pod.Namespace + "/" + v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			c.queue.Add(pod.Namespace + "/" + ephemeral.VolumeClaimName(pod, v))
		}
	}
}

func isDeletionCandidate(pvc *corev1.PersistentVolumeClaim) bool {
	return pvc.DeletionTimestamp != nil && slices.Contains(pvc.Finalizers, Finalizer)
}

func needsFinalizer(pvc *corev1.PersistentVolumeClaim) bool {
	return pvc.DeletionTimestamp == nil && !slices.Contains(pvc.Finalizers, Finalizer)
}

// Sync keeps the finalizer on the claim named key (namespace/name) while a
// pod uses it.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pvc, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case isDeletionCandidate(pvc):
		used, err := c.isBeingUsed(ctx, pvc)
		if err != nil || used {
			return err
		}
		clone := pvc.DeepCopy()
		clone.Finalizers = slices.DeleteFunc(clone.Finalizers, func(f string) bool { return f == Finalizer })
		if _, err := c.client.CoreV1().PersistentVolumeClaims(ns).Update(ctx, clone, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the protection finalizer of claim %s: %w", key, err)
		}
		klog.FromContext(ctx).V(3).Info("Removed protection finalizer from PVC", "PVC", klog.KObj(pvc))
	case needsFinalizer(pvc):
		// Admission adds it; this covers claims created before.
		clone := pvc.DeepCopy()
		clone.Finalizers = append(clone.Finalizers, Finalizer)
		if _, err := c.client.CoreV1().PersistentVolumeClaims(ns).Update(ctx, clone, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("adding the protection finalizer to claim %s: %w", key, err)
		}
	}
	return nil
}

// isBeingUsed asks the cache, then, before letting the claim go, the API
// server: a pod the cache has not seen yet must keep it too.
func (c *Controller) isBeingUsed(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (bool, error) {
	pods, err := c.pods.Pods(pvc.Namespace).List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, p := range pods {
		if PodUsesClaim(p, pvc) {
			return true, nil
		}
	}
	list, err := c.client.CoreV1().Pods(pvc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, fmt.Errorf("listing pods using claim %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	for i := range list.Items {
		if PodUsesClaim(&list.Items[i], pvc) {
			return true, nil
		}
	}
	return false, nil
}

// PodUsesClaim is upstream's test: only a scheduled pod counts (the kubelet
// refuses to start one whose claim is being deleted); a generic ephemeral
// claim is free once its pod has shut down.
func PodUsesClaim(pod *corev1.Pod, pvc *corev1.PersistentVolumeClaim) bool {
	if pod.Spec.NodeName == "" {
		return false
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name {
			return true
		}
		if v.Ephemeral != nil && !podIsShutDown(pod) && ephemeral.VolumeClaimName(pod, v) == pvc.Name && ephemeral.VolumeIsForPod(pod, pvc) == nil {
			return true
		}
	}
	return false
}

// podIsShutDown: the kubelet is done with it, or it was force-deleted.
func podIsShutDown(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds == 0
}
