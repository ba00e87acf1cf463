package v2

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// DefaultCPUUtilization is the target average CPU utilization, in percent, of
// an autoscaler that names no metric. autoscaling/v1 applies it while
// converting, since there it depends on annotations.
const DefaultCPUUtilization = 80

func SetDefaults_HorizontalPodAutoscaler(obj *autoscalingv2.HorizontalPodAutoscaler) {
	if obj.Spec.MinReplicas == nil {
		obj.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(obj.Spec.Metrics) == 0 {
		obj.Spec.Metrics = []autoscalingv2.MetricSpec{DefaultCPUMetric()}
	}
	completeBehavior(obj)
}

// DefaultCPUMetric is the metric of an autoscaler that names none.
func DefaultCPUMetric() autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{
				Type:               autoscalingv2.UtilizationMetricType,
				AverageUtilization: ptr.To[int32](DefaultCPUUtilization),
			},
		},
	}
}

// completeBehavior completes a behavior the user
// gave: a direction left out, and every unset part of a direction, take the
// rules the autoscaler followed before behaviors existed. Without a behavior
// nothing is filled in, and the controller uses the same rules.
func completeBehavior(obj *autoscalingv2.HorizontalPodAutoscaler) {
	if b := obj.Spec.Behavior; b != nil {
		b.ScaleUp = completeRules(b.ScaleUp, defaultScaleUpRules())
		b.ScaleDown = completeRules(b.ScaleDown, defaultScaleDownRules())
	}
}

// defaultScaleUpRules allows, every 15 seconds, the larger of doubling or
// adding four pods, without stabilization.
func defaultScaleUpRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// defaultScaleDownRules allows removing every pod above the recommendation
// each 15 seconds. The stabilization window stays unset because the
// controller's --horizontal-pod-autoscaler-downscale-stabilization flag
// supplies it.
func defaultScaleDownRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	}
}

// completeRules returns defaults with every part that given sets replaced
// by given's.
func completeRules(given, defaults *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if given == nil {
		return defaults
	}
	if given.SelectPolicy != nil {
		defaults.SelectPolicy = given.SelectPolicy
	}
	if given.StabilizationWindowSeconds != nil {
		defaults.StabilizationWindowSeconds = given.StabilizationWindowSeconds
	}
	if given.Policies != nil {
		defaults.Policies = given.Policies
	}
	if given.Tolerance != nil {
		defaults.Tolerance = given.Tolerance
	}
	return defaults
}
