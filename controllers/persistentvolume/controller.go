// Package persistentvolume is kube-controller-manager's
// persistent-volume-binder: it binds PersistentVolumeClaims to matching
// PersistentVolumes, keeps both phases, hands claims of classes with an
// external provisioner to that provisioner, and carries out the reclaim
// policy of volumes whose claim is gone.
package persistentvolume

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	storageinformers "k8s.io/client-go/informers/storage/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	storagehelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "persistent-volume-binder"
	// eventSource is the component upstream's events name.
	eventSource = "persistentvolume-controller"
	// DefaultSyncPeriod is kube-controller-manager's
	// --pvclaimbinder-sync-period: how often every volume and claim is
	// synced again, which is how pending claims find volumes created later.
	DefaultSyncPeriod = 15 * time.Second
)

// Event reasons, upstream's.
const (
	reasonFailedBinding        = "FailedBinding"
	reasonVolumeMismatch       = "VolumeMismatch"
	reasonVolumeFailedRecycle  = "VolumeFailedRecycle"
	reasonVolumeFailedDelete   = "VolumeFailedDelete"
	reasonExternalProvisioning = "ExternalProvisioning"
	reasonProvisioningFailed   = "ProvisioningFailed"
	reasonWaitForFirstConsumer = "WaitForFirstConsumer"
	reasonWaitForPodScheduled  = "WaitForPodScheduled"
)

// Controller is the persistent volume binder.
type Controller struct {
	client      kubernetes.Interface
	volumes     corelisters.PersistentVolumeLister
	claims      corelisters.PersistentVolumeClaimLister
	classes     storagelisters.StorageClassLister
	pods        corelisters.PodLister
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	volumeQueue workqueue.TypedRateLimitingInterface[string]
	claimQueue  workqueue.TypedRateLimitingInterface[string]
	synced      []cache.InformerSynced
	syncPeriod  time.Duration
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, volumes coreinformers.PersistentVolumeInformer, claims coreinformers.PersistentVolumeClaimInformer,
	classes storageinformers.StorageClassInformer, pods coreinformers.PodInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("persistent volume binder client: %w", err)
	}
	return New(client, volumes, claims, classes, pods), nil
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, volumes coreinformers.PersistentVolumeInformer, claims coreinformers.PersistentVolumeClaimInformer,
	classes storageinformers.StorageClassInformer, pods coreinformers.PodInformer) *Controller {
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		client:      client,
		volumes:     volumes.Lister(),
		claims:      claims.Lister(),
		classes:     classes.Lister(),
		pods:        pods.Lister(),
		broadcaster: broadcaster,
		recorder:    broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventSource}),
		volumeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "volumes"}),
		claimQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "claims"}),
		syncPeriod: DefaultSyncPeriod,
	}
	vr, err := volumes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueVolume,
		UpdateFunc: func(_, obj any) { c.enqueueVolume(obj) },
		DeleteFunc: c.deleteVolume,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumes for the binder: %w", err))
	}
	cr, err := claims.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueClaim,
		UpdateFunc: func(_, obj any) { c.enqueueClaim(obj) },
		DeleteFunc: c.deleteClaim,
	})
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("watching persistentvolumeclaims for the binder: %w", err))
	}
	c.synced = []cache.InformerSynced{classes.Informer().HasSynced, pods.Informer().HasSynced}
	for _, r := range []cache.ResourceEventHandlerRegistration{vr, cr} {
		if r != nil {
			c.synced = append(c.synced, r.HasSynced)
		}
	}
	return c
}

// Run binds until ctx ends, with one worker per queue as upstream.
func (c *Controller) Run(ctx context.Context) {
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()
	volumes := &worker.Loop{Name: Name + " volumes", Queue: c.volumeQueue, Sync: c.SyncVolume, Synced: c.synced}
	claims := &worker.Loop{Name: Name + " claims", Queue: c.claimQueue, Sync: c.SyncClaim, Synced: c.synced}
	go volumes.Run(ctx, 1)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), c.synced...) {
			wait.UntilWithContext(ctx, c.resync, c.syncPeriod)
		}
	}()
	claims.Run(ctx, 1)
}

// resync queues everything again: claims wait for volumes created after
// them, and failed reclaims are retried.
func (c *Controller) resync(context.Context) {
	if pvs, err := c.volumes.List(labels.Everything()); err == nil {
		for _, pv := range pvs {
			c.volumeQueue.Add(pv.Name)
		}
	}
	if pvcs, err := c.claims.List(labels.Everything()); err == nil {
		for _, pvc := range pvcs {
			c.claimQueue.Add(pvc.Namespace + "/" + pvc.Name)
		}
	}
}

func (c *Controller) enqueueVolume(obj any) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		c.volumeQueue.Add(pv.Name)
	}
}

// deleteVolume sends the claim of a deleted volume to be marked Lost.
func (c *Controller) deleteVolume(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pv, ok := obj.(*corev1.PersistentVolume); ok && pv.Spec.ClaimRef != nil {
		c.claimQueue.Add(pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name)
	}
}

func (c *Controller) enqueueClaim(obj any) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		c.claimQueue.Add(pvc.Namespace + "/" + pvc.Name)
	}
}

// deleteClaim sends the volume of a deleted claim to be released.
func (c *Controller) deleteClaim(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && pvc.Spec.VolumeName != "" {
		c.volumeQueue.Add(pvc.Spec.VolumeName)
	}
}

// ---- claims

// SyncClaim reconciles the claim named by key (namespace/name).
func (c *Controller) SyncClaim(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	claim, err := c.claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !metav1.HasAnnotation(claim.ObjectMeta, storagehelpers.AnnBindCompleted) {
		return c.syncUnboundClaim(ctx, claim)
	}
	return c.syncBoundClaim(ctx, claim)
}

func (c *Controller) syncUnboundClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	if claim.Spec.VolumeName == "" {
		delayBinding, err := storagehelpers.IsDelayBindingMode(claim, c.classes)
		if err != nil {
			return err
		}
		volume, err := c.findBestMatch(claim, delayBinding)
		if err != nil {
			return fmt.Errorf("error finding PV for claim %q: %w", claimKey(claim), err)
		}
		if volume != nil {
			return c.bind(ctx, volume, claim)
		}
		if updated, err := c.assignDefaultStorageClass(ctx, claim); err != nil || updated {
			return err
		}
		switch {
		case delayBinding && !storagehelpers.IsDelayBindingProvisioning(claim):
			c.emitWaitForConsumer(claim)
		case storagehelpers.GetPersistentVolumeClaimClass(claim) != "":
			// The claim stays as it is until the provisioner's volume
			// appears and a later sync binds it.
			return c.provisionClaim(ctx, claim)
		default:
			c.recorder.Event(claim, corev1.EventTypeNormal, reasonFailedBinding, "no persistent volumes available for this claim and no storage class is set")
		}
		_, err = c.updateClaimStatus(ctx, claim, corev1.ClaimPending, nil)
		return err
	}
	volume, err := c.volumes.Get(claim.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		_, err = c.updateClaimStatus(ctx, claim, corev1.ClaimPending, nil)
		return err
	}
	if err != nil {
		return err
	}
	switch {
	case volume.Spec.ClaimRef == nil:
		if err := checkVolumeSatisfyClaim(volume, claim); err != nil {
			c.recorder.Event(claim, corev1.EventTypeWarning, reasonVolumeMismatch, fmt.Sprintf("Cannot bind to requested volume %q: %s", volume.Name, err))
			_, err = c.updateClaimStatus(ctx, claim, corev1.ClaimPending, nil)
			return err
		}
		return c.bind(ctx, volume, claim)
	case storagehelpers.IsVolumeBoundToClaim(volume, claim):
		return c.bind(ctx, volume, claim)
	default:
		c.recorder.Event(claim, corev1.EventTypeWarning, reasonFailedBinding, fmt.Sprintf("volume %q already bound to a different claim.", volume.Name))
		if metav1.HasAnnotation(claim.ObjectMeta, storagehelpers.AnnBoundByController) {
			return fmt.Errorf("invalid binding of claim %q to volume %q: volume already claimed by %q", claimKey(claim), claim.Spec.VolumeName,
				volume.Spec.ClaimRef.Namespace+"/"+volume.Spec.ClaimRef.Name)
		}
		_, err = c.updateClaimStatus(ctx, claim, corev1.ClaimPending, nil)
		return err
	}
}

// assignDefaultStorageClass gives a claim that names no class the default
// one, retroactively, as upstream does once a default class exists.
func (c *Controller) assignDefaultStorageClass(ctx context.Context, claim *corev1.PersistentVolumeClaim) (bool, error) {
	if storagehelpers.PersistentVolumeClaimHasClass(claim) {
		return false, nil
	}
	class, err := DefaultClass(c.classes)
	if err != nil || class == nil {
		return false, err
	}
	clone := claim.DeepCopy()
	clone.Spec.StorageClassName = &class.Name
	if _, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, clone, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("can't update PersistentVolumeClaim[%q]: %w", claimKey(claim), err)
	}
	return true, nil
}

// emitWaitForConsumer says why a WaitForFirstConsumer claim waits: for a
// pod to be created, or for the pods using it to be scheduled.
func (c *Controller) emitWaitForConsumer(claim *corev1.PersistentVolumeClaim) {
	reason, message := reasonWaitForFirstConsumer, "waiting for first consumer to be created before binding"
	var names []string
	pods, _ := c.pods.Pods(claim.Namespace).List(labels.Everything())
	for _, pod := range pods {
		if pod.Spec.NodeName == "" && !podTerminated(pod) && podUsesClaim(pod, claim.Name) {
			names = append(names, pod.Name)
		}
	}
	sort.Strings(names)
	switch len(names) {
	case 0:
	case 1:
		reason, message = reasonWaitForPodScheduled, fmt.Sprintf("waiting for pod %s to be scheduled", names[0])
	default:
		reason, message = reasonWaitForPodScheduled, fmt.Sprintf("waiting for pods %s to be scheduled", strings.Join(names, ","))
	}
	c.recorder.Event(claim, corev1.EventTypeNormal, reason, message)
}

func podTerminated(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// podUsesClaim tells whether pod mounts the claim, directly or as a generic
// ephemeral volume (whose claim is named <pod>-<volume>).
func podUsesClaim(pod *corev1.Pod, claim string) bool {
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
			return true
		}
		if v.Ephemeral != nil && pod.Name+"-"+v.Name == claim {
			return true
		}
	}
	return false
}

// provisionClaim hands the claim to its class's external provisioner by
// annotating it, as upstream does for every provisioner that is not an
// in-tree plugin (skiff has none).
func (c *Controller) provisionClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	class, err := c.classes.Get(storagehelpers.GetPersistentVolumeClaimClass(claim))
	if err != nil {
		c.recorder.Event(claim, corev1.EventTypeWarning, reasonProvisioningFailed, err.Error())
		return nil
	}
	if strings.HasPrefix(class.Provisioner, "kubernetes.io/") {
		c.recorder.Event(claim, corev1.EventTypeWarning, reasonProvisioningFailed, "no volume plugin matched name: "+class.Provisioner)
		return nil
	}
	if claim.Annotations[storagehelpers.AnnBetaStorageProvisioner] != class.Provisioner {
		clone := claim.DeepCopy()
		metav1.SetMetaDataAnnotation(&clone.ObjectMeta, storagehelpers.AnnBetaStorageProvisioner, class.Provisioner)
		metav1.SetMetaDataAnnotation(&clone.ObjectMeta, storagehelpers.AnnStorageProvisioner, class.Provisioner)
		updated, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
		if err != nil {
			c.recorder.Event(claim, corev1.EventTypeWarning, reasonProvisioningFailed, fmt.Sprintf("Error saving claim: %v", err))
			return fmt.Errorf("annotating claim %s for its provisioner: %w", claimKey(claim), err)
		}
		claim = updated
	}
	c.recorder.Event(claim, corev1.EventTypeNormal, reasonExternalProvisioning, fmt.Sprintf("Waiting for a volume to be created either by the external provisioner '%s' "+
		"or manually by the system administrator. If volume creation is delayed, please verify that "+
		"the provisioner is running and correctly registered.", class.Provisioner))
	return nil
}

func (c *Controller) syncBoundClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	if claim.Spec.VolumeName == "" {
		return c.claimLost(ctx, claim, "ClaimLost", "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
	}
	volume, err := c.volumes.Get(claim.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		return c.claimLost(ctx, claim, "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
	}
	if err != nil {
		return err
	}
	if volume.Spec.ClaimRef == nil || volume.Spec.ClaimRef.UID == claim.UID {
		return c.bind(ctx, volume, claim)
	}
	return c.claimLost(ctx, claim, "ClaimMisbound", "Two claims are bound to the same volume, this one is bound incorrectly")
}

func (c *Controller) claimLost(ctx context.Context, claim *corev1.PersistentVolumeClaim, reason, message string) error {
	if claim.Status.Phase == corev1.ClaimLost {
		return nil
	}
	updated, err := c.updateClaimStatus(ctx, claim, corev1.ClaimLost, nil)
	if err != nil {
		return err
	}
	c.recorder.Event(updated, corev1.EventTypeWarning, reason, message)
	return nil
}

// findBestMatch is upstream's volume index lookup: among the volumes whose
// access modes include the claim's, the sets with the fewest modes first,
// the smallest volume that fits.
func (c *Controller) findBestMatch(claim *corev1.PersistentVolumeClaim, delayBinding bool) (*corev1.PersistentVolume, error) {
	all, err := c.volumes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	groups := map[string][]*corev1.PersistentVolume{}
	sizes := map[string]int{}
	for _, pv := range all {
		if !storagehelpers.CheckAccessModes(claim, pv) {
			continue
		}
		k := accessModesKey(pv.Spec.AccessModes)
		groups[k] = append(groups[k], pv)
		sizes[k] = len(pv.Spec.AccessModes)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if sizes[keys[i]] != sizes[keys[j]] {
			return sizes[keys[i]] < sizes[keys[j]]
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		pv, err := storagehelpers.FindMatchingVolume(claim, groups[k], nil, nil, delayBinding, true)
		if err != nil || pv != nil {
			return pv, err
		}
	}
	return nil, nil
}

func accessModesKey(modes []corev1.PersistentVolumeAccessMode) string {
	s := make([]string, 0, len(modes))
	for _, m := range modes {
		s = append(s, string(m))
	}
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// checkVolumeSatisfyClaim is what a claim naming its volume requires of it.
func checkVolumeSatisfyClaim(volume *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) error {
	requested := claim.Spec.Resources.Requests[corev1.ResourceStorage]
	capacity := volume.Spec.Capacity[corev1.ResourceStorage]
	if requested.Cmp(capacity) > 0 {
		return fmt.Errorf("requested PV is too small")
	}
	if storagehelpers.GetPersistentVolumeClass(volume) != storagehelpers.GetPersistentVolumeClaimClass(claim) {
		return fmt.Errorf("storageClassName does not match")
	}
	if ptr.Deref(claim.Spec.VolumeAttributesClassName, "") != ptr.Deref(volume.Spec.VolumeAttributesClassName, "") {
		return fmt.Errorf("volumeAttributesClassName does not match")
	}
	if storagehelpers.CheckVolumeModeMismatches(&claim.Spec, &volume.Spec) {
		return fmt.Errorf("incompatible volumeMode")
	}
	if !storagehelpers.CheckAccessModes(claim, volume) {
		return fmt.Errorf("incompatible accessMode")
	}
	return nil
}

// bind writes both sides of a binding, volume first, then both phases.
func (c *Controller) bind(ctx context.Context, volume *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) error {
	clone, dirty, err := storagehelpers.GetBindVolumeToClaim(volume, claim)
	if err != nil {
		return err
	}
	if dirty {
		if volume, err = c.client.CoreV1().PersistentVolumes().Update(ctx, clone, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("binding volume %s to claim %s: %w", clone.Name, claimKey(claim), err)
		}
		klog.FromContext(ctx).V(2).Info("Claim bound to volume", "PVC", klog.KObj(claim), "volumeName", volume.Name)
	}
	if volume, err = c.updateVolumePhase(ctx, volume, corev1.VolumeBound, ""); err != nil {
		return err
	}
	if claim, err = c.bindClaimToVolume(ctx, claim, volume); err != nil {
		return err
	}
	_, err = c.updateClaimStatus(ctx, claim, corev1.ClaimBound, volume)
	return err
}

func (c *Controller) bindClaimToVolume(ctx context.Context, claim *corev1.PersistentVolumeClaim, volume *corev1.PersistentVolume) (*corev1.PersistentVolumeClaim, error) {
	clone := claim.DeepCopy()
	dirty := false
	if claim.Spec.VolumeName != volume.Name {
		clone.Spec.VolumeName = volume.Name
		if !metav1.HasAnnotation(clone.ObjectMeta, storagehelpers.AnnBoundByController) {
			metav1.SetMetaDataAnnotation(&clone.ObjectMeta, storagehelpers.AnnBoundByController, "yes")
		}
		dirty = true
	}
	if !metav1.HasAnnotation(clone.ObjectMeta, storagehelpers.AnnBindCompleted) {
		metav1.SetMetaDataAnnotation(&clone.ObjectMeta, storagehelpers.AnnBindCompleted, "yes")
		dirty = true
	}
	if !dirty {
		return claim, nil
	}
	updated, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding claim %s to volume %s: %w", claimKey(claim), volume.Name, err)
	}
	klog.FromContext(ctx).V(2).Info("Volume bound to claim", "PVC", klog.KObj(claim), "volumeName", volume.Name)
	return updated, nil
}

// updateClaimStatus sets the phase, and the access modes and capacity of
// the volume (or none without one), as upstream's.
func (c *Controller) updateClaimStatus(ctx context.Context, claim *corev1.PersistentVolumeClaim, phase corev1.PersistentVolumeClaimPhase,
	volume *corev1.PersistentVolume) (*corev1.PersistentVolumeClaim, error) {
	clone := claim.DeepCopy()
	dirty := false
	if claim.Status.Phase != phase {
		clone.Status.Phase = phase
		dirty = true
	}
	if volume == nil {
		if claim.Status.AccessModes != nil || claim.Status.Capacity != nil || claim.Status.CurrentVolumeAttributesClassName != nil {
			clone.Status.AccessModes, clone.Status.Capacity, clone.Status.CurrentVolumeAttributesClassName = nil, nil, nil
			dirty = true
		}
	} else {
		if !reflect.DeepEqual(claim.Status.AccessModes, volume.Spec.AccessModes) {
			clone.Status.AccessModes = volume.Spec.AccessModes
			dirty = true
		}
		// Capacity is set as the claim becomes Bound, not later: a
		// difference may be deliberate (a filesystem smaller than its
		// block device).
		if claim.Status.Phase != phase {
			volumeCap, ok := volume.Spec.Capacity[corev1.ResourceStorage]
			if !ok {
				return nil, fmt.Errorf("PersistentVolume %q is without a storage capacity", volume.Name)
			}
			if claimCap, ok := claim.Status.Capacity[corev1.ResourceStorage]; !ok || volumeCap.Cmp(claimCap) != 0 {
				clone.Status.Capacity = volume.Spec.Capacity
				dirty = true
			}
		}
		if claim.Status.Phase == corev1.ClaimPending && phase == corev1.ClaimBound &&
			!reflect.DeepEqual(claim.Status.CurrentVolumeAttributesClassName, volume.Spec.VolumeAttributesClassName) {
			clone.Status.CurrentVolumeAttributesClassName = volume.Spec.VolumeAttributesClassName
			dirty = true
		}
	}
	if !dirty {
		return claim, nil
	}
	updated, err := c.client.CoreV1().PersistentVolumeClaims(clone.Namespace).UpdateStatus(ctx, clone, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting claim %s phase %s: %w", claimKey(claim), phase, err)
	}
	if claim.Status.Phase != phase {
		klog.FromContext(ctx).V(2).Info("Claim entered phase", "PVC", klog.KObj(claim), "phase", phase)
	}
	return updated, nil
}

// ---- volumes

// SyncVolume reconciles the volume named key.
func (c *Controller) SyncVolume(ctx context.Context, key string) error {
	volume, err := c.volumes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ref := volume.Spec.ClaimRef
	if ref == nil || ref.UID == "" {
		// Unused, or pre-bound to a claim whose sync binds it.
		_, err := c.updateVolumePhase(ctx, volume, corev1.VolumeAvailable, "")
		return err
	}
	claim, err := c.claims.PersistentVolumeClaims(ref.Namespace).Get(ref.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	// A claim the cache does not show, or shows with another UID, may
	// only be late to arrive (a provisioner's or scheduler's binding):
	// ask the API before releasing the volume.
	if (claim == nil || claim.UID != ref.UID) && volume.Status.Phase != corev1.VolumeReleased && volume.Status.Phase != corev1.VolumeFailed {
		claim, err = c.client.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			claim = nil
		}
	}
	if claim != nil && claim.UID != ref.UID {
		claim = nil
	}
	switch {
	case claim == nil:
		return c.release(ctx, volume)
	case claim.Spec.VolumeName == "":
		if storagehelpers.CheckVolumeModeMismatches(&claim.Spec, &volume.Spec) {
			c.recorder.Event(volume, corev1.EventTypeWarning, reasonVolumeMismatch,
				fmt.Sprintf("Cannot bind PersistentVolume to requested PersistentVolumeClaim %q due to incompatible volumeMode.", claim.Name))
			c.recorder.Event(claim, corev1.EventTypeWarning, reasonVolumeMismatch,
				fmt.Sprintf("Cannot bind PersistentVolume %q to requested PersistentVolumeClaim due to incompatible volumeMode.", volume.Name))
			return nil
		}
		// The claim's sync completes the binding; this speeds it up for
		// volumes a provisioner just created.
		c.claimQueue.Add(claimKey(claim))
		return nil
	case claim.Spec.VolumeName == volume.Name:
		_, err := c.updateVolumePhase(ctx, volume, corev1.VolumeBound, "")
		return err
	case metav1.HasAnnotation(volume.ObjectMeta, storagehelpers.AnnDynamicallyProvisioned) && volume.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete:
		// Provisioned for a claim that got bound elsewhere: not needed.
		return c.release(ctx, volume)
	default:
		return c.unbindVolume(ctx, volume)
	}
}

// release marks a volume whose claim is gone Released, once, and applies
// its reclaim policy.
func (c *Controller) release(ctx context.Context, volume *corev1.PersistentVolume) error {
	if volume.Status.Phase != corev1.VolumeReleased && volume.Status.Phase != corev1.VolumeFailed {
		klog.FromContext(ctx).V(2).Info("Volume is released and reclaim policy will be executed", "volumeName", volume.Name,
			"reclaimPolicy", volume.Spec.PersistentVolumeReclaimPolicy)
		var err error
		if volume, err = c.updateVolumePhase(ctx, volume, corev1.VolumeReleased, ""); err != nil {
			return err
		}
	}
	switch volume.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimRetain:
		return nil
	case corev1.PersistentVolumeReclaimRecycle:
		// Upstream recycles only through in-tree plugins' recycler pods;
		// skiff has none.
		return c.failVolume(ctx, volume, reasonVolumeFailedRecycle, "No recycler plugin found for the volume!")
	case corev1.PersistentVolumeReclaimDelete:
		if name := volume.Annotations[storagehelpers.AnnDynamicallyProvisioned]; name != "" && !strings.HasPrefix(name, "kubernetes.io/") {
			// Its external provisioner deletes it.
			return nil
		}
		if volume.Spec.CSI != nil {
			return nil
		}
		return c.failVolume(ctx, volume, reasonVolumeFailedDelete,
			fmt.Sprintf("error getting deleter volume plugin for volume %q: no deletable volume plugin matched", volume.Name))
	default:
		return c.failVolume(ctx, volume, "VolumeUnknownReclaimPolicy", "Volume has unrecognized PersistentVolumeReclaimPolicy")
	}
}

// failVolume sets phase Failed with an event, both only on the change.
func (c *Controller) failVolume(ctx context.Context, volume *corev1.PersistentVolume, reason, message string) error {
	if volume.Status.Phase == corev1.VolumeFailed {
		return nil
	}
	updated, err := c.updateVolumePhase(ctx, volume, corev1.VolumeFailed, message)
	if err != nil {
		return err
	}
	c.recorder.Event(updated, corev1.EventTypeWarning, reason, message)
	return nil
}

// unbindVolume undoes a binding the controller made, or only the UID of a
// binding the user made (leaving the volume pre-bound).
func (c *Controller) unbindVolume(ctx context.Context, volume *corev1.PersistentVolume) error {
	clone := volume.DeepCopy()
	if metav1.HasAnnotation(volume.ObjectMeta, storagehelpers.AnnBoundByController) {
		clone.Spec.ClaimRef = nil
		delete(clone.Annotations, storagehelpers.AnnBoundByController)
		if len(clone.Annotations) == 0 {
			clone.Annotations = nil
		}
	} else {
		clone.Spec.ClaimRef.UID = ""
	}
	updated, err := c.client.CoreV1().PersistentVolumes().Update(ctx, clone, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("unbinding volume %s: %w", volume.Name, err)
	}
	_, err = c.updateVolumePhase(ctx, updated, corev1.VolumeAvailable, "")
	return err
}

func (c *Controller) updateVolumePhase(ctx context.Context, volume *corev1.PersistentVolume, phase corev1.PersistentVolumePhase, message string) (*corev1.PersistentVolume, error) {
	if volume.Status.Phase == phase {
		return volume, nil
	}
	clone := volume.DeepCopy()
	clone.Status.Phase = phase
	clone.Status.Message = message
	// The API server sets lastPhaseTransitionTime on a phase change.
	updated, err := c.client.CoreV1().PersistentVolumes().UpdateStatus(ctx, clone, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("setting volume %s phase %s: %w", volume.Name, phase, err)
	}
	klog.FromContext(ctx).V(2).Info("Volume entered phase", "volumeName", volume.Name, "phase", phase)
	return updated, nil
}

func claimKey(claim *corev1.PersistentVolumeClaim) string { return claim.Namespace + "/" + claim.Name }

// DefaultClass is the StorageClass annotated default, newest first on a
// tie, as upstream's GetDefaultClass; nil without one.
func DefaultClass(lister storagelisters.StorageClassLister) (*storagev1.StorageClass, error) {
	list, err := lister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var best *storagev1.StorageClass
	for _, c := range list {
		if c.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" && c.Annotations["storageclass.beta.kubernetes.io/is-default-class"] != "true" {
			continue
		}
		if best == nil || c.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(c.CreationTimestamp.Equal(&best.CreationTimestamp) && c.Name < best.Name) {
			best = c
		}
	}
	return best, nil
}
