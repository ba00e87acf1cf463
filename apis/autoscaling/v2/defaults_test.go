package v2

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"
)

func TestBehaviorDefaults(t *testing.T) {
	tests := []struct {
		name     string
		behavior *autoscalingv2.HorizontalPodAutoscalerBehavior
		want     *autoscalingv2.HorizontalPodAutoscalerBehavior
	}{
		{name: "no behavior stays unset"},
		{
			name:     "empty behavior gets both directions",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{},
			want: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: defaultScaleUpRules(), ScaleDown: defaultScaleDownRules(),
			},
		},
		{
			name: "given parts win",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)},
			},
			want: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleUp: defaultScaleUpRules(),
				ScaleDown: &autoscalingv2.HPAScalingRules{
					StabilizationWindowSeconds: ptr.To[int32](60),
					SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
					Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hpa := &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{Behavior: tt.behavior}}
			SetObjectDefaults_HorizontalPodAutoscaler(hpa)
			if diff := cmp.Diff(tt.want, hpa.Spec.Behavior); diff != "" {
				t.Errorf("behavior (-want +got):\n%s", diff)
			}
			if *hpa.Spec.MinReplicas != 1 || len(hpa.Spec.Metrics) != 1 || *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
				t.Errorf("minReplicas %v metrics %+v", hpa.Spec.MinReplicas, hpa.Spec.Metrics)
			}
		})
	}
}
