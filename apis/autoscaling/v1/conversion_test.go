package v1

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCPUTargetRoundTrip(t *testing.T) {
	in := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Annotations: map[string]string{"keep": "me"}},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef:                 autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
			MinReplicas:                    ptr.To[int32](2),
			MaxReplicas:                    10,
			TargetCPUUtilizationPercentage: ptr.To[int32](50),
		},
		Status: autoscalingv1.HorizontalPodAutoscalerStatus{
			CurrentReplicas: 3, DesiredReplicas: 4, CurrentCPUUtilizationPercentage: ptr.To[int32](70),
		},
	}
	var v2 autoscalingv2.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerToV2(in, &v2); err != nil {
		t.Fatal(err)
	}
	wantMetrics := []autoscalingv2.MetricSpec{cpuUtilizationMetric(50)}
	if diff := cmp.Diff(wantMetrics, v2.Spec.Metrics); diff != "" {
		t.Errorf("v2 metrics (-want +got):\n%s", diff)
	}
	if got := v2.Status.CurrentMetrics; len(got) != 1 || *got[0].Resource.Current.AverageUtilization != 70 {
		t.Errorf("v2 current metrics %+v", got)
	}

	var back autoscalingv1.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerFromV2(&v2, &back); err != nil {
		t.Fatal(err)
	}
	// The current CPU metric comes back both as the v1 field and, with its
	// raw value, in the current-metrics annotation.
	if _, ok := back.Annotations[MetricStatusesAnnotation]; !ok {
		t.Errorf("no %s annotation: %v", MetricStatusesAnnotation, back.Annotations)
	}
	delete(back.Annotations, MetricStatusesAnnotation)
	if diff := cmp.Diff(in, &back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDefaultCPUTargetWhenNoMetric(t *testing.T) {
	in := &autoscalingv1.HorizontalPodAutoscaler{Spec: autoscalingv1.HorizontalPodAutoscalerSpec{MaxReplicas: 3}}
	var v2 autoscalingv2.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerToV2(in, &v2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]autoscalingv2.MetricSpec{cpuUtilizationMetric(80)}, v2.Spec.Metrics); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestV2FieldsSurviveV1(t *testing.T) {
	now := metav1.Unix(1700000000, 0)
	orig := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Annotations: map[string]string{
			// A stale annotation from a client must not win over real fields.
			MetricSpecsAnnotation: `[{"type":"Pods","pods":{"metricName":"stale","targetAverageValue":"1"}}]`,
		}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			MaxReplicas: 5,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "qps"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("100"))},
				}},
				{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
					DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "main", APIVersion: "networking.k8s.io/v1"},
					Metric:          autoscalingv2.MetricIdentifier{Name: "rps"},
					Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: ptr.To(resource.MustParse("2k"))},
				}},
				{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "queue", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"q": "jobs"}}},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("30"))},
				}},
				{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: corev1.ResourceMemory, Container: "app",
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("1Gi"))},
				}},
				cpuUtilizationMetric(60),
			},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: &autoscalingv2.HPAScalingRules{
					StabilizationWindowSeconds: ptr.To[int32](300),
					Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
					Tolerance:                  ptr.To(resource.MustParse("50m")),
				},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			DesiredReplicas: 2,
			CurrentMetrics: []autoscalingv2.MetricStatus{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{
					AverageUtilization: ptr.To[int32](40), AverageValue: ptr.To(resource.MustParse("200m")),
				}},
			}},
			Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{
				Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, LastTransitionTime: now, Reason: "ReadyForNewScale",
			}},
		},
	}
	orig.Annotations = map[string]string{MetricSpecsAnnotation: orig.Annotations[MetricSpecsAnnotation]}
	inCopy := orig.DeepCopy()

	var v1 autoscalingv1.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerFromV2(orig, &v1); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(inCopy, orig); diff != "" {
		t.Fatalf("conversion modified its input (-before +after):\n%s", diff)
	}
	if got := ptr.Deref(v1.Spec.TargetCPUUtilizationPercentage, 0); got != 60 {
		t.Errorf("targetCPUUtilizationPercentage %d, want 60", got)
	}
	if got := ptr.Deref(v1.Status.CurrentCPUUtilizationPercentage, 0); got != 40 {
		t.Errorf("currentCPUUtilizationPercentage %d, want 40", got)
	}
	// Kubernetes writes the behavior annotation from its internal type, whose
	// keys are Go field names.
	wantBehavior := `{"ScaleUp":null,"ScaleDown":{"StabilizationWindowSeconds":300,"SelectPolicy":null,` +
		`"Policies":[{"Type":"Pods","Value":1,"PeriodSeconds":60}],"Tolerance":"50m"}}`
	if got := v1.Annotations[BehaviorSpecsAnnotation]; got != wantBehavior {
		t.Errorf("behavior annotation\n got %s\nwant %s", got, wantBehavior)
	}
	var conds []map[string]any
	if err := json.Unmarshal([]byte(v1.Annotations[ConditionsAnnotation]), &conds); err != nil || len(conds) != 1 || conds[0]["reason"] != "ReadyForNewScale" {
		t.Errorf("conditions annotation %q (%v)", v1.Annotations[ConditionsAnnotation], err)
	}

	var back autoscalingv2.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerToV2(&v1, &back); err != nil {
		t.Fatal(err)
	}
	want := inCopy.DeepCopy()
	want.Annotations = map[string]string{}
	if diff := cmp.Diff(want, &back, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("v2 -> v1 -> v2 (-want +got):\n%s", diff)
	}
}

func TestBehaviorAnnotationAcceptsLowerCaseKeys(t *testing.T) {
	in := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		BehaviorSpecsAnnotation: `{"scaleUp":{"selectPolicy":"Disabled"}}`,
		"other":                 "kept",
	}}}
	var v2 autoscalingv2.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerToV2(in, &v2); err != nil {
		t.Fatal(err)
	}
	if b := v2.Spec.Behavior; b == nil || b.ScaleUp == nil || *b.ScaleUp.SelectPolicy != autoscalingv2.DisabledPolicySelect {
		t.Fatalf("behavior %+v", b)
	}
	if diff := cmp.Diff(map[string]string{"other": "kept"}, v2.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if _, ok := in.Annotations[BehaviorSpecsAnnotation]; !ok {
		t.Error("input annotations modified")
	}
}

func TestInvalidAnnotationsAreIgnored(t *testing.T) {
	in := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			MetricSpecsAnnotation:    "{not json",
			BehaviorSpecsAnnotation:  "{}",
			ConditionsAnnotation:     "[",
			MetricStatusesAnnotation: "7",
		}},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{TargetCPUUtilizationPercentage: ptr.To[int32](20)},
	}
	var v2 autoscalingv2.HorizontalPodAutoscaler
	if err := HorizontalPodAutoscalerToV2(in, &v2); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]autoscalingv2.MetricSpec{cpuUtilizationMetric(20)}, v2.Spec.Metrics); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if v2.Spec.Behavior != nil || v2.Status.Conditions != nil || len(v2.Annotations) != 0 {
		t.Errorf("behavior %v conditions %v annotations %v", v2.Spec.Behavior, v2.Status.Conditions, v2.Annotations)
	}
}
