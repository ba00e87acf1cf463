package v1

import (
	"encoding/json"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	autoscalingv2defaults "github.com/skiff-dev/skiff/apis/autoscaling/v2"
)

// autoscaling/v1 can express only a CPU utilization target. Everything else
// an autoscaling/v2 object holds travels through v1 in annotations, so that a
// client that reads and writes back through v1 does not erase it. The
// annotation names and formats are Kubernetes'.
const (
	MetricSpecsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	MetricStatusesAnnotation     = "autoscaling.alpha.kubernetes.io/current-metrics"
	ConditionsAnnotation         = "autoscaling.alpha.kubernetes.io/conditions"
	BehaviorSpecsAnnotation      = "autoscaling.alpha.kubernetes.io/behavior"
	ToleranceScaleDownAnnotation = "autoscaling.alpha.kubernetes.io/scale-down-tolerance"
	ToleranceScaleUpAnnotation   = "autoscaling.alpha.kubernetes.io/scale-up-tolerance"
)

var roundTripAnnotations = []string{
	MetricSpecsAnnotation,
	MetricStatusesAnnotation,
	ConditionsAnnotation,
	BehaviorSpecsAnnotation,
	ToleranceScaleDownAnnotation,
	ToleranceScaleUpAnnotation,
}

// DropRoundTripAnnotations returns annotations without the ones that carry
// v2 fields through v1, copying the map only when it has any. Kubernetes
// drops them whenever an object enters or leaves autoscaling/v2; skiff's
// HPA registry must call it on writes, since v2 needs no conversion here.
func DropRoundTripAnnotations(annotations map[string]string) map[string]string {
	out, _ := dropRoundTrip(annotations)
	return out
}

// dropRoundTrip is DropRoundTripAnnotations that also reports whether it
// made a copy, which the caller may then modify.
func dropRoundTrip(annotations map[string]string) (map[string]string, bool) {
	found := false
	for _, key := range roundTripAnnotations {
		if _, ok := annotations[key]; ok {
			found = true
			break
		}
	}
	if !found {
		return annotations, false
	}
	out := copyMap(annotations)
	for _, key := range roundTripAnnotations {
		delete(out, key)
	}
	return out, true
}

func addConversions(s *runtime.Scheme) error {
	if err := s.AddConversionFunc((*autoscalingv1.HorizontalPodAutoscaler)(nil), (*autoscalingv2.HorizontalPodAutoscaler)(nil),
		func(a, b any, _ conversion.Scope) error {
			return HorizontalPodAutoscalerToV2(a.(*autoscalingv1.HorizontalPodAutoscaler), b.(*autoscalingv2.HorizontalPodAutoscaler))
		}); err != nil {
		return err
	}
	if err := s.AddConversionFunc((*autoscalingv2.HorizontalPodAutoscaler)(nil), (*autoscalingv1.HorizontalPodAutoscaler)(nil),
		func(a, b any, _ conversion.Scope) error {
			return HorizontalPodAutoscalerFromV2(a.(*autoscalingv2.HorizontalPodAutoscaler), b.(*autoscalingv1.HorizontalPodAutoscaler))
		}); err != nil {
		return err
	}
	if err := s.AddConversionFunc((*autoscalingv1.HorizontalPodAutoscalerList)(nil), (*autoscalingv2.HorizontalPodAutoscalerList)(nil),
		func(a, b any, _ conversion.Scope) error {
			in, out := a.(*autoscalingv1.HorizontalPodAutoscalerList), b.(*autoscalingv2.HorizontalPodAutoscalerList)
			out.ListMeta = in.ListMeta
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]autoscalingv2.HorizontalPodAutoscaler, len(in.Items))
			}
			for i := range in.Items {
				if err := HorizontalPodAutoscalerToV2(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
		return err
	}
	return s.AddConversionFunc((*autoscalingv2.HorizontalPodAutoscalerList)(nil), (*autoscalingv1.HorizontalPodAutoscalerList)(nil),
		func(a, b any, _ conversion.Scope) error {
			in, out := a.(*autoscalingv2.HorizontalPodAutoscalerList), b.(*autoscalingv1.HorizontalPodAutoscalerList)
			out.ListMeta = in.ListMeta
			out.Items = nil
			if in.Items != nil {
				out.Items = make([]autoscalingv1.HorizontalPodAutoscaler, len(in.Items))
			}
			for i := range in.Items {
				if err := HorizontalPodAutoscalerFromV2(&in.Items[i], &out.Items[i]); err != nil {
					return err
				}
			}
			return nil
		})
}

// isCPUUtilization reports whether m is what autoscaling/v1 calls
// targetCPUUtilizationPercentage.
func isCPUUtilization(m *autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
		m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil
}

// HorizontalPodAutoscalerFromV2 converts an autoscaling/v2 autoscaler to
// autoscaling/v1, storing what v1 cannot express in annotations.
func HorizontalPodAutoscalerFromV2(in *autoscalingv2.HorizontalPodAutoscaler, out *autoscalingv1.HorizontalPodAutoscaler) error {
	out.ObjectMeta = in.ObjectMeta
	// Only the annotations this conversion writes may survive, or stale ones
	// written by a client would override the object's real fields.
	var copied bool
	out.Annotations, copied = dropRoundTrip(out.Annotations)

	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var otherMetrics []autoscalingv1.MetricSpec
	for i := range in.Spec.Metrics {
		metric := &in.Spec.Metrics[i]
		if isCPUUtilization(metric) {
			if out.Spec.TargetCPUUtilizationPercentage == nil {
				out.Spec.TargetCPUUtilizationPercentage = ptr.To(*metric.Resource.Target.AverageUtilization)
			}
			continue
		}
		otherMetrics = append(otherMetrics, metricSpecToV1(metric))
	}

	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	// Every current metric goes to the annotation, CPU included, because the
	// annotation also keeps the raw value next to the utilization.
	currentMetrics := make([]autoscalingv1.MetricStatus, len(in.Status.CurrentMetrics))
	for i := range in.Status.CurrentMetrics {
		metric := &in.Status.CurrentMetrics[i]
		if metric.Type == autoscalingv2.ResourceMetricSourceType && metric.Resource != nil &&
			metric.Resource.Name == corev1.ResourceCPU && metric.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = ptr.To(*metric.Resource.Current.AverageUtilization)
		}
		currentMetrics[i] = metricStatusToV1(metric)
	}
	conditions := make([]autoscalingv1.HorizontalPodAutoscalerCondition, len(in.Status.Conditions))
	for i, c := range in.Status.Conditions {
		conditions[i] = autoscalingv1.HorizontalPodAutoscalerCondition{
			Type:               autoscalingv1.HorizontalPodAutoscalerConditionType(c.Type),
			Status:             c.Status,
			LastTransitionTime: c.LastTransitionTime,
			Reason:             c.Reason,
			Message:            c.Message,
			ObservedGeneration: c.ObservedGeneration,
		}
	}

	annotate := func(key string, value any) error {
		encoded, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("encoding annotation %s of HorizontalPodAutoscaler %s/%s: %w", key, in.Namespace, in.Name, err)
		}
		if !copied {
			out.Annotations, copied = copyMap(out.Annotations), true
		}
		out.Annotations[key] = string(encoded)
		return nil
	}
	if len(otherMetrics) > 0 {
		if err := annotate(MetricSpecsAnnotation, otherMetrics); err != nil {
			return err
		}
	}
	if len(in.Status.CurrentMetrics) > 0 {
		if err := annotate(MetricStatusesAnnotation, currentMetrics); err != nil {
			return err
		}
	}
	if in.Spec.Behavior != nil {
		if err := annotate(BehaviorSpecsAnnotation, behaviorToAnnotation(in.Spec.Behavior)); err != nil {
			return err
		}
	}
	if len(in.Status.Conditions) > 0 {
		if err := annotate(ConditionsAnnotation, conditions); err != nil {
			return err
		}
	}
	return nil
}

// HorizontalPodAutoscalerToV2 converts an autoscaling/v1 autoscaler to
// autoscaling/v2, restoring fields from the annotations v1 carries them in.
// Annotations that do not parse are ignored, as in Kubernetes.
func HorizontalPodAutoscalerToV2(in *autoscalingv1.HorizontalPodAutoscaler, out *autoscalingv2.HorizontalPodAutoscaler) error {
	out.ObjectMeta = in.ObjectMeta
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var cpu *autoscalingv2.MetricSpec
	if in.Spec.TargetCPUUtilizationPercentage != nil {
		cpu = ptr.To(cpuUtilizationMetric(*in.Spec.TargetCPUUtilizationPercentage))
		out.Spec.Metrics = []autoscalingv2.MetricSpec{*cpu}
	}
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: in.Status.ObservedGeneration,
		LastScaleTime:      in.Status.LastScaleTime,
		CurrentReplicas:    in.Status.CurrentReplicas,
		DesiredReplicas:    in.Status.DesiredReplicas,
	}
	if in.Status.CurrentCPUUtilizationPercentage != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU,
				Current: autoscalingv2.MetricValueStatus{
					AverageUtilization: ptr.To(*in.Status.CurrentCPUUtilizationPercentage),
				},
			},
		}}
	}

	annotations := in.Annotations
	var otherMetrics []autoscalingv1.MetricSpec
	if decode(annotations, MetricSpecsAnnotation, &otherMetrics) {
		// The CPU target of the v1 field comes after the other metrics.
		metrics := make([]autoscalingv2.MetricSpec, 0, len(otherMetrics)+1)
		for i := range otherMetrics {
			metrics = append(metrics, metricSpecFromV1(&otherMetrics[i]))
		}
		if cpu != nil {
			metrics = append(metrics, *cpu)
		}
		out.Spec.Metrics = metrics
	}
	var behavior annotationBehavior
	if decode(annotations, BehaviorSpecsAnnotation, &behavior) && (behavior.ScaleUp != nil || behavior.ScaleDown != nil) {
		out.Spec.Behavior = behaviorFromAnnotation(&behavior)
	}
	var currentMetrics []autoscalingv1.MetricStatus
	if decode(annotations, MetricStatusesAnnotation, &currentMetrics) {
		// The annotation holds every current metric, with more detail than
		// the CPU utilization field.
		out.Status.CurrentMetrics = make([]autoscalingv2.MetricStatus, len(currentMetrics))
		for i := range currentMetrics {
			out.Status.CurrentMetrics[i] = metricStatusFromV1(&currentMetrics[i])
		}
	}
	// autoscaling/v1 always scaled on CPU when nothing else was set; v2 needs
	// that target spelled out, and only here are all metrics known.
	if len(out.Spec.Metrics) == 0 {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{autoscalingv2defaults.DefaultCPUMetric()}
	}
	var conditions []autoscalingv1.HorizontalPodAutoscalerCondition
	if decode(annotations, ConditionsAnnotation, &conditions) {
		out.Status.Conditions = make([]autoscalingv2.HorizontalPodAutoscalerCondition, len(conditions))
		for i, c := range conditions {
			out.Status.Conditions[i] = autoscalingv2.HorizontalPodAutoscalerCondition{
				Type:               autoscalingv2.HorizontalPodAutoscalerConditionType(c.Type),
				Status:             c.Status,
				LastTransitionTime: c.LastTransitionTime,
				Reason:             c.Reason,
				Message:            c.Message,
				ObservedGeneration: c.ObservedGeneration,
			}
		}
	}
	out.Annotations = DropRoundTripAnnotations(out.Annotations)
	return nil
}

// decode unmarshals the annotation key into into and reports whether it was
// present and valid.
func decode(annotations map[string]string, key string, into any) bool {
	encoded, ok := annotations[key]
	if !ok {
		return false
	}
	return json.Unmarshal([]byte(encoded), into) == nil
}

func cpuUtilizationMetric(percent int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{
				Type:               autoscalingv2.UtilizationMetricType,
				AverageUtilization: ptr.To(percent),
			},
		},
	}
}

func metricSpecToV1(in *autoscalingv2.MetricSpec) autoscalingv1.MetricSpec {
	out := autoscalingv1.MetricSpec{Type: autoscalingv1.MetricSourceType(in.Type)}
	if src := in.Object; src != nil {
		out.Object = &autoscalingv1.ObjectMetricSource{
			Target:       autoscalingv1.CrossVersionObjectReference(src.DescribedObject),
			MetricName:   src.Metric.Name,
			Selector:     src.Metric.Selector,
			AverageValue: src.Target.AverageValue,
		}
		if src.Target.Value != nil {
			out.Object.TargetValue = src.Target.Value.DeepCopy()
		}
	}
	if src := in.Pods; src != nil {
		out.Pods = &autoscalingv1.PodsMetricSource{
			MetricName: src.Metric.Name,
			Selector:   src.Metric.Selector,
		}
		if src.Target.AverageValue != nil {
			out.Pods.TargetAverageValue = src.Target.AverageValue.DeepCopy()
		}
	}
	if src := in.Resource; src != nil {
		out.Resource = &autoscalingv1.ResourceMetricSource{
			Name:                     src.Name,
			TargetAverageUtilization: src.Target.AverageUtilization,
			TargetAverageValue:       src.Target.AverageValue,
		}
	}
	if src := in.ContainerResource; src != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricSource{
			Name:                     src.Name,
			Container:                src.Container,
			TargetAverageUtilization: src.Target.AverageUtilization,
			TargetAverageValue:       src.Target.AverageValue,
		}
	}
	if src := in.External; src != nil {
		out.External = &autoscalingv1.ExternalMetricSource{
			MetricName:         src.Metric.Name,
			MetricSelector:     src.Metric.Selector,
			TargetValue:        src.Target.Value,
			TargetAverageValue: src.Target.AverageValue,
		}
	}
	return out
}

func metricSpecFromV1(in *autoscalingv1.MetricSpec) autoscalingv2.MetricSpec {
	out := autoscalingv2.MetricSpec{Type: autoscalingv2.MetricSourceType(in.Type)}
	if src := in.Object; src != nil {
		target := autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, AverageValue: src.AverageValue}
		switch {
		case src.AverageValue == nil:
			target.Value = ptr.To(src.TargetValue.DeepCopy())
		case !src.TargetValue.IsZero():
			// v1 cannot leave targetValue out and writes 0 for average-value
			// targets; only a real value is kept, or validation would fail.
			target.Type = autoscalingv2.AverageValueMetricType
			target.Value = ptr.To(src.TargetValue.DeepCopy())
		default:
			target.Type = autoscalingv2.AverageValueMetricType
		}
		out.Object = &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference(src.Target),
			Target:          target,
			Metric:          autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.Selector},
		}
	}
	if src := in.Pods; src != nil {
		out.Pods = &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.Selector},
			Target: autoscalingv2.MetricTarget{
				Type:         autoscalingv2.AverageValueMetricType,
				AverageValue: ptr.To(src.TargetAverageValue.DeepCopy()),
			},
		}
	}
	if src := in.Resource; src != nil {
		out.Resource = &autoscalingv2.ResourceMetricSource{
			Name:   src.Name,
			Target: resourceTarget(src.TargetAverageUtilization, src.TargetAverageValue),
		}
	}
	if src := in.ContainerResource; src != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricSource{
			Name:      src.Name,
			Container: src.Container,
			Target:    resourceTarget(src.TargetAverageUtilization, src.TargetAverageValue),
		}
	}
	if src := in.External; src != nil {
		targetType := autoscalingv2.ValueMetricType
		if src.TargetValue == nil {
			targetType = autoscalingv2.AverageValueMetricType
		}
		out.External = &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.MetricSelector},
			Target: autoscalingv2.MetricTarget{
				Type:         targetType,
				Value:        src.TargetValue,
				AverageValue: src.TargetAverageValue,
			},
		}
	}
	return out
}

// resourceTarget is a utilization target when v1 names a utilization and an
// average-value target otherwise.
func resourceTarget(utilization *int32, averageValue *resource.Quantity) autoscalingv2.MetricTarget {
	target := autoscalingv2.MetricTarget{
		Type:               autoscalingv2.AverageValueMetricType,
		AverageValue:       averageValue,
		AverageUtilization: utilization,
	}
	if utilization != nil {
		target.Type = autoscalingv2.UtilizationMetricType
	}
	return target
}

func metricStatusToV1(in *autoscalingv2.MetricStatus) autoscalingv1.MetricStatus {
	out := autoscalingv1.MetricStatus{Type: autoscalingv1.MetricSourceType(in.Type)}
	if src := in.Object; src != nil {
		out.Object = &autoscalingv1.ObjectMetricStatus{
			Target:     autoscalingv1.CrossVersionObjectReference(src.DescribedObject),
			MetricName: src.Metric.Name,
			Selector:   src.Metric.Selector,
		}
		if src.Current.Value != nil {
			out.Object.CurrentValue = src.Current.Value.DeepCopy()
		}
		if src.Current.AverageValue != nil {
			out.Object.AverageValue = ptr.To(src.Current.AverageValue.DeepCopy())
		}
	}
	if src := in.Pods; src != nil {
		out.Pods = &autoscalingv1.PodsMetricStatus{
			MetricName: src.Metric.Name,
			Selector:   src.Metric.Selector,
		}
		if src.Current.AverageValue != nil {
			out.Pods.CurrentAverageValue = src.Current.AverageValue.DeepCopy()
		}
	}
	if src := in.Resource; src != nil {
		out.Resource = &autoscalingv1.ResourceMetricStatus{
			Name:                      src.Name,
			CurrentAverageUtilization: src.Current.AverageUtilization,
		}
		if src.Current.AverageValue != nil {
			out.Resource.CurrentAverageValue = src.Current.AverageValue.DeepCopy()
		}
	}
	if src := in.ContainerResource; src != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricStatus{
			Name:                      src.Name,
			Container:                 src.Container,
			CurrentAverageUtilization: src.Current.AverageUtilization,
		}
		if src.Current.AverageValue != nil {
			out.ContainerResource.CurrentAverageValue = src.Current.AverageValue.DeepCopy()
		}
	}
	if src := in.External; src != nil {
		out.External = &autoscalingv1.ExternalMetricStatus{
			MetricName:          src.Metric.Name,
			MetricSelector:      src.Metric.Selector,
			CurrentAverageValue: src.Current.AverageValue,
		}
		if src.Current.Value != nil {
			out.External.CurrentValue = src.Current.Value.DeepCopy()
		}
	}
	return out
}

func metricStatusFromV1(in *autoscalingv1.MetricStatus) autoscalingv2.MetricStatus {
	out := autoscalingv2.MetricStatus{Type: autoscalingv2.MetricSourceType(in.Type)}
	if src := in.Object; src != nil {
		out.Object = &autoscalingv2.ObjectMetricStatus{
			DescribedObject: autoscalingv2.CrossVersionObjectReference(src.Target),
			Metric:          autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.Selector},
			Current: autoscalingv2.MetricValueStatus{
				Value:        ptr.To(src.CurrentValue.DeepCopy()),
				AverageValue: src.AverageValue,
			},
		}
	}
	if src := in.Pods; src != nil {
		out.Pods = &autoscalingv2.PodsMetricStatus{
			Metric:  autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.Selector},
			Current: autoscalingv2.MetricValueStatus{AverageValue: ptr.To(src.CurrentAverageValue.DeepCopy())},
		}
	}
	if src := in.Resource; src != nil {
		out.Resource = &autoscalingv2.ResourceMetricStatus{
			Name: src.Name,
			Current: autoscalingv2.MetricValueStatus{
				AverageValue:       ptr.To(src.CurrentAverageValue.DeepCopy()),
				AverageUtilization: src.CurrentAverageUtilization,
			},
		}
	}
	if src := in.ContainerResource; src != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{
			Name:      src.Name,
			Container: src.Container,
			Current: autoscalingv2.MetricValueStatus{
				AverageValue:       ptr.To(src.CurrentAverageValue.DeepCopy()),
				AverageUtilization: src.CurrentAverageUtilization,
			},
		}
	}
	if src := in.External; src != nil {
		out.External = &autoscalingv2.ExternalMetricStatus{
			Metric: autoscalingv2.MetricIdentifier{Name: src.MetricName, Selector: src.MetricSelector},
			Current: autoscalingv2.MetricValueStatus{
				Value:        ptr.To(src.CurrentValue.DeepCopy()),
				AverageValue: src.CurrentAverageValue,
			},
		}
	}
	return out
}

// The behavior annotation holds Kubernetes' internal behavior type encoded
// as JSON. That type has no JSON tags, so its keys are Go field names and
// unset fields are null; these mirrors reproduce the format exactly. Reading
// also accepts lower-case keys, since JSON field matching ignores case.
type (
	annotationBehavior struct {
		ScaleUp   *annotationRules
		ScaleDown *annotationRules
	}
	annotationRules struct {
		StabilizationWindowSeconds *int32
		SelectPolicy               *autoscalingv2.ScalingPolicySelect
		Policies                   []annotationPolicy
		Tolerance                  *resource.Quantity
	}
	annotationPolicy struct {
		Type          autoscalingv2.HPAScalingPolicyType
		Value         int32
		PeriodSeconds int32
	}
)

func behaviorToAnnotation(in *autoscalingv2.HorizontalPodAutoscalerBehavior) *annotationBehavior {
	rules := func(in *autoscalingv2.HPAScalingRules) *annotationRules {
		if in == nil {
			return nil
		}
		out := &annotationRules{
			StabilizationWindowSeconds: in.StabilizationWindowSeconds,
			SelectPolicy:               in.SelectPolicy,
			Tolerance:                  in.Tolerance,
		}
		if in.Policies != nil {
			out.Policies = make([]annotationPolicy, len(in.Policies))
			for i, p := range in.Policies {
				out.Policies[i] = annotationPolicy(p)
			}
		}
		return out
	}
	return &annotationBehavior{ScaleUp: rules(in.ScaleUp), ScaleDown: rules(in.ScaleDown)}
}

func behaviorFromAnnotation(in *annotationBehavior) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	rules := func(in *annotationRules) *autoscalingv2.HPAScalingRules {
		if in == nil {
			return nil
		}
		out := &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: in.StabilizationWindowSeconds,
			SelectPolicy:               in.SelectPolicy,
			Tolerance:                  in.Tolerance,
		}
		if in.Policies != nil {
			out.Policies = make([]autoscalingv2.HPAScalingPolicy, len(in.Policies))
			for i, p := range in.Policies {
				out.Policies[i] = autoscalingv2.HPAScalingPolicy(p)
			}
		}
		return out
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(in.ScaleUp), ScaleDown: rules(in.ScaleDown)}
}

func copyMap(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+4)
	for k, v := range in {
		out[k] = v
	}
	return out
}
