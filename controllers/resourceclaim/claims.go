package resourceclaim

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// The helpers below are those of k8s.io/dynamic-resource-allocation's
// resourceclaim package that the controller needs, with its messages; that
// module is not among skiff's dependencies. Pod groups are left out: their
// feature gates are off by default in 1.37.

var (
	errAPIUnsupported = errors.New("none of the supported fields are set")
	errClaimNotFound  = errors.New("ResourceClaim not created yet")
)

// claimName is the name of the ResourceClaim a pod claim refers to. For a
// claim from a template it is only known once the controller has recorded
// it in the pod's status; then mustCheckOwner says the claim must be
// owned by the pod.
func claimName(pod *corev1.Pod, podClaim *corev1.PodResourceClaim) (name *string, mustCheckOwner bool, err error) {
	switch {
	case podClaim.ResourceClaimName != nil:
		return podClaim.ResourceClaimName, false, nil
	case podClaim.ResourceClaimTemplateName != nil:
		for _, status := range pod.Status.ResourceClaimStatuses {
			if status.Name == podClaim.Name {
				return status.ResourceClaimName, true, nil
			}
		}
		return nil, false, fmt.Errorf(`pod "%s/%s": %w`, pod.Namespace, pod.Name, errClaimNotFound)
	default:
		return nil, false, fmt.Errorf(`pod "%s/%s", spec.resourceClaim %q: %w`, pod.Namespace, pod.Name, podClaim.Name, errAPIUnsupported)
	}
}

// isForPod checks that claim was generated for pod.
func isForPod(pod *corev1.Pod, claim *resourcev1.ResourceClaim) error {
	if claim.Namespace != pod.Namespace {
		return fmt.Errorf("ResourceClaim %s/%s is not in the same namespace as Pod %s/%s", claim.Namespace, claim.Name, pod.Namespace, pod.Name)
	}
	if !metav1.IsControlledBy(claim, pod) {
		return fmt.Errorf("ResourceClaim %s/%s was not created for Pod %s/%s (Pod is not owner)", claim.Namespace, claim.Name, pod.Namespace, pod.Name)
	}
	return nil
}

func isReservedForPod(pod *corev1.Pod, claim *resourcev1.ResourceClaim) bool {
	for _, r := range claim.Status.ReservedFor {
		if r.UID == pod.UID {
			return true
		}
	}
	return false
}

// podConsumer is the reservedFor entry of pod.
func podConsumer(pod *corev1.Pod) resourcev1.ResourceClaimConsumerReference {
	return resourcev1.ResourceClaimConsumerReference{APIGroup: corev1.GroupName, Resource: "pods", Name: pod.Name, UID: pod.UID}
}

// owningPod is the pod controlling a generated claim, if any.
func owningPod(claim *resourcev1.ResourceClaim) (string, types.UID) {
	for _, o := range claim.OwnerReferences {
		if ptr.Deref(o.Controller, false) && o.APIVersion == "v1" && o.Kind == "Pod" {
			return o.Name, o.UID
		}
	}
	return "", ""
}

// isPodDone reports whether pod will never run (again): terminated, or
// deleted before it was scheduled.
func isPodDone(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed ||
		(pod.DeletionTimestamp != nil && pod.Spec.NodeName == "")
}

// Index functions, upstream's.
const (
	podClaimIndex    = "podResourceClaim"
	podTemplateIndex = "podResourceClaimTemplate"
	claimOwnerIndex  = "claimPodOwner"
)

func podTemplateKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	keys := sets.New[string]()
	for _, c := range pod.Spec.ResourceClaims {
		if c.ResourceClaimTemplateName != nil {
			keys.Insert(pod.Namespace + "/" + *c.ResourceClaimTemplateName)
		}
	}
	return sets.List(keys), nil
}

func podClaimKeys(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	keys := sets.New[string]()
	for i := range pod.Spec.ResourceClaims {
		name, _, err := claimName(pod, &pod.Spec.ResourceClaims[i])
		if err == nil && name != nil {
			keys.Insert(pod.Namespace + "/" + *name)
		}
	}
	return sets.List(keys), nil
}

func claimOwnerKeys(obj any) ([]string, error) {
	claim, ok := obj.(*resourcev1.ResourceClaim)
	if !ok {
		return nil, nil
	}
	var keys []string
	for _, o := range claim.OwnerReferences {
		if ptr.Deref(o.Controller, false) && o.APIVersion == "v1" && o.Kind == "Pod" {
			keys = append(keys, claim.Namespace+"/"+string(o.UID))
		}
	}
	return keys, nil
}
