package pod

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
)

// DefaultPodLevelResources completes the pod-level resources of a pod that
// sets some: hugepage limits and overcommittable requests from the sum of
// its containers, requests from its own limits, and limits where every
// container has one. A pod without pod-level resources is left alone.
func DefaultPodLevelResources(pod *corev1.Pod) {
	r := pod.Spec.Resources
	if !featurePodLevelResourcesFixDefaulting || r == nil || (len(r.Requests) == 0 && len(r.Limits) == 0) {
		return
	}
	// Only the containers count: ephemeral containers cannot have resources,
	// and neither overhead nor status may feed the defaults.
	containersOnly := &corev1.Pod{Spec: corev1.PodSpec{Containers: pod.Spec.Containers, InitContainers: pod.Spec.InitContainers}}
	defaultHugePageLimits(r, containersOnly)
	defaultPodRequests(r, containersOnly)
	defaultPodLimits(&pod.Spec, containersOnly)
}

func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// overcommitAllowed is true for native resources other than hugepages.
func overcommitAllowed(name corev1.ResourceName) bool {
	native := !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
	return native && !isHugePages(name)
}

func defaultHugePageLimits(r *corev1.ResourceRequirements, containersOnly *corev1.Pod) {
	limits := r.Limits
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for name, q := range resourcehelper.AggregateContainerLimits(containersOnly, resourcehelper.PodResourcesOptions{}) {
		if !resourcehelper.IsSupportedPodLevelResource(name) || !isHugePages(name) {
			continue
		}
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if _, ok := limits[name]; !ok {
			limits[name] = q
		}
	}
	if len(limits) > 0 {
		r.Limits = limits
	}
}

func defaultPodRequests(r *corev1.ResourceRequirements, containersOnly *corev1.Pod) {
	requests := r.Requests
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	for name, q := range resourcehelper.AggregateContainerRequests(containersOnly, resourcehelper.PodResourcesOptions{}) {
		if _, ok := requests[name]; !ok && resourcehelper.IsSupportedPodLevelResource(name) && overcommitAllowed(name) {
			requests[name] = q
		}
	}
	for name, q := range r.Limits {
		if _, ok := requests[name]; !ok && resourcehelper.IsSupportedPodLevelResource(name) {
			requests[name] = q.DeepCopy()
		}
	}
	if len(requests) > 0 {
		r.Requests = requests
	}
}

// defaultPodLimits sets a missing pod-level limit to the larger of the
// pod-level request and the containers' summed limits, for each resource
// with a pod-level request that every container limits.
func defaultPodLimits(spec *corev1.PodSpec, containersOnly *corev1.Pod) {
	r := spec.Resources
	candidates := map[corev1.ResourceName]bool{}
	for name := range r.Requests {
		if _, limited := r.Limits[name]; resourcehelper.IsSupportedPodLevelResource(name) && !limited {
			candidates[name] = true
		}
	}
	containers(spec, func(c *corev1.Container) bool {
		for name := range candidates {
			if _, ok := c.Resources.Limits[name]; !ok {
				delete(candidates, name)
			}
		}
		return len(candidates) > 0
	})
	if len(candidates) == 0 {
		return
	}
	summed := resourcehelper.AggregateContainerLimits(containersOnly, resourcehelper.PodResourcesOptions{})
	for name := range candidates {
		limit, ok := summed[name]
		if !ok {
			continue
		}
		// A limit below the pod's own request would make the pod invalid.
		if req := r.Requests[name]; req.Cmp(limit) > 0 {
			limit = req
		}
		if r.Limits == nil {
			r.Limits = corev1.ResourceList{}
		}
		r.Limits[name] = limit
	}
}
