// Package pod holds what is particular to pods in skiff's registry, on the
// k8s.io/api types: the create, update and status rules of Kubernetes 1.37's
// pod strategy (phase, QoS class, generation, fields dropped for disabled
// features), graceful deletion, the selectable fields, and the strategies of
// the ephemeralcontainers and resize subresources.
//
// The main resource is served by registry's generic store with this
// package's functions as its hooks; the REST of the subresources is in
// pod/storage.
package pod

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	corev1fields "github.com/skiff-dev/skiff/apis/core/v1"
)

// PrepareForCreate resets what a client may not choose for a new pod: its
// generation and status (Pending, with the QoS class it will keep for life),
// fields of disabled features, and expands the label-key shorthands of
// affinity and topology spread.
func PrepareForCreate(ctx context.Context, obj runtime.Object) {
	pod := obj.(*corev1.Pod)
	pod.Generation = 1
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending}
	DropDisabledPodFields(pod, nil)
	applySchedulingGatedCondition(pod)
	mutatePodAffinity(pod)
	mutateTopologySpreadConstraints(pod)
	applyAppArmorVersionSkew(ctx, pod)
	DefaultPodLevelResources(pod)
	pod.Status.QOSClass = QOSClass(pod)
}

// PrepareForUpdate keeps the stored status on writes to the main resource and
// counts spec changes in metadata.generation.
func PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
	pod.Status = oldPod.Status
	keepPodLevelResources(pod, oldPod)
	DropDisabledPodFields(pod, oldPod)
	updateGeneration(pod, oldPod)
}

// keepPodLevelResources restores pod-level resources that a client unaware of
// them dropped by writing the pod back without the field.
func keepPodLevelResources(pod, oldPod *corev1.Pod) {
	if featurePodLevelResourcesFixDefaulting && pod.Spec.Resources == nil && oldPod.Spec.Resources != nil {
		pod.Spec.Resources = oldPod.Spec.Resources.DeepCopy()
	}
}

// updateGeneration bumps metadata.generation when the spec changed. The
// request's generation was already reset to the stored one.
func updateGeneration(pod, oldPod *corev1.Pod) {
	if !apiequality.Semantic.DeepEqual(pod.Spec, oldPod.Spec) {
		pod.Generation = oldPod.Generation + 1
	}
}

// WarningsOnCreate warns about pod names that are not DNS labels: the name
// becomes the pod's hostname.
func WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	pod := obj.(*corev1.Pod)
	var warnings []string
	if msgs := utilvalidation.IsDNS1123Label(pod.Name); len(msgs) != 0 {
		warnings = append(warnings, fmt.Sprintf("metadata.name: this is used in the Pod's hostname, which can result in surprising behavior; a DNS label is recommended: %v", msgs))
	}
	return warnings
}

// CheckGracefulDelete gives a pod the grace period of the request or of its
// spec. A pod that was never scheduled or has finished has no kubelet to
// stop it and goes at once.
func CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	pod := obj.(*corev1.Pod)
	var period int64
	switch {
	case options.GracePeriodSeconds != nil:
		period = *options.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	// A negative period would mean "now" to the store; the kubelet still
	// needs a moment to stop the containers.
	if period < 0 {
		period = 1
	}
	options.GracePeriodSeconds = &period
	return true
}

// SelectableFields is the field set pod field selectors match (beyond
// metadata.name and metadata.namespace, which it also contains).
func SelectableFields(obj runtime.Object) fields.Set {
	return corev1fields.PodSelectableFields(obj.(*corev1.Pod))
}
