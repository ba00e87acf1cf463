// Package ephemeralvolume is Kubernetes' ephemeral volume controller: for
// every generic ephemeral volume of a pod it creates the
// PersistentVolumeClaim <pod>-<volume> from the volume's template, owned by
// the pod so that the claim goes when the pod goes.
package ephemeralvolume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-helpers/storage/ephemeral"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "ephemeral-volume-controller"
	// DefaultWorkers is kube-controller-manager's
	// --concurrent-ephemeralvolume-syncs.
	DefaultWorkers = 5

	// podPVCIndex indexes pods by the claims they use, "namespace/name",
	// upstream's index of the same name.
	podPVCIndex = "pod-pvc-index"
	// reasonFailedBinding is upstream's event reason for a volume whose
	// claim cannot be made.
	reasonFailedBinding = "FailedBinding"
	// eventComponent is the source upstream's events carry.
	eventComponent = "ephemeral_volume"
)

// Controller creates the claims of generic ephemeral volumes.
type Controller struct {
	client    kubernetes.Interface
	pods      corelisters.PodLister
	podIndex  cache.Indexer
	claims    corelisters.PersistentVolumeClaimLister
	recorder  record.EventRecorder
	broadcast record.EventBroadcaster
	queue     workqueue.TypedRateLimitingInterface[string]
	synced    []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, pods coreinformers.PodInformer, claims coreinformers.PersistentVolumeClaimInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("ephemeral volume controller client: %w", err)
	}
	return New(client, pods, claims)
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, pods coreinformers.PodInformer, claims coreinformers.PersistentVolumeClaimInformer) (*Controller, error) {
	broadcast := record.NewBroadcaster()
	broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	c := &Controller{
		client:    client,
		pods:      pods.Lister(),
		podIndex:  pods.Informer().GetIndexer(),
		claims:    claims.Lister(),
		recorder:  broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent}),
		broadcast: broadcast,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ephemeral_volume"}),
	}
	if _, ok := c.podIndex.GetIndexers()[podPVCIndex]; !ok {
		if err := pods.Informer().AddIndexers(cache.Indexers{podPVCIndex: podClaimKeys}); err != nil {
			return nil, fmt.Errorf("indexing pods by claim: %w", err)
		}
	}
	// Only new pods need claims: a pod's volumes never change, and a claim
	// deleted under a pod is made again through the claim's delete event.
	podReg, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: c.enqueuePod})
	if err != nil {
		return nil, fmt.Errorf("watching pods for the ephemeral volume controller: %w", err)
	}
	claimReg, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.claimDeleted})
	if err != nil {
		return nil, fmt.Errorf("watching claims for the ephemeral volume controller: %w", err)
	}
	c.synced = []cache.InformerSynced{podReg.HasSynced, claimReg.HasSynced}
	return c, nil
}

// podClaimKeys is the index function of podPVCIndex: the claims a pod
// names and those its ephemeral volumes get.
func podClaimKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var keys []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			keys = append(keys, pod.Namespace+"/"+v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			keys = append(keys, pod.Namespace+"/"+ephemeral.VolumeClaimName(pod, v))
		}
	}
	return keys, nil
}

func (c *Controller) enqueuePod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.DeletionTimestamp != nil {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if v.Ephemeral != nil {
			c.queue.Add(pod.Namespace + "/" + pod.Name)
			return
		}
	}
}

func (c *Controller) claimDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	claim, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	pods, err := c.podIndex.ByIndex(podPVCIndex, claim.Namespace+"/"+claim.Name)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing pods of claim %s/%s from the cache: %w", claim.Namespace, claim.Name, err))
		return
	}
	for _, pod := range pods {
		c.enqueuePod(pod)
	}
}

// Run creates claims with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.broadcast.Shutdown()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

// Sync creates the missing claims of the pod named key, namespace/name.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// A pod on its way out needs no new claims; they would only be
	// collected again.
	if pod.DeletionTimestamp != nil {
		return nil
	}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if err := c.ensureClaim(ctx, pod, v); err != nil {
			c.recorder.Event(pod, corev1.EventTypeWarning, reasonFailedBinding, fmt.Sprintf("ephemeral volume %s: %v", v.Name, err))
			return fmt.Errorf("pod %s, ephemeral volume %s: %w", key, v.Name, err)
		}
	}
	return nil
}

// ensureClaim creates the claim of volume v unless it exists; a claim of
// that name that the pod does not own is an error, as upstream's: the pod
// must not use someone else's data.
func (c *Controller) ensureClaim(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) error {
	if v.Ephemeral == nil || v.Ephemeral.VolumeClaimTemplate == nil {
		return nil
	}
	name := ephemeral.VolumeClaimName(pod, v)
	claim, err := c.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if claim != nil {
		return ephemeral.VolumeIsForPod(pod, claim)
	}
	tmpl := v.Ephemeral.VolumeClaimTemplate
	claim = &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "v1",
				Kind:               "Pod",
				Name:               pod.Name,
				UID:                pod.UID,
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
			Annotations: tmpl.Annotations,
			Labels:      tmpl.Labels,
		},
		Spec: tmpl.Spec,
	}
	if _, err := c.client.CoreV1().PersistentVolumeClaims(pod.Namespace).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create PVC %s: %w", name, err)
	}
	klog.FromContext(ctx).V(4).Info("Created the claim of an ephemeral volume", "pod", klog.KObj(pod), "volume", v.Name, "claim", klog.KRef(pod.Namespace, name))
	return nil
}
