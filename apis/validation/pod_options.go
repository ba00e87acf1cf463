package validation

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// podOptions switch pod spec rules on and off. Most follow a 1.37 feature
// gate at its default; the "allow" ones also ratchet: an update may keep
// something the old object already had even when new objects may not use it.
type podOptions struct {
	allowInvalidPodDeletionCost                       bool
	allowInvalidLabelValueInSelector                  bool
	allowIndivisibleHugePagesValues                   bool
	allowInvalidTopologySpreadConstraintLabelSelector bool
	allowNonLocalProjectedTokenPath                   bool
	allowNamespacedSysctlsForHostNetAndHostIPC        bool
	// resourceIsPod is set when the spec belongs to a Pod, not a template.
	resourceIsPod                                       bool
	allowRelaxedEnvironmentVariableValidation           bool
	allowOnlyRecursiveSELinuxChangePolicy               bool
	podLevelResourcesEnabled                            bool
	allowSidecarResizePolicy                            bool
	allowInvalidLabelValueInRequiredNodeAffinity        bool
	allowMatchLabelKeysInPodTopologySpread              bool
	allowMatchLabelKeysInPodTopologySpreadSelectorMerge bool
	oldPodViolatesMatchLabelKeysValidation              bool
	allowEnvFilesValidation                             bool
	allowContainerRestartPolicyRules                    bool
	allowExistingRestartContainerForNonSidecarInit      bool
	allowUserNamespacesWithVolumeDevices                bool
	allowTaintTolerationComparisonOperators             bool
	allowUserNamespacesHostNetworkSupport               bool
	allowRestartAllContainers                           bool
	allowImageVolumeWithDigest                          bool
	allowEmptyImageVolumeReference                      bool
	allowSysAdminWhenPrivilegeEscalationFalse           bool
}

// podValidationOptions computes the options for spec (and its old version on
// update), as upstream's GetValidationOptionsFromPodSpecAndMeta does with
// 1.37's default feature gates.
func podValidationOptions(spec, oldSpec *corev1.PodSpec, oldMeta *metav1.ObjectMeta) podOptions {
	opts := podOptions{
		podLevelResourcesEnabled:                            true,
		allowSidecarResizePolicy:                            true,
		allowMatchLabelKeysInPodTopologySpread:              true,
		allowMatchLabelKeysInPodTopologySpreadSelectorMerge: true,
		allowContainerRestartPolicyRules:                    true,
		allowRestartAllContainers:                           true,
		allowImageVolumeWithDigest:                          true,
		allowRelaxedEnvironmentVariableValidation:           true,
		allowEnvFilesValidation:                             true,
	}
	if spec == nil || oldSpec == nil {
		return opts
	}
	opts.allowExistingRestartContainerForNonSidecarInit = hasRestartContainerForNonSidecarInit(oldSpec)
	opts.allowUserNamespacesHostNetworkSupport = oldSpec.HostUsers != nil && !*oldSpec.HostUsers && oldSpec.HostNetwork
	for _, t := range oldSpec.Tolerations {
		if t.Operator == corev1.TolerationOpLt || t.Operator == corev1.TolerationOpGt {
			opts.allowTaintTolerationComparisonOperators = true
		}
	}
	opts.allowIndivisibleHugePagesValues = usesIndivisibleHugePagesValues(oldSpec)
	opts.allowInvalidLabelValueInSelector = hasInvalidLabelValueInAffinitySelector(oldSpec)
	if oldSpec.Affinity != nil && oldSpec.Affinity.NodeAffinity != nil && oldSpec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		opts.allowInvalidLabelValueInRequiredNodeAffinity = hasInvalidLabelValueInNodeSelectorTerms(oldSpec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
	}
	opts.allowInvalidTopologySpreadConstraintLabelSelector = hasInvalidTopologySpreadConstraintLabelSelector(oldSpec)
	opts.oldPodViolatesMatchLabelKeysValidation = hasInvalidTopologySpreadMatchLabelKeys(oldSpec)
	opts.allowNonLocalProjectedTokenPath = hasNonLocalProjectedTokenPath(oldSpec)
	if oldSpec.SecurityContext != nil {
		for _, s := range oldSpec.SecurityContext.Sysctls {
			if validateHostSysctl(s.Name, oldSpec, nil) != nil {
				opts.allowNamespacedSysctlsForHostNetAndHostIPC = true
				break
			}
		}
	}
	opts.allowUserNamespacesWithVolumeDevices = hasUserNamespacesWithVolumeDevices(oldSpec)
	opts.allowEmptyImageVolumeReference = hasEmptyImageVolumeReference(oldSpec)
	visitContainers(oldSpec, func(c *corev1.Container) {
		if hasSysAdminAndPrivilegeEscalationFalse(c.SecurityContext) {
			opts.allowSysAdminWhenPrivilegeEscalationFalse = true
		}
	})
	if oldMeta != nil {
		if _, err := deletionCostFromAnnotations(oldMeta.Annotations); err != nil {
			opts.allowInvalidPodDeletionCost = true
		}
	}
	return opts
}

// visitContainers calls fn for every init, regular and ephemeral container.
func visitContainers(spec *corev1.PodSpec, fn func(c *corev1.Container)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		fn(&c)
	}
}

func hasRestartContainerForNonSidecarInit(spec *corev1.PodSpec) bool {
	for _, c := range spec.InitContainers {
		if isRestartableInitContainer(&c) {
			continue
		}
		for _, p := range c.ResizePolicy {
			if p.RestartPolicy == corev1.RestartContainer {
				return true
			}
		}
	}
	return false
}

func isRestartableInitContainer(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func usesIndivisibleHugePagesValues(spec *corev1.PodSpec) bool {
	found := false
	check := func(rl corev1.ResourceList) {
		for name, q := range rl {
			if isHugePageResourceName(name) && !isHugePageResourceValueDivisible(name, q) {
				found = true
			}
		}
	}
	visitContainers(spec, func(c *corev1.Container) {
		check(c.Resources.Limits)
		check(c.Resources.Requests)
	})
	if spec.Resources != nil {
		check(spec.Resources.Limits)
		check(spec.Resources.Requests)
	}
	return found
}

func hasInvalidLabelValueInAffinitySelector(spec *corev1.PodSpec) bool {
	if spec.Affinity == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a := spec.Affinity.PodAffinity; a != nil {
		terms = append(terms, a.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a := spec.Affinity.PodAntiAffinity; a != nil {
		terms = append(terms, a.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(validatePodAffinityTermSelector(t, false, nil)) > 0 {
			return true
		}
	}
	return false
}

func hasInvalidLabelValueInNodeSelectorTerms(terms []corev1.NodeSelectorTerm) bool {
	for _, term := range terms {
		for _, expr := range term.MatchExpressions {
			for _, v := range expr.Values {
				if len(utilvalidation.IsValidLabelValue(v)) > 0 {
					return true
				}
			}
		}
	}
	return false
}

func hasInvalidTopologySpreadConstraintLabelSelector(spec *corev1.PodSpec) bool {
	for _, c := range spec.TopologySpreadConstraints {
		if len(validateLabelSelector(c.LabelSelector, false, nil)) > 0 {
			return true
		}
	}
	return false
}

func hasInvalidTopologySpreadMatchLabelKeys(spec *corev1.PodSpec) bool {
	for _, c := range spec.TopologySpreadConstraints {
		if len(validateMatchLabelKeysAndMismatchLabelKeys(nil, c.MatchLabelKeys, nil, c.LabelSelector)) > 0 {
			return true
		}
	}
	return false
}

func hasNonLocalProjectedTokenPath(spec *corev1.PodSpec) bool {
	for _, v := range spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken == nil {
				continue
			}
			if len(validateLocalNonReservedPath(s.ServiceAccountToken.Path, nil)) > 0 {
				return true
			}
		}
	}
	return false
}

func hasUserNamespacesWithVolumeDevices(spec *corev1.PodSpec) bool {
	if spec.HostUsers == nil || *spec.HostUsers {
		return false
	}
	found := false
	visitContainers(spec, func(c *corev1.Container) {
		if len(c.VolumeDevices) > 0 {
			found = true
		}
	})
	return found
}

func hasEmptyImageVolumeReference(spec *corev1.PodSpec) bool {
	for _, v := range spec.Volumes {
		if v.Image != nil && v.Image.Reference == "" {
			return true
		}
	}
	return false
}

func hasSysAdminAndPrivilegeEscalationFalse(sc *corev1.SecurityContext) bool {
	if sc == nil || sc.Capabilities == nil {
		return false
	}
	if sc.AllowPrivilegeEscalation != nil && *sc.AllowPrivilegeEscalation {
		return false
	}
	for _, c := range sc.Capabilities.Add {
		if string(c) == "CAP_SYS_ADMIN" {
			return true
		}
	}
	return false
}

// deletionCostFromAnnotations parses the pod-deletion-cost annotation, which
// must be a plain 32-bit decimal integer.
func deletionCostFromAnnotations(annotations map[string]string) (int32, error) {
	value, ok := annotations[corev1.PodDeletionCost]
	if !ok {
		return 0, nil
	}
	return parseDeletionCost(value)
}

func parseDeletionCost(value string) (int32, error) {
	validFirst := len(value) > 0 && (value[0] == '-' || value == "0" || (value[0] >= '1' && value[0] <= '9'))
	if !validFirst {
		return 0, fmt.Errorf("invalid value %q", value)
	}
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil {
		return 0, err
	}
	return int32(n), nil
}
