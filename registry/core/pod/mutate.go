package pod

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/warning"
)

// applySchedulingGatedCondition marks a new pod that has scheduling gates as
// not schedulable for that reason, unless the creator set PodScheduled.
func applySchedulingGatedCondition(pod *corev1.Pod) {
	if len(pod.Spec.SchedulingGates) == 0 || findCondition(&pod.Status, corev1.PodScheduled) != nil {
		return
	}
	UpdateCondition(&pod.Status, corev1.PodCondition{
		Type:    corev1.PodScheduled,
		Status:  corev1.ConditionFalse,
		Reason:  corev1.PodReasonSchedulingGated,
		Message: "Scheduling is blocked due to non-empty scheduling gates",
	})
}

// mergeLabelKeys turns matchLabelKeys and mismatchLabelKeys into selector
// requirements on the pod's own label values, so the scheduler sees plain
// selectors. A nil selector matches nothing and stays nil.
func mergeLabelKeys(sel *metav1.LabelSelector, keys []string, op metav1.LabelSelectorOperator, podLabels map[string]string) {
	if sel == nil {
		return
	}
	for _, key := range keys {
		if value, ok := podLabels[key]; ok {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
				Key: key, Operator: op, Values: []string{value},
			})
		}
	}
}

func mutatePodAffinity(pod *corev1.Pod) {
	a := pod.Spec.Affinity
	if a == nil {
		return
	}
	mutateTerm := func(t *corev1.PodAffinityTerm) {
		mergeLabelKeys(t.LabelSelector, t.MatchLabelKeys, metav1.LabelSelectorOpIn, pod.Labels)
		mergeLabelKeys(t.LabelSelector, t.MismatchLabelKeys, metav1.LabelSelectorOpNotIn, pod.Labels)
	}
	mutate := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) {
		for i := range preferred {
			mutateTerm(&preferred[i].PodAffinityTerm)
		}
		for i := range required {
			mutateTerm(&required[i])
		}
	}
	if pa := a.PodAffinity; pa != nil {
		mutate(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if paa := a.PodAntiAffinity; paa != nil {
		mutate(paa.RequiredDuringSchedulingIgnoredDuringExecution, paa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
}

func mutateTopologySpreadConstraints(pod *corev1.Pod) {
	for i := range pod.Spec.TopologySpreadConstraints {
		c := &pod.Spec.TopologySpreadConstraints[i]
		mergeLabelKeys(c.LabelSelector, c.MatchLabelKeys, metav1.LabelSelectorOpIn, pod.Labels)
	}
}

// applyAppArmorVersionSkew copies the deprecated per-container AppArmor
// annotations into the appArmorProfile fields of containers that have none,
// warning about the annotation, as Kubernetes does since 1.30.
func applyAppArmorVersionSkew(ctx context.Context, pod *corev1.Pod) {
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return
	}
	var podProfile *corev1.AppArmorProfile
	if pod.Spec.SecurityContext != nil {
		podProfile = pod.Spec.SecurityContext.AppArmorProfile
	}
	containers(&pod.Spec, func(c *corev1.Container) bool {
		key := corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + c.Name
		annotation, ok := pod.Annotations[key]
		if !ok || (c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil) {
			return true
		}
		profile := appArmorProfileForAnnotation(annotation)
		warn := profile == nil
		if profile != nil && !apiequality.Semantic.DeepEqual(profile, podProfile) {
			if c.SecurityContext == nil {
				c.SecurityContext = &corev1.SecurityContext{}
			}
			c.SecurityContext.AppArmorProfile = profile
			warn = true
		}
		if warn {
			path := field.NewPath("metadata", "annotations").Key(key)
			warning.AddWarning(ctx, "", fmt.Sprintf(`%s: deprecated since v1.30; use the "appArmorProfile" field instead`, path))
		}
		return true
	})
}

// appArmorProfileForAnnotation returns the profile field equivalent to a
// deprecated annotation value, or nil when the value is not a valid profile.
func appArmorProfileForAnnotation(value string) *corev1.AppArmorProfile {
	switch {
	case value == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case value == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case strings.HasPrefix(value, corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(value, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		// The field rejects names that are blank, padded or longer than PATH_MAX-1.
		if name == "" || strings.TrimSpace(name) != name || len(name) > 4095 {
			return nil
		}
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}
