package pod

import (
	corev1 "k8s.io/api/core/v1"
)

// containers visits every container of spec (init, then regular, then
// ephemeral, the order Kubernetes uses everywhere) until fn returns false.
// Ephemeral containers are visited through their common Container fields.
func containers(spec *corev1.PodSpec, fn func(c *corev1.Container) bool) bool {
	for i := range spec.InitContainers {
		if !fn(&spec.InitContainers[i]) {
			return false
		}
	}
	for i := range spec.Containers {
		if !fn(&spec.Containers[i]) {
			return false
		}
	}
	for i := range spec.EphemeralContainers {
		if !fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon)) {
			return false
		}
	}
	return true
}

// anyContainer reports whether pred holds for some container of spec; a nil
// spec has none.
func anyContainer(spec *corev1.PodSpec, pred func(c *corev1.Container) bool) bool {
	if spec == nil {
		return false
	}
	found := false
	containers(spec, func(c *corev1.Container) bool {
		found = pred(c)
		return !found
	})
	return found
}

// ContainerNames lists the names of every container of the pod, in the
// order Kubernetes reports them in errors.
func ContainerNames(pod *corev1.Pod) []string {
	var names []string
	containers(&pod.Spec, func(c *corev1.Container) bool {
		names = append(names, c.Name)
		return true
	})
	return names
}

// HasContainer reports whether the pod has a container of any kind named name.
func HasContainer(pod *corev1.Pod, name string) bool {
	return anyContainer(&pod.Spec, func(c *corev1.Container) bool { return c.Name == name })
}

// containerStatuses visits the status lists of every container kind.
func containerStatuses(status *corev1.PodStatus, fn func(cs *corev1.ContainerStatus)) {
	for _, list := range [][]corev1.ContainerStatus{status.InitContainerStatuses, status.ContainerStatuses, status.EphemeralContainerStatuses} {
		for i := range list {
			fn(&list[i])
		}
	}
}

// anyContainerStatus reports whether pred holds for some container status; a
// nil status has none.
func anyContainerStatus(status *corev1.PodStatus, pred func(cs *corev1.ContainerStatus) bool) bool {
	if status == nil {
		return false
	}
	found := false
	containerStatuses(status, func(cs *corev1.ContainerStatus) {
		found = found || pred(cs)
	})
	return found
}
