package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
)

var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// fakeMetrics answers from fixed samples.
type fakeMetrics struct {
	pods     podMetrics
	object   int64
	external []int64
	err      error
}

func (f *fakeMetrics) GetResourceMetric(context.Context, corev1.ResourceName, string, labels.Selector, string) (podMetrics, time.Time, error) {
	return f.copy(), now, f.err
}

func (f *fakeMetrics) GetRawMetric(context.Context, string, string, labels.Selector, labels.Selector) (podMetrics, time.Time, error) {
	return f.copy(), now, f.err
}

func (f *fakeMetrics) GetObjectMetric(context.Context, string, string, *autoscalingv2.CrossVersionObjectReference, labels.Selector) (int64, time.Time, error) {
	return f.object, now, f.err
}

func (f *fakeMetrics) GetExternalMetric(context.Context, string, string, labels.Selector) ([]int64, time.Time, error) {
	return f.external, now, f.err
}

func (f *fakeMetrics) copy() podMetrics {
	if f.err != nil {
		return nil
	}
	out := podMetrics{}
	for k, v := range f.pods {
		out[k] = v
	}
	return out
}

type podOpt func(*corev1.Pod)

// testPod is a pod of app=web requesting cpuMilli, Running and Ready
// since ten minutes.
func testPod(name string, cpuMilli int64, opts ...podOpt) *corev1.Pod {
	start := metav1.NewTime(now.Add(-10 * time.Minute))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(cpuMilli, resource.DecimalSI)}}}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			StartTime:  &start,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: start}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pending(p *corev1.Pod) { p.Status.Phase = corev1.PodPending; p.Status.Conditions = nil }
func failed(p *corev1.Pod)  { p.Status.Phase = corev1.PodFailed }
func deleting(p *corev1.Pod) {
	ts := metav1.NewTime(now)
	p.DeletionTimestamp = &ts
}

// startedAgo makes the pod start, and become ready, recently.
func startedAgo(start, ready time.Duration) podOpt {
	return func(p *corev1.Pod) {
		st := metav1.NewTime(now.Add(-start))
		p.Status.StartTime = &st
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-ready))
	}
}

func notReadySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions[0].Status = corev1.ConditionFalse
		p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-d))
	}
}

func podLister(t *testing.T, pods ...*corev1.Pod) corelisters.PodLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range pods {
		if err := idx.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewPodLister(idx)
}

// samples gives each named pod a sample of milli, a minute's window ending now.
func samples(milli int64, names ...string) podMetrics {
	m := podMetrics{}
	for _, n := range names {
		m[n] = podMetric{Timestamp: now, Window: 30 * time.Second, Value: milli}
	}
	return m
}

func calculator(t *testing.T, metrics MetricsClient, pods ...*corev1.Pod) *replicaCalculator {
	return &replicaCalculator{metrics: metrics, pods: podLister(t, pods...), clock: testingclock.NewFakePassiveClock(now),
		cpuInitializationPeriod: 5 * time.Minute, delayOfInitialReadiness: 30 * time.Second}
}

var (
	defaultTolerances = tolerances{0.1, 0.1}
	webSelector       = labels.SelectorFromSet(labels.Set{"app": "web"})
)

func TestResourceReplicas(t *testing.T) {
	tests := []struct {
		name            string
		current         int32
		pods            []*corev1.Pod
		metrics         *fakeMetrics
		target          int32
		tolerances      tolerances
		want            int32
		wantUtilization int32
		wantRaw         int64
		wantErr         string
	}{
		{
			name:    "scale up: 100% against 50%",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			metrics: &fakeMetrics{pods: samples(100, "a", "b", "c")},
			want:    6, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "scale down: 20% against 50%",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			metrics: &fakeMetrics{pods: samples(20, "a", "b", "c")},
			want:    2, wantUtilization: 20, wantRaw: 20,
		},
		{
			name:    "within the tolerance",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			metrics: &fakeMetrics{pods: samples(54, "a", "b", "c")},
			want:    3, wantUtilization: 54, wantRaw: 54,
		},
		{
			name:    "outside a tighter scale-up tolerance of the behavior",
			current: 3, target: 50, tolerances: tolerances{0.1, 0.05},
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			metrics: &fakeMetrics{pods: samples(54, "a", "b", "c")},
			want:    4, wantUtilization: 54, wantRaw: 54,
		},
		{
			name:    "a missing sample counts as the whole request on a scale-down",
			current: 3, target: 50,
			pods: []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			// (20+20+100)/300 = 46%: within the tolerance.
			metrics: &fakeMetrics{pods: samples(20, "a", "b")},
			want:    3, wantUtilization: 20, wantRaw: 20,
		},
		{
			name:    "a missing sample counts as nothing on a scale-up",
			current: 3, target: 50,
			pods: []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)},
			// (100+100+0)/300 = 66%: ratio 1.32 of three pods.
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    4, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a pending pod counts as nothing on a scale-up",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100, pending)},
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    4, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a pending pod is left out of a scale-down",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100, pending)},
			metrics: &fakeMetrics{pods: samples(10, "a", "b")},
			want:    1, wantUtilization: 10, wantRaw: 10,
		},
		{
			name:    "deleted and failed pods are ignored",
			current: 3, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100, deleting), testPod("c", 100, failed)},
			metrics: &fakeMetrics{pods: samples(100, "a", "b", "c")},
			want:    2, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a starting pod sampled before a window since it became ready is unready",
			current: 2, target: 50,
			pods: []*corev1.Pod{testPod("a", 100), testPod("b", 100, startedAgo(time.Minute, 10*time.Second))},
			// b's sample counts as 0: (100+0)/200 = 50%, on target.
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    2, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a starting pod sampled a window after it became ready counts",
			current: 2, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100, startedAgo(time.Minute, 40*time.Second))},
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    4, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a pod that never became ready after start is unready",
			current: 2, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100, notReadySince(10*time.Minute-10*time.Second))},
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    2, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "a pod unready after having been ready counts",
			current: 2, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100), testPod("b", 100, notReadySince(time.Minute))},
			metrics: &fakeMetrics{pods: samples(100, "a", "b")},
			want:    4, wantUtilization: 100, wantRaw: 100,
		},
		{
			name:    "no pods",
			current: 1, target: 50,
			metrics: &fakeMetrics{pods: samples(100, "a")},
			wantErr: "no pods returned by selector while calculating replica count",
		},
		{
			name:    "only unready pods",
			current: 1, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100, pending)},
			metrics: &fakeMetrics{pods: samples(100, "a")},
			wantErr: "did not receive metrics for targeted pods (pods might be unready)",
		},
		{
			name:    "a container without a request",
			current: 1, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100, func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = nil })},
			metrics: &fakeMetrics{pods: samples(100, "a")},
			wantErr: "missing request for cpu in container c of Pod a",
		},
		{
			name:    "the metrics API fails",
			current: 1, target: 50,
			pods:    []*corev1.Pod{testPod("a", 100)},
			metrics: &fakeMetrics{err: errors.New("unable to fetch metrics from resource metrics API: boom")},
			wantErr: "unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: boom",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tol := tc.tolerances
			if tol == (tolerances{}) {
				tol = defaultTolerances
			}
			c := calculator(t, tc.metrics, tc.pods...)
			got, utilization, raw, _, err := c.resourceReplicas(t.Context(), tc.current, tc.target, corev1.ResourceCPU, tol, "ns", webSelector, "")
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || utilization != tc.wantUtilization || raw != tc.wantRaw {
				t.Errorf("got %d replicas at %d%% (%dm), want %d at %d%% (%dm)", got, utilization, raw, tc.want, tc.wantUtilization, tc.wantRaw)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	withSidecar := testPod("a", 100, func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{
			{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}},
			{Name: "sidecar", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}},
		}
	})
	podLevel := testPod("a", 100, func(p *corev1.Pod) {
		p.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m")}}
	})
	tests := []struct {
		name      string
		pod       *corev1.Pod
		container string
		want      int64
		wantErr   string
	}{
		{"containers and sidecars, not init containers", withSidecar, "", 150, ""},
		{"one container", withSidecar, "sidecar", 50, ""},
		{"an unknown container", withSidecar, "nope", 0, "container nope not found in Pod a"},
		{"pod-level requests", podLevel, "", 300, ""},
		{"a named container wins over pod-level requests", podLevel, "c", 100, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podRequests([]*corev1.Pod{tc.pod}, tc.container, corev1.ResourceCPU)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got["a"] != tc.want {
				t.Errorf("got %v, %v; want %d", got, err, tc.want)
			}
		})
	}
}

func TestPlainAndExternalReplicas(t *testing.T) {
	three := []*corev1.Pod{testPod("a", 100), testPod("b", 100), testPod("c", 100)}
	tests := []struct {
		name      string
		run       func(c *replicaCalculator) (int32, int64, error)
		metrics   *fakeMetrics
		pods      []*corev1.Pod
		want      int32
		wantUsage int64
	}{
		{
			name:    "pods metric: mean 20 against 10",
			metrics: &fakeMetrics{pods: samples(20000, "a", "b", "c")},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.podsMetricReplicas(t.Context(), 3, 10000, "qps", defaultTolerances, "ns", webSelector, labels.Everything())
				return r, u, err
			},
			want: 6, wantUsage: 20000,
		},
		{
			name: "pods metric: a missing sample counts as the target on a scale-down",
			// (5+5+10)/3 = 6.67 against 10: ratio 0.67 of three pods, not 0.5.
			metrics: &fakeMetrics{pods: samples(5000, "a", "b")},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.podsMetricReplicas(t.Context(), 3, 10000, "qps", defaultTolerances, "ns", webSelector, labels.Everything())
				return r, u, err
			},
			want: 2, wantUsage: 5000,
		},
		{
			name:    "object value: 30 against 10 with three ready pods",
			metrics: &fakeMetrics{object: 30000},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.objectMetricReplicas(t.Context(), 3, 10000, "hits", defaultTolerances, "ns", &autoscalingv2.CrossVersionObjectReference{Kind: "Service", Name: "s"}, webSelector, labels.Everything())
				return r, u, err
			},
			want: 9, wantUsage: 30000,
		},
		{
			name:    "object value from zero replicas",
			metrics: &fakeMetrics{object: 25000},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.objectMetricReplicas(t.Context(), 0, 10000, "hits", defaultTolerances, "ns", &autoscalingv2.CrossVersionObjectReference{Kind: "Service", Name: "s"}, webSelector, labels.Everything())
				return r, u, err
			},
			want: 3, wantUsage: 25000,
		},
		{
			name:    "object average value: 50 over 10 per pod",
			metrics: &fakeMetrics{object: 50000},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.objectPerPodMetricReplicas(t.Context(), 3, 10000, "hits", defaultTolerances, "ns", &autoscalingv2.CrossVersionObjectReference{Kind: "Service", Name: "s"}, labels.Everything())
				return r, u, err
			},
			want: 5, wantUsage: 16667,
		},
		{
			name:    "external value: the sum of the series",
			metrics: &fakeMetrics{external: []int64{10000, 20000}},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.externalMetricReplicas(t.Context(), 3, 15000, "queue", defaultTolerances, "ns", nil, webSelector)
				return r, u, err
			},
			want: 6, wantUsage: 30000,
		},
		{
			name:    "external average value within the tolerance",
			metrics: &fakeMetrics{external: []int64{31000}},
			run: func(c *replicaCalculator) (int32, int64, error) {
				r, u, _, err := c.externalPerPodMetricReplicas(t.Context(), 3, 10000, "queue", defaultTolerances, "ns", nil)
				return r, u, err
			},
			want: 3, wantUsage: 10334,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pods := tc.pods
			if pods == nil {
				pods = three
			}
			got, usage, err := tc.run(calculator(t, tc.metrics, pods...))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || usage != tc.wantUsage {
				t.Errorf("got %d replicas at %d, want %d at %d", got, usage, tc.want, tc.wantUsage)
			}
		})
	}
}

func TestTolerancesString(t *testing.T) {
	if got := fmt.Sprint(tolerances{0.1, 0.05}); !strings.Contains(got, "down:10.0%") || !strings.Contains(got, "up:5.0%") {
		t.Errorf("got %s", got)
	}
}
