package podautoscaler

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	scalefake "k8s.io/client-go/scale/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// target is the fake scale subresource of deployment ns/web.
type target struct {
	replicas  int32
	selector  string
	missing   bool
	updateErr error
	updated   []int32
}

func (tg *target) install(f *clienttesting.Fake) {
	f.AddReactor("get", "deployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if tg.missing {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web")
		}
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
			Spec:       autoscalingv1.ScaleSpec{Replicas: tg.replicas},
			Status:     autoscalingv1.ScaleStatus{Replicas: tg.replicas, Selector: tg.selector},
		}, nil
	})
	f.AddReactor("update", "deployments", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if tg.updateErr != nil {
			return true, nil, tg.updateErr
		}
		s := a.(clienttesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		tg.updated = append(tg.updated, s.Spec.Replicas)
		tg.replicas = s.Spec.Replicas
		return true, s, nil
	})
}

func testHPA(name string, mutate ...func(*autoscalingv2.HorizontalPodAutoscaler)) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Generation: 1, ResourceVersion: "1"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		},
	}
	for _, m := range mutate {
		m(h)
	}
	return h
}

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	target   *target
	hpaStore cache.Indexer
}

func newFixture(t *testing.T, tg *target, metrics MetricsClient, hpas []*autoscalingv2.HorizontalPodAutoscaler, pods ...*corev1.Pod) *fixture {
	t.Helper()
	var objs []runtime.Object
	for _, h := range hpas {
		objs = append(objs, h)
	}
	client := fake.NewClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	scales := &scalefake.FakeScaleClient{}
	tg.install(&scales.Fake)
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{appsv1.SchemeGroupVersion})
	mapper.Add(appsv1.SchemeGroupVersion.WithKind("Deployment"), meta.RESTScopeNamespace)
	c, err := New(client, scales, mapper, metrics, inf.Autoscaling().V2().HorizontalPodAutoscalers(), inf.Core().V1().Pods(), DefaultConfig(), testingclock.NewFakePassiveClock(now))
	if err != nil {
		t.Fatal(err)
	}
	recorder := record.NewFakeRecorder(100)
	c.recorder = recorder
	for _, h := range hpas {
		if err := inf.Autoscaling().V2().HorizontalPodAutoscalers().Informer().GetIndexer().Add(h); err != nil {
			t.Fatal(err)
		}
		c.addHPA(h)
	}
	for _, p := range pods {
		if err := inf.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, client: client, recorder: recorder, target: tg, hpaStore: inf.Autoscaling().V2().HorizontalPodAutoscalers().Informer().GetIndexer()}
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) status(t *testing.T, name string) autoscalingv2.HorizontalPodAutoscalerStatus {
	t.Helper()
	h, err := f.client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.Status
}

type wantCondition struct {
	t       autoscalingv2.HorizontalPodAutoscalerConditionType
	status  corev1.ConditionStatus
	reason  string
	message string
}

func TestSync(t *testing.T) {
	threePods := []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)}
	const noAPI = "unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"
	tests := []struct {
		name         string
		target       *target
		metrics      *fakeMetrics
		hpas         []*autoscalingv2.HorizontalPodAutoscaler
		pods         []*corev1.Pod
		wantErr      bool
		wantUpdated  []int32
		wantCurrent  int32
		wantDesired  int32
		wantScaled   bool
		wantEvents   []string
		wantConds    []wantCondition
		checkMetrics func(t *testing.T, m []autoscalingv2.MetricStatus)
	}{
		{
			name:        "scale up on CPU",
			target:      &target{replicas: 3, selector: "app=web"},
			metrics:     &fakeMetrics{pods: samples(100, "a", "b", "c")},
			pods:        threePods,
			wantUpdated: []int32{6}, wantCurrent: 3, wantDesired: 6, wantScaled: true,
			wantEvents: []string{"Normal SuccessfulRescale New size: 6; reason: cpu resource utilization (percentage of request) above target"},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to 6"},
				{autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
				{autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", "the desired count is within the acceptable range"},
				{autoscalingv2.ScaledToZero, corev1.ConditionFalse, "NotScaledToZero", "the HPA controller did not scale the workload to zero"},
			},
			checkMetrics: func(t *testing.T, m []autoscalingv2.MetricStatus) {
				if len(m) != 1 || m[0].Type != autoscalingv2.ResourceMetricSourceType || *m[0].Resource.Current.AverageUtilization != 100 || m[0].Resource.Current.AverageValue.String() != "100m" {
					t.Errorf("currentMetrics %+v", m)
				}
			},
		},
		{
			name:        "on target: no rescale",
			target:      &target{replicas: 3, selector: "app=web"},
			metrics:     &fakeMetrics{pods: samples(50, "a", "b", "c")},
			pods:        threePods,
			wantCurrent: 3, wantDesired: 3,
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size"},
				{autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
			},
		},
		{
			name:    "no metrics API",
			target:  &target{replicas: 3, selector: "app=web"},
			metrics: &fakeMetrics{err: errors.New(noAPI)},
			pods:    threePods,
			wantErr: true, wantCurrent: 3, wantDesired: 0,
			wantEvents: []string{
				"Warning FailedGetResourceMetric failed to get cpu utilization: unable to get metrics for resource cpu: " + noAPI,
				"Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: failed to get cpu utilization: unable to get metrics for resource cpu: " + noAPI,
			},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale"},
				{autoscalingv2.ScalingActive, corev1.ConditionFalse, "FailedGetResourceMetric", "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: " + noAPI},
			},
		},
		{
			name:        "above max without metrics",
			target:      &target{replicas: 8, selector: "app=web"},
			metrics:     &fakeMetrics{err: errors.New(noAPI)},
			hpas:        []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 5 })},
			wantUpdated: []int32{5}, wantCurrent: 8, wantDesired: 5, wantScaled: true,
			wantEvents: []string{"Normal SuccessfulRescale New size: 5; reason: Current number of replicas above Spec.MaxReplicas"},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to 5"},
			},
		},
		{
			name:        "below min without metrics",
			target:      &target{replicas: 1, selector: "app=web"},
			metrics:     &fakeMetrics{err: errors.New(noAPI)},
			hpas:        []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](2) })},
			wantUpdated: []int32{2}, wantCurrent: 1, wantDesired: 2, wantScaled: true,
			wantEvents: []string{"Normal SuccessfulRescale New size: 2; reason: Current number of replicas below Spec.MinReplicas"},
		},
		{
			name:        "scaled to zero by someone else",
			target:      &target{replicas: 0, selector: "app=web"},
			metrics:     &fakeMetrics{pods: samples(100, "a")},
			wantCurrent: 0, wantDesired: 0,
			wantConds: []wantCondition{
				{autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero"},
			},
		},
		{
			name:       "missing target",
			target:     &target{missing: true},
			metrics:    &fakeMetrics{},
			wantErr:    true,
			wantEvents: []string{`Warning FailedGetScale deployments.apps "web" not found`},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", `the HPA controller was unable to get the target's current scale: deployments.apps "web" not found`},
			},
		},
		{
			name:    "unknown kind",
			target:  &target{},
			metrics: &fakeMetrics{},
			hpas: []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web", func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w"}
			})},
			wantErr:    true,
			wantEvents: []string{`Warning FailedGetScale no matches for kind "Widget" in group "example.com"`},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", `the HPA controller was unable to get the target's current scale: no matches for kind "Widget" in group "example.com"`},
			},
		},
		{
			name:        "scale without a selector",
			target:      &target{replicas: 2},
			metrics:     &fakeMetrics{},
			wantErr:     true,
			wantCurrent: 2,
			wantEvents:  []string{"Warning SelectorRequired selector is required", "Warning FailedComputeMetricsReplicas selector is required"},
			wantConds: []wantCondition{
				{autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale is missing a selector"},
			},
		},
		{
			name:    "two HPAs for the same pods",
			target:  &target{replicas: 3, selector: "app=web"},
			metrics: &fakeMetrics{pods: samples(100, "a", "b", "c")},
			hpas:    []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web"), testHPA("other")},
			pods:    threePods,
			wantErr: true, wantCurrent: 3,
			wantConds: []wantCondition{
				{autoscalingv2.ScalingActive, corev1.ConditionFalse, "AmbiguousSelector", ""},
			},
		},
		{
			name:        "the scale update fails",
			target:      &target{replicas: 3, selector: "app=web", updateErr: apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", errors.New("no"))},
			metrics:     &fakeMetrics{pods: samples(100, "a", "b", "c")},
			pods:        threePods,
			wantErr:     true,
			wantCurrent: 3,
			wantEvents:  []string{`Warning FailedRescale New size: 6; reason: cpu resource utilization (percentage of request) above target; error: deployments.apps "web" is forbidden: no`},
			wantConds: []wantCondition{
				{autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", `the HPA controller was unable to update the target scale: deployments.apps "web" is forbidden: no`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hpas := tc.hpas
			if hpas == nil {
				hpas = []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web")}
			}
			f := newFixture(t, tc.target, tc.metrics, hpas, tc.pods...)
			if len(hpas) > 1 {
				// The other HPA's first sync records its selector.
				_, _ = f.c.Sync(t.Context(), "ns/other")
				f.events()
				tc.target.updated, tc.target.replicas = nil, 3
			}
			deleted, err := f.c.Sync(t.Context(), "ns/web")
			if deleted || (err != nil) != tc.wantErr {
				t.Fatalf("Sync: deleted %v, error %v; want error %v", deleted, err, tc.wantErr)
			}
			if !slices.Equal(tc.target.updated, tc.wantUpdated) {
				t.Errorf("scale updates %v, want %v", tc.target.updated, tc.wantUpdated)
			}
			st := f.status(t, "web")
			if st.CurrentReplicas != tc.wantCurrent || st.DesiredReplicas != tc.wantDesired {
				t.Errorf("status replicas %d current, %d desired; want %d, %d", st.CurrentReplicas, st.DesiredReplicas, tc.wantCurrent, tc.wantDesired)
			}
			if (st.LastScaleTime != nil) != tc.wantScaled {
				t.Errorf("lastScaleTime %v, want one: %v", st.LastScaleTime, tc.wantScaled)
			}
			if tc.wantEvents != nil {
				if got := f.events(); !slices.Equal(got, tc.wantEvents) {
					t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantEvents, "\n"))
				}
			}
			for _, w := range tc.wantConds {
				var got *autoscalingv2.HorizontalPodAutoscalerCondition
				for i := range st.Conditions {
					if st.Conditions[i].Type == w.t {
						got = &st.Conditions[i]
					}
				}
				if got == nil || got.Status != w.status || got.Reason != w.reason || (w.message != "" && got.Message != w.message) {
					t.Errorf("condition %s: got %+v, want %s %s %q", w.t, got, w.status, w.reason, w.message)
				}
			}
			if tc.checkMetrics != nil {
				tc.checkMetrics(t, st.CurrentMetrics)
			}
		})
	}
}

// The status write is skipped when nothing changed, and a cache older
// than the controller's own write holds the next sync back.
func TestStatusWrites(t *testing.T) {
	tg := &target{replicas: 3, selector: "app=web"}
	f := newFixture(t, tg, &fakeMetrics{pods: samples(50, "a", "b", "c")}, []*autoscalingv2.HorizontalPodAutoscaler{testHPA("web")},
		testPod("a", 100), testPod("b", 100), testPod("c", 100))
	// The fake tracker keeps resource versions; the API server moves them on.
	f.client.PrependReactor("update", "horizontalpodautoscalers", func(a clienttesting.Action) (bool, runtime.Object, error) {
		a.(clienttesting.UpdateAction).GetObject().(*autoscalingv2.HorizontalPodAutoscaler).ResourceVersion = "2"
		return false, nil, nil
	})
	if _, err := f.c.Sync(t.Context(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Sync(t.Context(), "ns/web"); err == nil || !strings.Contains(err.Error(), "older than the controller's write") {
		t.Fatalf("a sync on a stale cache: %v", err)
	}
	// The cache catches up.
	written, err := f.client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(t.Context(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.hpaStore.Update(written); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	if _, err := f.c.Sync(t.Context(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("status written again without a change: %v", a)
		}
	}
	// Deleted: forgotten, and not to be synced again.
	if err := f.hpaStore.Delete(written); err != nil {
		t.Fatal(err)
	}
	if deleted, err := f.c.Sync(t.Context(), "ns/web"); !deleted || err != nil {
		t.Errorf("sync of a deleted HPA: deleted %v, %v", deleted, err)
	}
	if f.c.history.recommendations["ns/web"] != nil {
		t.Error("the deleted HPA's recommendations are kept")
	}
}

func TestFixedIntervalRateLimiter(t *testing.T) {
	r := fixedInterval(15 * time.Second)
	for i := range 3 {
		if got := r.When("k"); got != 15*time.Second {
			t.Errorf("try %d: %v", i, got)
		}
	}
	r.Forget("k")
	if n := r.NumRequeues("k"); n != 1 {
		t.Errorf("NumRequeues %d, want 1", n)
	}
}

// With HPAScaleToZero (on by default in 1.37) an HPA with minReplicas 0
// and an external metric scales its target to zero and wakes it again,
// while a target someone else scaled to zero stays alone.
func TestScaleToZeroAndBack(t *testing.T) {
	tg := &target{replicas: 2, selector: "app=web"}
	metrics := &fakeMetrics{external: []int64{0}}
	hpa := testHPA("web", func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.MinReplicas = ptr.To[int32](0)
		h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp,
			ScaleDown: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, percent(100, 15))}
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "queue"},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: resource.NewQuantity(10, resource.DecimalSI)},
		}}}
	})
	f := newFixture(t, tg, metrics, []*autoscalingv2.HorizontalPodAutoscaler{hpa}, testPod("a", 100), testPod("b", 100))
	sync := func() autoscalingv2.HorizontalPodAutoscalerStatus {
		t.Helper()
		if _, err := f.c.Sync(t.Context(), "ns/web"); err != nil {
			t.Fatal(err)
		}
		h, err := f.client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The informer would deliver the controller's own write.
		if err := f.hpaStore.Update(h); err != nil {
			t.Fatal(err)
		}
		return h.Status
	}
	scaledToZero := func(st autoscalingv2.HorizontalPodAutoscalerStatus) string {
		for _, c := range st.Conditions {
			if c.Type == autoscalingv2.ScaledToZero {
				return string(c.Status) + " " + c.Reason
			}
		}
		return ""
	}

	st := sync()
	if tg.replicas != 0 || scaledToZero(st) != "True ScaledToZero" {
		t.Fatalf("an empty queue: replicas %d, ScaledToZero %q; want 0, True", tg.replicas, scaledToZero(st))
	}
	// At zero and nothing to do: it stays there, still active.
	st = sync()
	if tg.replicas != 0 || scaledToZero(st) != "True ScaledToZero" || condition(st, autoscalingv2.ScalingActive).Reason != "ValidMetricFound" {
		t.Fatalf("idle at zero: replicas %d, conditions %+v", tg.replicas, st.Conditions)
	}
	metrics.external = []int64{25000} // milli-values
	st = sync()
	if tg.replicas != 3 || scaledToZero(st) != "False NotScaledToZero" {
		t.Fatalf("a queue of 25 against 10: replicas %d, ScaledToZero %q; want 3, False", tg.replicas, scaledToZero(st))
	}
	if got := f.events(); !slices.Contains(got, "Normal SuccessfulRescale New size: 3; reason: external metric queue(nil) above target") {
		t.Errorf("events %q", got)
	}

	// Scaled to zero by a user: hands off.
	tg.replicas = 0
	st = sync()
	if tg.replicas != 0 || condition(st, autoscalingv2.ScalingActive).Reason != "ScalingDisabled" {
		t.Fatalf("manually at zero: replicas %d, ScalingActive %+v", tg.replicas, condition(st, autoscalingv2.ScalingActive))
	}
}

func condition(st autoscalingv2.HorizontalPodAutoscalerStatus, t autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}
