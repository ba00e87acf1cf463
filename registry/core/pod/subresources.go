package pod

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/apis/validation"
)

// subresourceStrategy is what the update strategies of the pod subresources
// share: pods are namespaced, never created by an update and may be
// written without a resourceVersion.
type subresourceStrategy struct {
	runtime.ObjectTyper
}

func (subresourceStrategy) NamespaceScoped() bool                         { return true }
func (subresourceStrategy) AllowCreateOnUpdate(context.Context) bool      { return false }
func (subresourceStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }
func (subresourceStrategy) Canonicalize(runtime.Object)                   {}
func (subresourceStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// StatusStrategy is the update strategy of pods/status. It also names the
// fields such writes reset.
var StatusStrategy interface {
	rest.RESTUpdateStrategy
	rest.ResetFieldsStrategy
} = statusStrategy{subresourceStrategy{apis.Scheme}}

// EphemeralContainersStrategy is the update strategy of pods/ephemeralcontainers.
var EphemeralContainersStrategy rest.RESTUpdateStrategy = ephemeralContainersStrategy{subresourceStrategy{apis.Scheme}}

// ResizeStrategy is the update strategy of pods/resize.
var ResizeStrategy rest.RESTUpdateStrategy = resizeStrategy{subresourceStrategy{apis.Scheme}}

type statusStrategy struct{ subresourceStrategy }

// GetResetFields names what a write through pods/status cannot set, so
// server-side apply does not record the writer as owning it.
func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"v1": fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "deletionTimestamp"),
			fieldpath.MakePathOrDie("metadata", "ownerReferences"),
		),
	}
}

// PrepareForUpdate keeps the stored spec and owner references (old kubelets
// corrupted them through status writes), and fills in status fields that a
// client unaware of them left out.
func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	pod.Spec = oldPod.Spec
	pod.DeletionTimestamp = nil
	pod.OwnerReferences = oldPod.OwnerReferences
	// The QoS class is fixed at creation; kubelets that rejected a pod used
	// to write it back empty.
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = oldPod.Status.QOSClass
	}
	// nil means the writer does not know the field; an empty list still clears it.
	if pod.Status.ResourceClaimStatuses == nil {
		pod.Status.ResourceClaimStatuses = oldPod.Status.ResourceClaimStatuses
	}
	if pod.Status.ExtendedResourceClaimStatus == nil {
		pod.Status.ExtendedResourceClaimStatus = oldPod.Status.ExtendedResourceClaimStatus
	}
	if pod.Status.NodeAllocatableResourceClaimStatuses == nil {
		pod.Status.NodeAllocatableResourceClaimStatuses = oldPod.Status.NodeAllocatableResourceClaimStatuses
	}
	keepObservedGenerations(pod, oldPod)
	DropDisabledPodFields(pod, oldPod)
}

// keepObservedGenerations keeps the stored observedGeneration of the status
// and of each condition when the writer left it unset. Conditions may repeat
// a type, so the old values of a type are matched in order.
func keepObservedGenerations(pod, oldPod *corev1.Pod) {
	if pod.Status.ObservedGeneration == 0 {
		pod.Status.ObservedGeneration = oldPod.Status.ObservedGeneration
	}
	old := map[corev1.PodConditionType][]int64{}
	for _, c := range oldPod.Status.Conditions {
		old[c.Type] = append(old[c.Type], c.ObservedGeneration)
	}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		var gen int64
		if gens := old[c.Type]; len(gens) > 0 {
			gen, old[c.Type] = gens[0], gens[1:]
		}
		if c.ObservedGeneration == 0 {
			c.ObservedGeneration = gen
		}
	}
}

func (statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateStatusUpdate(obj, old)
}

func (statusStrategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	pod := obj.(*corev1.Pod)
	var warnings []string
	for i, ip := range pod.Status.PodIPs {
		warnings = append(warnings, utilvalidation.GetWarningsForIP(field.NewPath("status", "podIPs").Index(i).Child("ip"), ip.IP)...)
	}
	for i, ip := range pod.Status.HostIPs {
		warnings = append(warnings, utilvalidation.GetWarningsForIP(field.NewPath("status", "hostIPs").Index(i).Child("ip"), ip.IP)...)
	}
	return warnings
}

type ephemeralContainersStrategy struct{ subresourceStrategy }

// PrepareForUpdate discards every change but the ephemeral containers.
func (ephemeralContainersStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	ephemeral := pod.Spec.EphemeralContainers
	pod.Spec = *oldPod.Spec.DeepCopy()
	pod.Spec.EphemeralContainers = ephemeral
	pod.Status = oldPod.Status
	metav1.ResetObjectMetaForStatus(&pod.ObjectMeta, &oldPod.ObjectMeta)
	DropDisabledPodFields(pod, oldPod)
	updateGeneration(pod, oldPod)
}

func (ephemeralContainersStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidatePodEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

type resizeStrategy struct{ subresourceStrategy }

// PrepareForUpdate discards every change but the resources and resize
// policies of containers and the pod-level resources. Adding, removing,
// reordering or renaming containers is passed through for validation to
// reject.
func (resizeStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	dropNonResizeUpdates(pod, oldPod)
	if featurePodLevelResourcesFixDefaulting {
		keepPodLevelResources(pod, oldPod)
		if pod.Spec.Resources != nil {
			DefaultPodLevelResources(pod)
		}
	}
	DropDisabledPodFields(pod, oldPod)
	updateGeneration(pod, oldPod)
}

func dropNonResizeUpdates(pod, oldPod *corev1.Pod) {
	if len(pod.Spec.Containers) != len(oldPod.Spec.Containers) || len(pod.Spec.InitContainers) != len(oldPod.Spec.InitContainers) {
		return
	}
	regular, ok := withResizedResources(pod.Spec.Containers, oldPod.Spec.Containers)
	if !ok {
		return
	}
	initial, ok := withResizedResources(pod.Spec.InitContainers, oldPod.Spec.InitContainers)
	if !ok {
		return
	}
	podResources := pod.Spec.Resources
	volumes := pod.Spec.Volumes
	pod.Spec = *oldPod.Spec.DeepCopy()
	if featureInPlacePodLevelResourcesVerticalScaling {
		pod.Spec.Resources = podResources
	}
	if featureInPlacePodVerticalScalingMemoryBackedVolumes {
		pod.Spec.Volumes = volumes
	}
	pod.Spec.Containers = regular
	pod.Spec.InitContainers = initial
	pod.Status = oldPod.Status
	metav1.ResetObjectMetaForStatus(&pod.ObjectMeta, &oldPod.ObjectMeta)
}

// withResizedResources returns the old containers carrying the new
// resources and resize policies, or false when a container was renamed or
// moved, which validation reports.
func withResizedResources(containers, old []corev1.Container) ([]corev1.Container, bool) {
	if len(containers) == 0 {
		return containers, true
	}
	out := make([]corev1.Container, len(old))
	for i := range old {
		if containers[i].Name != old[i].Name {
			return nil, false
		}
		out[i] = *old[i].DeepCopy()
		out[i].Resources = containers[i].Resources
		out[i].ResizePolicy = containers[i].ResizePolicy
	}
	return out, true
}

func (resizeStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return validateResize(obj.(*corev1.Pod), old.(*corev1.Pod))
}
