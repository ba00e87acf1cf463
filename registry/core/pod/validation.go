package pod

import (
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/apis/validation"
)

// validateWholePod validates the metadata update and the whole new spec of
// a resize. The pod update rules would also reject any resource change,
// which is what the subresource allows; comparing against the old metadata
// with the new spec keeps every other rule.
func validateWholePod(pod, oldPod *corev1.Pod) field.ErrorList {
	base := oldPod.DeepCopy()
	base.Spec = *pod.Spec.DeepCopy()
	return validation.ValidateObjectUpdate(pod, base)
}

// validateResize checks a write to pods/resize: only the cpu and memory
// requests and limits of containers (and of the pod) may change, none may be
// removed, and the QoS class must stay.
func validateResize(pod, oldPod *corev1.Pod) field.ErrorList {
	errs := validateWholePod(pod, oldPod)
	if _, ok := oldPod.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods cannot be resized")}
	}
	if oldPod.Spec.OS != nil && oldPod.Spec.OS.Name == corev1.Windows {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "windows pods cannot be resized")}
	}
	specPath := field.NewPath("spec")
	if QOSClass(oldPod) != ComputeQOSClass(pod) {
		errs = append(errs, field.Invalid(specPath, pod.Status.QOSClass, "Pod QOS Class may not change as a result of resizing"))
	}
	if !nodeSupportsResize(oldPod) {
		errs = append(errs, field.Forbidden(specPath, "Pod running on node without support for resize"))
	}

	masked := pod.Spec.DeepCopy()
	if podLevelResourcesSet(oldPod) || podLevelResourcesSet(pod) {
		errs = append(errs, validatePodLevelResize(pod, oldPod, masked, specPath)...)
	}
	if order := validateResizeOrdering(pod, oldPod, specPath); order != nil {
		return append(errs, order...)
	}

	for i := range oldPod.Spec.InitContainers {
		errs = append(errs, validateContainerResize(&pod.Spec.InitContainers[i].Resources, &oldPod.Spec.InitContainers[i].Resources,
			specPath.Child("initContainers").Index(i).Child("resources"))...)
	}
	for i := range oldPod.Spec.Containers {
		errs = append(errs, validateContainerResize(&pod.Spec.Containers[i].Resources, &oldPod.Spec.Containers[i].Resources,
			specPath.Child("containers").Index(i).Child("resources"))...)
	}

	for i := range masked.Containers {
		c := &masked.Containers[i]
		maskCPUMemory(c, &oldPod.Spec.Containers[i])
		if !apiequality.Semantic.DeepEqual(*c, oldPod.Spec.Containers[i]) {
			errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
		}
	}
	for i := range masked.InitContainers {
		c := &masked.InitContainers[i]
		old := &oldPod.Spec.InitContainers[i]
		modified := !apiequality.Semantic.DeepEqual(*c, *old)
		maskCPUMemory(c, old)
		if !apiequality.Semantic.DeepEqual(*c, *old) {
			errs = append(errs, field.Forbidden(specPath.Child("initContainers").Index(i), "only cpu and memory resources for init or sidecar containers are mutable"))
		}
		if modified && !isRestartable(c) {
			for _, p := range c.ResizePolicy {
				if p.RestartPolicy == corev1.RestartContainer {
					errs = append(errs, field.Forbidden(specPath.Child("initContainers").Index(i), "non-sidecar init containers with a resize policy of RestartContainer cannot be resized"))
				}
			}
		}
	}

	if !apiequality.Semantic.DeepEqual(pod.Spec.Volumes, oldPod.Spec.Volumes) {
		errs = append(errs, field.Forbidden(specPath.Child("volumes"), "volumes are immutable on resize when InPlacePodVerticalScalingMemoryBackedVolumes feature gate is disabled"))
	}
	if len(errs) > 0 {
		return errs
	}
	if !apiequality.Semantic.DeepEqual(*masked, oldPod.Spec) {
		errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable"))
	}
	return errs
}

func isRestartable(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func podLevelResourcesSet(pod *corev1.Pod) bool {
	r := pod.Spec.Resources
	return r != nil && len(r.Requests)+len(r.Limits) > 0
}

// nodeSupportsResize handles kubelets older than in-place resize: their
// running containers report no resources. Without a running container there
// is no telling, and the resize is allowed.
func nodeSupportsResize(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return cs.Resources != nil
		}
	}
	return true
}

func validateResizeOrdering(pod, oldPod *corev1.Pod, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(list, old []corev1.Container, name string) {
		path := specPath.Child(name)
		if len(list) != len(old) {
			errs = append(errs, field.Forbidden(path, name+" may not be added or removed on resize"))
			return
		}
		for i := range old {
			if list[i].Name != old[i].Name {
				errs = append(errs, field.Forbidden(path.Index(i).Child("name"), name+" may not be renamed or reordered on resize"))
			}
		}
	}
	check(pod.Spec.Containers, oldPod.Spec.Containers, "containers")
	check(pod.Spec.InitContainers, oldPod.Spec.InitContainers, "initContainers")
	return errs
}

func validateContainerResize(r, old *corev1.ResourceRequirements, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if resourcesRemoved(r.Requests, old.Requests) {
		errs = append(errs, field.Forbidden(path.Child("requests"), "resource requests cannot be removed"))
	}
	if resourcesRemoved(r.Limits, old.Limits) {
		errs = append(errs, field.Forbidden(path.Child("limits"), "resource limits cannot be removed"))
	}
	return errs
}

func resourcesRemoved(list, old corev1.ResourceList) bool {
	if len(old) > len(list) {
		return true
	}
	for name := range old {
		if _, ok := list[name]; !ok {
			return true
		}
	}
	return false
}

// validatePodLevelResize checks pod-level resources and masks their cpu and
// memory in masked so the final comparison sees any other change.
func validatePodLevelResize(pod, oldPod *corev1.Pod, masked *corev1.PodSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	path := specPath.Child("resources")
	if oldPod.Spec.Resources != nil && pod.Spec.Resources == nil {
		return field.ErrorList{field.Forbidden(path, "pod-level resources cannot be removed")}
	}
	if old := oldPod.Spec.Resources; old != nil {
		if resourcesRemoved(pod.Spec.Resources.Requests, old.Requests) {
			errs = append(errs, field.Forbidden(path.Child("requests"), "pod-level resource requests cannot be removed"))
		}
		if resourcesRemoved(pod.Spec.Resources.Limits, old.Limits) {
			errs = append(errs, field.Forbidden(path.Child("limits"), "pod-level resource limits cannot be removed"))
		}
	}
	masked.Resources = maskRequirements(masked.Resources, oldPod.Spec.Resources)
	if !apiequality.Semantic.DeepEqual(masked.Resources, oldPod.Spec.Resources) {
		errs = append(errs, field.Forbidden(specPath, "only cpu and memory resources are mutable at pod-level"))
	}
	return errs
}

// maskRequirements replaces the cpu and memory of r by old's; a block left
// empty where old had none becomes nil again.
func maskRequirements(r, old *corev1.ResourceRequirements) *corev1.ResourceRequirements {
	if r == nil {
		return nil
	}
	var oldReqs, oldLims corev1.ResourceList
	if old != nil {
		oldReqs, oldLims = old.Requests, old.Limits
	}
	r.Requests = maskCPUMemoryList(r.Requests, oldReqs)
	r.Limits = maskCPUMemoryList(r.Limits, oldLims)
	if old == nil && len(r.Requests) == 0 && len(r.Limits) == 0 && len(r.Claims) == 0 {
		return nil
	}
	return r
}

func maskCPUMemory(c, old *corev1.Container) {
	c.Resources = corev1.ResourceRequirements{
		Limits:   maskCPUMemoryList(c.Resources.Limits, old.Resources.Limits),
		Requests: maskCPUMemoryList(c.Resources.Requests, old.Resources.Requests),
		// Claims cannot change on resize; comparing them catches it.
		Claims: c.Resources.Claims,
	}
}

func maskCPUMemoryList(list, old corev1.ResourceList) corev1.ResourceList {
	if list == nil && old == nil {
		return nil
	}
	out := corev1.ResourceList{}
	for name, q := range list {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			out[name] = q.DeepCopy()
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := old[name]; ok {
			out[name] = q
		}
	}
	return out
}
