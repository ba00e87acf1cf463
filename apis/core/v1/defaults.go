package v1

import (
	"time"

	dockerref "github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The SetDefaults_<Type> functions below are found by defaulter-gen, which
// calls them from the generated SetObjectDefaults_<Kind> walkers for every
// place the type occurs inside a top-level object. Their names are therefore
// fixed by the generator's convention.
//
// Feature gates are decided by their Kubernetes 1.37 default:
//   - ImageVolume (GA): image volumes get a pull policy.
//   - PodLevelResourcesFixDefaulting (beta, on): pod-level requests and
//     hugepage limits are not defaulted here but when a pod is created, after
//     admission has added every container.
//   - H2CContainerProbe (alpha, off): httpGet probes get no protocol.
//   - PodLogsQuerySplitStreams (alpha, off): PodLogOptions.stream stays unset.

func SetDefaults_ResourceList(obj *corev1.ResourceList) {
	for name, quantity := range *obj {
		// Quantities finer than a milli-unit are rounded up, as they always
		// were, so that stored values keep the precision clients expect.
		quantity.RoundUp(-3)
		(*obj)[name] = quantity
	}
}

func SetDefaults_ReplicationController(obj *corev1.ReplicationController) {
	if obj.Spec.Template == nil || obj.Spec.Template.Labels == nil {
		return
	}
	labels := obj.Spec.Template.Labels
	if len(obj.Spec.Selector) == 0 {
		obj.Spec.Selector = labels
	}
	if len(obj.Labels) == 0 {
		obj.Labels = labels
	}
	// spec.replicas defaults to 1 through the +default marker on the type.
}

func SetDefaults_Volume(obj *corev1.Volume) {
	if ptr.AllPtrFieldsNil(&obj.VolumeSource) {
		obj.VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	if obj.Image != nil && obj.Image.PullPolicy == "" {
		obj.Image.PullPolicy = pullPolicyFor(obj.Image.Reference)
	}
}

// pullPolicyFor is Always for images that name the moving "latest" tag,
// explicitly or by naming no tag and no digest, and IfNotPresent otherwise,
// including for references that do not parse (validation rejects those).
func pullPolicyFor(image string) corev1.PullPolicy {
	if imageTag(image) == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func imageTag(image string) string {
	named, err := dockerref.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	if tagged, ok := named.(dockerref.Tagged); ok && tagged.Tag() != "" {
		return tagged.Tag()
	}
	if _, ok := named.(dockerref.Digested); ok {
		return ""
	}
	return "latest"
}

func SetDefaults_Container(obj *corev1.Container) {
	if obj.ImagePullPolicy == "" {
		obj.ImagePullPolicy = pullPolicyFor(obj.Image)
	}
	if obj.TerminationMessagePath == "" {
		obj.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if obj.TerminationMessagePolicy == "" {
		obj.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
}

func SetDefaults_EphemeralContainer(obj *corev1.EphemeralContainer) {
	SetDefaults_Container((*corev1.Container)(&obj.EphemeralContainerCommon))
}

func SetDefaults_Service(obj *corev1.Service) {
	spec := &obj.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityNone:
		spec.SessionAffinityConfig = nil
	case corev1.ServiceAffinityClientIP:
		cfg := spec.SessionAffinityConfig
		if cfg == nil || cfg.ClientIP == nil || cfg.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{
				ClientIP: &corev1.ClientIPConfig{
					TimeoutSeconds: ptr.To(corev1.DefaultClientIPServiceAffinitySeconds),
				},
			}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		port := &spec.Ports[i]
		if port.Protocol == "" {
			port.Protocol = corev1.ProtocolTCP
		}
		if port.TargetPort == intstr.FromInt32(0) || port.TargetPort == intstr.FromString("") {
			port.TargetPort = intstr.FromInt32(port.Port)
		}
	}
	if externallyAccessible(obj) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil {
		switch spec.Type {
		case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyCluster)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = ptr.To(true)
		}
		for i := range obj.Status.LoadBalancer.Ingress {
			ingress := &obj.Status.LoadBalancer.Ingress[i]
			if ingress.IP != "" && ingress.IPMode == nil {
				ingress.IPMode = ptr.To(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
	// ipFamilyPolicy, ipFamilies and clusterIPs are not defaults: the service
	// registry fills them while it allocates addresses.
}

// externallyAccessible reports whether traffic from outside the cluster can
// reach the service, which is when externalTrafficPolicy means something.
func externallyAccessible(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeClusterIP:
		return len(svc.Spec.ExternalIPs) > 0
	}
	return false
}

func SetDefaults_Pod(obj *corev1.Pod) {
	// A negative grace period is clamped only on Pods, not on pod templates,
	// which have never been defaulted this way.
	if p := obj.Spec.TerminationGracePeriodSeconds; p != nil && *p < 0 {
		obj.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
	}

	// Containers that set limits but not requests request their limits. Only
	// Pods get this, so that templates keep what the user wrote.
	for i := range obj.Spec.Containers {
		requestLimits(&obj.Spec.Containers[i].Resources)
	}
	for i := range obj.Spec.InitContainers {
		requestLimits(&obj.Spec.InitContainers[i].Resources)
	}

	if obj.Spec.EnableServiceLinks == nil {
		obj.Spec.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}

	// With the host's network a container port is a host port.
	if obj.Spec.HostNetwork {
		useContainerPortsAsHostPorts(obj.Spec.Containers)
		useContainerPortsAsHostPorts(obj.Spec.InitContainers)
	}
}

func requestLimits(resources *corev1.ResourceRequirements) {
	if resources.Limits == nil {
		return
	}
	if resources.Requests == nil {
		resources.Requests = make(corev1.ResourceList, len(resources.Limits))
	}
	for name, limit := range resources.Limits {
		if _, set := resources.Requests[name]; !set {
			resources.Requests[name] = limit.DeepCopy()
		}
	}
}

func useContainerPortsAsHostPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			port := &containers[i].Ports[j]
			if port.HostPort == 0 {
				port.HostPort = port.ContainerPort
			}
		}
	}
}

func SetDefaults_PodStatus(obj *corev1.PodStatus) {
	// podIP and podIPs describe the same primary address; keep them in step.
	// When they disagree podIP wins, because older kubelets only write it.
	switch {
	case obj.PodIP != "" && (len(obj.PodIPs) == 0 || obj.PodIPs[0].IP != obj.PodIP):
		obj.PodIPs = []corev1.PodIP{{IP: obj.PodIP}}
	case obj.PodIP == "" && len(obj.PodIPs) > 0:
		obj.PodIP = obj.PodIPs[0].IP
	}
}

func SetDefaults_PodSpec(obj *corev1.PodSpec) {
	// Every object embedding a PodSpec gets these, so new defaults belong in
	// SetDefaults_Pod: adding one here changes stored templates and makes
	// controllers see a spec change after an upgrade.

	// serviceAccount is the deprecated alias of serviceAccountName; the two
	// are kept equal and serviceAccountName wins.
	if obj.ServiceAccountName == "" {
		obj.ServiceAccountName = obj.DeprecatedServiceAccount
	}
	obj.DeprecatedServiceAccount = obj.ServiceAccountName
	if obj.DNSPolicy == "" {
		obj.DNSPolicy = corev1.DNSClusterFirst
	}
	if obj.RestartPolicy == "" {
		obj.RestartPolicy = corev1.RestartPolicyAlways
	}
	if obj.SecurityContext == nil {
		obj.SecurityContext = &corev1.PodSecurityContext{}
	}
	if obj.TerminationGracePeriodSeconds == nil {
		obj.TerminationGracePeriodSeconds = ptr.To[int64](corev1.DefaultTerminationGracePeriodSeconds)
	}
	if obj.SchedulerName == "" {
		obj.SchedulerName = corev1.DefaultSchedulerName
	}
}

func SetDefaults_Probe(obj *corev1.Probe) {
	if obj.TimeoutSeconds == 0 {
		obj.TimeoutSeconds = 1
	}
	if obj.PeriodSeconds == 0 {
		obj.PeriodSeconds = 10
	}
	if obj.SuccessThreshold == 0 {
		obj.SuccessThreshold = 1
	}
	if obj.FailureThreshold == 0 {
		obj.FailureThreshold = 3
	}
}

func SetDefaults_SecretVolumeSource(obj *corev1.SecretVolumeSource) {
	if obj.DefaultMode == nil {
		obj.DefaultMode = ptr.To[int32](corev1.SecretVolumeSourceDefaultMode)
	}
}

func SetDefaults_ConfigMapVolumeSource(obj *corev1.ConfigMapVolumeSource) {
	if obj.DefaultMode == nil {
		obj.DefaultMode = ptr.To[int32](corev1.ConfigMapVolumeSourceDefaultMode)
	}
}

func SetDefaults_DownwardAPIVolumeSource(obj *corev1.DownwardAPIVolumeSource) {
	if obj.DefaultMode == nil {
		obj.DefaultMode = ptr.To[int32](corev1.DownwardAPIVolumeSourceDefaultMode)
	}
}

func SetDefaults_ProjectedVolumeSource(obj *corev1.ProjectedVolumeSource) {
	if obj.DefaultMode == nil {
		obj.DefaultMode = ptr.To[int32](corev1.ProjectedVolumeSourceDefaultMode)
	}
}

func SetDefaults_ServiceAccountTokenProjection(obj *corev1.ServiceAccountTokenProjection) {
	if obj.ExpirationSeconds == nil {
		obj.ExpirationSeconds = ptr.To(int64(time.Hour / time.Second))
	}
}

func SetDefaults_HostPathVolumeSource(obj *corev1.HostPathVolumeSource) {
	if obj.Type == nil {
		obj.Type = ptr.To(corev1.HostPathUnset)
	}
}

func SetDefaults_Secret(obj *corev1.Secret) {
	if obj.Type == "" {
		obj.Type = corev1.SecretTypeOpaque
	}
}

func SetDefaults_PersistentVolume(obj *corev1.PersistentVolume) {
	if obj.Status.Phase == "" {
		obj.Status.Phase = corev1.VolumePending
	}
	if obj.Spec.PersistentVolumeReclaimPolicy == "" {
		obj.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if obj.Spec.VolumeMode == nil {
		obj.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

func SetDefaults_PersistentVolumeClaim(obj *corev1.PersistentVolumeClaim) {
	if obj.Status.Phase == "" {
		obj.Status.Phase = corev1.ClaimPending
	}
}

func SetDefaults_PersistentVolumeClaimSpec(obj *corev1.PersistentVolumeClaimSpec) {
	if obj.VolumeMode == nil {
		obj.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

func SetDefaults_Endpoints(obj *corev1.Endpoints) {
	for i := range obj.Subsets {
		for j := range obj.Subsets[i].Ports {
			port := &obj.Subsets[i].Ports[j]
			if port.Protocol == "" {
				port.Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func SetDefaults_HTTPGetAction(obj *corev1.HTTPGetAction) {
	if obj.Path == "" {
		obj.Path = "/"
	}
	if obj.Scheme == "" {
		obj.Scheme = corev1.URISchemeHTTP
	}
}

// SetDefaults_Namespace labels a namespace with its own name so that
// namespace selectors can pick namespaces by name. A namespace created with
// generateName has no name yet; the registry labels it once it has one.
func SetDefaults_Namespace(obj *corev1.Namespace) {
	if obj.Name == "" {
		return
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	obj.Labels[corev1.LabelMetadataName] = obj.Name
}

func SetDefaults_NamespaceStatus(obj *corev1.NamespaceStatus) {
	if obj.Phase == "" {
		obj.Phase = corev1.NamespaceActive
	}
}

func SetDefaults_NodeStatus(obj *corev1.NodeStatus) {
	if obj.Allocatable == nil && obj.Capacity != nil {
		obj.Allocatable = obj.Capacity.DeepCopy()
	}
}

func SetDefaults_ObjectFieldSelector(obj *corev1.ObjectFieldSelector) {
	if obj.APIVersion == "" {
		obj.APIVersion = "v1"
	}
}

func SetDefaults_LimitRangeItem(obj *corev1.LimitRangeItem) {
	if obj.Type != corev1.LimitTypeContainer {
		return
	}
	if obj.Default == nil {
		obj.Default = corev1.ResourceList{}
	}
	if obj.DefaultRequest == nil {
		obj.DefaultRequest = corev1.ResourceList{}
	}
	// The order matters: the default limit falls back to the max, the default
	// request to the (possibly just defaulted) default limit, then to the min.
	fillMissing(obj.Default, obj.Max)
	fillMissing(obj.DefaultRequest, obj.Default)
	fillMissing(obj.DefaultRequest, obj.Min)
}

func fillMissing(dst, src corev1.ResourceList) {
	for name, quantity := range src {
		if _, set := dst[name]; !set {
			dst[name] = quantity.DeepCopy()
		}
	}
}

func SetDefaults_ConfigMap(obj *corev1.ConfigMap) {
	if obj.Data == nil {
		obj.Data = map[string]string{}
	}
}
