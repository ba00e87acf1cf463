package nodeauthz

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/storage/ephemeral"
)

// containers visits init, regular and ephemeral containers alike, since any
// of them can name secrets and config maps the kubelet must read.
func containers(spec *corev1.PodSpec, visit func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) bool) bool {
	for i := range spec.InitContainers {
		if !visit(spec.InitContainers[i].Env, spec.InitContainers[i].EnvFrom) {
			return false
		}
	}
	for i := range spec.Containers {
		if !visit(spec.Containers[i].Env, spec.Containers[i].EnvFrom) {
			return false
		}
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		if !visit(c.Env, c.EnvFrom) {
			return false
		}
	}
	return true
}

// skipEmpty drops empty names, which reference nothing.
func skipEmpty(visit func(string) bool) func(string) bool {
	return func(name string) bool {
		if name == "" {
			return true
		}
		return visit(name)
	}
}

// VisitPodSecretNames calls visit with every secret the pod's spec names
// (image pull secrets, env, volumes), in its namespace, until visit returns
// false. Secrets reached through a PVC's volume are not visited.
func VisitPodSecretNames(pod *corev1.Pod, visit func(name string) bool) bool {
	visit = skipEmpty(visit)
	for _, ref := range pod.Spec.ImagePullSecrets {
		if !visit(ref.Name) {
			return false
		}
	}
	// As upstream, stopping early inside the containers does not stop the
	// walk over the volumes.
	containers(&pod.Spec, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) bool {
		for _, e := range envFrom {
			if e.SecretRef != nil && !visit(e.SecretRef.Name) {
				return false
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !visit(e.ValueFrom.SecretKeyRef.Name) {
				return false
			}
		}
		return true
	})
	for i := range pod.Spec.Volumes {
		s := &pod.Spec.Volumes[i].VolumeSource
		name := ""
		switch {
		case s.AzureFile != nil:
			name = s.AzureFile.SecretName
		case s.CephFS != nil:
			if s.CephFS.SecretRef != nil {
				name = s.CephFS.SecretRef.Name
			}
		case s.Cinder != nil:
			if s.Cinder.SecretRef != nil {
				name = s.Cinder.SecretRef.Name
			}
		case s.FlexVolume != nil:
			if s.FlexVolume.SecretRef != nil {
				name = s.FlexVolume.SecretRef.Name
			}
		case s.Projected != nil:
			for j := range s.Projected.Sources {
				if src := s.Projected.Sources[j].Secret; src != nil && !visit(src.Name) {
					return false
				}
			}
		case s.RBD != nil:
			if s.RBD.SecretRef != nil {
				name = s.RBD.SecretRef.Name
			}
		case s.Secret != nil:
			name = s.Secret.SecretName
		case s.ScaleIO != nil:
			if s.ScaleIO.SecretRef != nil {
				name = s.ScaleIO.SecretRef.Name
			}
		case s.ISCSI != nil:
			if s.ISCSI.SecretRef != nil {
				name = s.ISCSI.SecretRef.Name
			}
		case s.StorageOS != nil:
			if s.StorageOS.SecretRef != nil {
				name = s.StorageOS.SecretRef.Name
			}
		case s.CSI != nil:
			if s.CSI.NodePublishSecretRef != nil {
				name = s.CSI.NodePublishSecretRef.Name
			}
		}
		if !visit(name) {
			return false
		}
	}
	return true
}

// VisitPodConfigMapNames calls visit with every config map the pod's spec
// names (env and volumes) until visit returns false.
func VisitPodConfigMapNames(pod *corev1.Pod, visit func(name string) bool) bool {
	visit = skipEmpty(visit)
	containers(&pod.Spec, func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) bool {
		for _, e := range envFrom {
			if e.ConfigMapRef != nil && !visit(e.ConfigMapRef.Name) {
				return false
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && !visit(e.ValueFrom.ConfigMapKeyRef.Name) {
				return false
			}
		}
		return true
	})
	for i := range pod.Spec.Volumes {
		s := &pod.Spec.Volumes[i].VolumeSource
		switch {
		case s.Projected != nil:
			for j := range s.Projected.Sources {
				if src := s.Projected.Sources[j].ConfigMap; src != nil && !visit(src.Name) {
					return false
				}
			}
		case s.ConfigMap != nil:
			if !visit(s.ConfigMap.Name) {
				return false
			}
		}
	}
	return true
}

// podClaimNames returns the PVCs a pod mounts, its generic ephemeral
// volumes' claims included.
func podClaimNames(pod *corev1.Pod) []string {
	var names []string
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		switch {
		case v.PersistentVolumeClaim != nil:
			names = append(names, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			names = append(names, ephemeral.VolumeClaimName(pod, v))
		}
	}
	return names
}

// podResourceClaimNames returns the ResourceClaims a pod uses: those named
// directly, those generated from templates once the pod's status records
// them, and the claim for its extended resources.
func podResourceClaimNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.ResourceClaims {
		switch {
		case c.ResourceClaimName != nil:
			names = append(names, *c.ResourceClaimName)
		case c.ResourceClaimTemplateName != nil:
			for _, s := range pod.Status.ResourceClaimStatuses {
				if s.Name == c.Name {
					if s.ResourceClaimName != nil {
						names = append(names, *s.ResourceClaimName)
					}
					break
				}
			}
		}
	}
	if s := pod.Status.ExtendedResourceClaimStatus; s != nil && s.ResourceClaimName != "" {
		names = append(names, s.ResourceClaimName)
	}
	return names
}

// pvSecrets returns the secrets a PV names that the kubelet reads (the CSI
// controller secrets are for the controllers only), as namespace/name.
func pvSecrets(pv *corev1.PersistentVolume) []nsName {
	claimNS := ""
	if pv.Spec.ClaimRef != nil {
		claimNS = pv.Spec.ClaimRef.Namespace
	}
	// Secret references persisted before they carried a namespace mean the
	// claim's.
	orClaimNS := func(ns string) string {
		if ns != "" {
			return ns
		}
		return claimNS
	}
	var out []nsName
	add := func(ns, name string) {
		if name != "" {
			out = append(out, nsName{ns, name})
		}
	}
	s := &pv.Spec.PersistentVolumeSource
	switch {
	case s.AzureFile != nil:
		ns := claimNS
		if s.AzureFile.SecretNamespace != nil && *s.AzureFile.SecretNamespace != "" {
			ns = *s.AzureFile.SecretNamespace
		}
		add(ns, s.AzureFile.SecretName)
	case s.CephFS != nil:
		if r := s.CephFS.SecretRef; r != nil {
			add(orClaimNS(r.Namespace), r.Name)
		}
	case s.Cinder != nil:
		if r := s.Cinder.SecretRef; r != nil {
			add(r.Namespace, r.Name)
		}
	case s.FlexVolume != nil:
		if r := s.FlexVolume.SecretRef; r != nil {
			add(orClaimNS(r.Namespace), r.Name)
		}
	case s.RBD != nil:
		if r := s.RBD.SecretRef; r != nil {
			add(orClaimNS(r.Namespace), r.Name)
		}
	case s.ScaleIO != nil:
		if r := s.ScaleIO.SecretRef; r != nil {
			add(orClaimNS(r.Namespace), r.Name)
		}
	case s.ISCSI != nil:
		if r := s.ISCSI.SecretRef; r != nil {
			add(orClaimNS(r.Namespace), r.Name)
		}
	case s.StorageOS != nil:
		if r := s.StorageOS.SecretRef; r != nil {
			add(r.Namespace, r.Name)
		}
	case s.CSI != nil:
		for _, r := range []*corev1.SecretReference{s.CSI.NodePublishSecretRef, s.CSI.NodeStageSecretRef, s.CSI.NodeExpandSecretRef} {
			if r != nil {
				add(r.Namespace, r.Name)
			}
		}
	}
	return out
}
