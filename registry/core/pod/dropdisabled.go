package pod

import (
	corev1 "k8s.io/api/core/v1"
)

// DropDisabledPodFields clears the fields of pod that belong to features
// disabled in Kubernetes 1.37, unless oldPod (nil on create) already uses
// them: a stored object keeps what it has.
func DropDisabledPodFields(pod, oldPod *corev1.Pod) {
	var oldSpec *corev1.PodSpec
	var oldStatus *corev1.PodStatus
	if oldPod != nil {
		oldSpec, oldStatus = &oldPod.Spec, &oldPod.Status
	}
	dropDisabledSpecFields(&pod.Spec, oldSpec)
	dropInitContainerAnnotations(pod.Annotations)
	dropDisabledStatusFields(&pod.Status, oldStatus)
}

// DropDisabledTemplateFields does for a pod template (of a Deployment, Job,
// ...) what DropDisabledPodFields does for a pod. old is nil on create.
func DropDisabledTemplateFields(tmpl, old *corev1.PodTemplateSpec) {
	var oldSpec *corev1.PodSpec
	if old != nil {
		oldSpec = &old.Spec
	}
	dropDisabledSpecFields(&tmpl.Spec, oldSpec)
	dropInitContainerAnnotations(tmpl.Annotations)
}

func dropDisabledSpecFields(spec, old *corev1.PodSpec) {
	if !featureAtomicWriteVolumeUserFields && !volumeUserFieldsInUse(old) {
		dropVolumeUserFields(spec)
	}
	if !featureGenericWorkload && (old == nil || old.SchedulingGroup == nil) {
		spec.SchedulingGroup = nil
	}
	if !featureEvictionRequestAPI && (old == nil || len(old.EvictionResponders) == 0) {
		spec.EvictionResponders = nil
	}
	if !featureGRPCContainerProbeTLS && !anyContainer(old, grpcProbeModeSet) {
		containers(spec, func(c *corev1.Container) bool {
			for _, p := range probes(c) {
				if p.GRPC != nil {
					p.GRPC.Mode = nil
				}
			}
			return true
		})
	}
	if !featureEmptyDirVolumeMode && !emptyDirModeInUse(old) {
		for i := range spec.Volumes {
			if spec.Volumes[i].EmptyDir != nil {
				spec.Volumes[i].EmptyDir.Mode = nil
			}
		}
	}
	if !featureVolumeBindMountOptions && !anyContainer(old, bindMountOptionsSet) {
		containers(spec, func(c *corev1.Container) bool {
			for j := range c.VolumeMounts {
				c.VolumeMounts[j].BindMountOptions = nil
			}
			return true
		})
	}
	if !featureContainerStopSignals && !anyContainer(old, stopSignalSet) {
		containers(spec, func(c *corev1.Container) bool {
			if c.Lifecycle != nil && c.Lifecycle.StopSignal != nil {
				c.Lifecycle.StopSignal = nil
				if *c.Lifecycle == (corev1.Lifecycle{}) {
					c.Lifecycle = nil
				}
			}
			return true
		})
	}
	if !featureH2CContainerProbe && !anyContainer(old, httpProtocolSet) {
		containers(spec, func(c *corev1.Container) bool {
			for _, h := range httpGets(c) {
				h.Protocol = nil
			}
			return true
		})
	}
}

func dropDisabledStatusFields(status, old *corev1.PodStatus) {
	if !featureImageVolumeWithDigest && !anyContainerStatus(old, volumeStatusSet) {
		containerStatuses(status, func(cs *corev1.ContainerStatus) {
			for j := range cs.VolumeMounts {
				cs.VolumeMounts[j].VolumeStatus = nil
			}
		})
	}
	if !featureDRANodeAllocatableResources && (old == nil || len(old.NodeAllocatableResourceClaimStatuses) == 0) {
		status.NodeAllocatableResourceClaimStatuses = nil
	}
	if !featureCSIVolumeHealth && (old == nil || len(old.VolumeHealth) == 0) {
		status.VolumeHealth = nil
	}
}

// initContainerAnnotations were the alpha and beta form of init containers,
// removed in 1.8; they are dropped on every write.
var initContainerAnnotations = []string{
	"pod.beta.kubernetes.io/init-containers",
	"pod.alpha.kubernetes.io/init-containers",
	"pod.beta.kubernetes.io/init-container-statuses",
	"pod.alpha.kubernetes.io/init-container-statuses",
}

func dropInitContainerAnnotations(annotations map[string]string) {
	for _, k := range initContainerAnnotations {
		delete(annotations, k)
	}
}

// DropInitContainerAnnotations removes the legacy init container annotations
// from annotations; writers that bypass the pod strategy (binding) use it.
func DropInitContainerAnnotations(annotations map[string]string) {
	dropInitContainerAnnotations(annotations)
}

func probes(c *corev1.Container) []*corev1.Probe {
	var out []*corev1.Probe
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// httpGets returns the HTTP actions of a container's probes and lifecycle hooks.
func httpGets(c *corev1.Container) []*corev1.HTTPGetAction {
	var out []*corev1.HTTPGetAction
	for _, p := range probes(c) {
		if p.HTTPGet != nil {
			out = append(out, p.HTTPGet)
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h != nil && h.HTTPGet != nil {
				out = append(out, h.HTTPGet)
			}
		}
	}
	return out
}

func grpcProbeModeSet(c *corev1.Container) bool {
	for _, p := range probes(c) {
		if p.GRPC != nil && p.GRPC.Mode != nil {
			return true
		}
	}
	return false
}

func bindMountOptionsSet(c *corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if m.BindMountOptions != nil {
			return true
		}
	}
	return false
}

func stopSignalSet(c *corev1.Container) bool {
	return c.Lifecycle != nil && c.Lifecycle.StopSignal != nil
}

func httpProtocolSet(c *corev1.Container) bool {
	for _, h := range httpGets(c) {
		if h.Protocol != nil {
			return true
		}
	}
	return false
}

func volumeStatusSet(cs *corev1.ContainerStatus) bool {
	for _, m := range cs.VolumeMounts {
		if m.VolumeStatus != nil {
			return true
		}
	}
	return false
}

func emptyDirModeInUse(spec *corev1.PodSpec) bool {
	if spec == nil {
		return false
	}
	for _, v := range spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Mode != nil {
			return true
		}
	}
	return false
}

// volumeUserFieldsInUse reports whether any volume of spec sets an owner
// user on the files it writes.
func volumeUserFieldsInUse(spec *corev1.PodSpec) bool {
	if spec == nil {
		return false
	}
	found := false
	for i := range spec.Volumes {
		visitVolumeUserFields(&spec.Volumes[i], func(p **int64) {
			found = found || *p != nil
		})
	}
	return found
}

func dropVolumeUserFields(spec *corev1.PodSpec) {
	for i := range spec.Volumes {
		visitVolumeUserFields(&spec.Volumes[i], func(p **int64) { *p = nil })
	}
}

// visitVolumeUserFields calls fn with the address of every user field of
// the atomic-writer volume v and of its items.
func visitVolumeUserFields(v *corev1.Volume, fn func(**int64)) {
	keyToPaths := func(items []corev1.KeyToPath) {
		for j := range items {
			fn(&items[j].User)
		}
	}
	downwardFiles := func(items []corev1.DownwardAPIVolumeFile) {
		for j := range items {
			fn(&items[j].User)
		}
	}
	switch {
	case v.Secret != nil:
		fn(&v.Secret.DefaultUser)
		keyToPaths(v.Secret.Items)
	case v.ConfigMap != nil:
		fn(&v.ConfigMap.DefaultUser)
		keyToPaths(v.ConfigMap.Items)
	case v.DownwardAPI != nil:
		fn(&v.DownwardAPI.DefaultUser)
		downwardFiles(v.DownwardAPI.Items)
	case v.Projected != nil:
		fn(&v.Projected.DefaultUser)
		for j := range v.Projected.Sources {
			s := &v.Projected.Sources[j]
			switch {
			case s.Secret != nil:
				keyToPaths(s.Secret.Items)
			case s.DownwardAPI != nil:
				downwardFiles(s.DownwardAPI.Items)
			case s.ConfigMap != nil:
				keyToPaths(s.ConfigMap.Items)
			case s.ServiceAccountToken != nil:
				fn(&s.ServiceAccountToken.User)
			case s.ClusterTrustBundle != nil:
				fn(&s.ClusterTrustBundle.User)
			case s.PodCertificate != nil:
				fn(&s.PodCertificate.User)
			}
		}
	}
}
