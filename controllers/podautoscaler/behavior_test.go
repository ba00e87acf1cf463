package podautoscaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

const key = "ns/web"

// ago is a recommendation or scale event some time before now.
type ago struct {
	replicas int32
	before   time.Duration
}

func rules(window *int32, selectPolicy autoscalingv2.ScalingPolicySelect, policies ...autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: window, SelectPolicy: &selectPolicy, Policies: policies}
}

func pods(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: n, PeriodSeconds: period}
}

func percent(n, period int32) autoscalingv2.HPAScalingPolicy {
	return autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: n, PeriodSeconds: period}
}

// The API server's defaults for each direction.
var (
	defaultUp   = rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, pods(4, 15), percent(100, 15))
	defaultDown = rules(nil, autoscalingv2.MaxChangePolicySelect, percent(100, 15))
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name                       string
		behavior                   *autoscalingv2.HorizontalPodAutoscalerBehavior
		recommendations            []ago
		scaleUps, scaleDowns       []ago
		current, desired, min, max int32
		want                       int32
		wantAble                   string
		wantLimited                bool
		wantLimit                  string
	}{
		{
			name:    "no behavior: within range",
			current: 3, desired: 5, min: 1, max: 10,
			want: 5, wantAble: "ReadyForNewScale", wantLimit: "DesiredWithinRange",
		},
		{
			name:    "no behavior: at most double",
			current: 3, desired: 10, min: 1, max: 20,
			want: 6, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:    "no behavior: at least four",
			current: 1, desired: 10, min: 1, max: 20,
			want: 4, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:    "no behavior: max",
			current: 4, desired: 10, min: 1, max: 5,
			want: 5, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "TooManyReplicas",
		},
		{
			name:    "no behavior: min",
			current: 4, desired: 1, min: 2, max: 5,
			want: 2, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "TooFewReplicas",
		},
		{
			name:            "no behavior: a higher recommendation within five minutes holds a scale-down",
			recommendations: []ago{{5, 4 * time.Minute}, {4, time.Minute}},
			current:         5, desired: 2, min: 1, max: 10,
			want: 5, wantAble: "ScaleDownStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:            "no behavior: recommendations older than five minutes do not",
			recommendations: []ago{{5, 6 * time.Minute}, {3, time.Minute}},
			current:         5, desired: 2, min: 1, max: 10,
			want: 3, wantAble: "ScaleDownStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:     "behavior: defaults allow four pods or double in 15s, whichever is more",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: defaultDown},
			current:  3, desired: 20, min: 1, max: 30,
			want: 7, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:     "behavior: Max of Pods 1 and Percent 50",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, pods(1, 60), percent(50, 60)), ScaleDown: defaultDown},
			current:  4, desired: 10, min: 1, max: 30,
			want: 6, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:     "behavior: Min of Pods 1 and Percent 50",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](0), autoscalingv2.MinChangePolicySelect, pods(1, 60), percent(50, 60)), ScaleDown: defaultDown},
			current:  4, desired: 10, min: 1, max: 30,
			want: 5, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:     "behavior: Percent rounds a scale-up up",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, percent(10, 60)), ScaleDown: defaultDown},
			current:  3, desired: 10, min: 1, max: 30,
			want: 4, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:     "behavior: scale-up Disabled",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](0), autoscalingv2.DisabledPolicySelect, pods(4, 15)), ScaleDown: defaultDown},
			current:  3, desired: 10, min: 1, max: 30,
			want: 3, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:     "behavior: scale-down Disabled",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](0), autoscalingv2.DisabledPolicySelect, percent(100, 15))},
			current:  6, desired: 1, min: 1, max: 30,
			want: 6, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleDownLimit",
		},
		{
			name:     "behavior: scale-ups within the period count against the limit",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, pods(4, 60)), ScaleDown: defaultDown},
			scaleUps: []ago{{3, 30 * time.Second}, {5, 2 * time.Minute}},
			current:  6, desired: 20, min: 1, max: 30,
			want: 7, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
		{
			name:       "behavior: scale-downs within the period count against the limit",
			behavior:   &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, percent(50, 60))},
			scaleDowns: []ago{{4, 30 * time.Second}},
			// The period started at 12: half of it is 6.
			current: 8, desired: 2, min: 1, max: 30,
			want: 6, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleDownLimit",
		},
		{
			name:     "behavior: Min of scale-down policies removes the fewest",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](0), autoscalingv2.MinChangePolicySelect, pods(1, 60), percent(50, 60))},
			current:  8, desired: 2, min: 1, max: 30,
			want: 7, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleDownLimit",
		},
		{
			name:     "behavior: min below the scale-down limit",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, percent(100, 15))},
			current:  8, desired: 1, min: 3, max: 30,
			want: 3, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "TooFewReplicas",
		},
		{
			name:     "behavior: max below the scale-up limit",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: defaultDown},
			current:  3, desired: 20, min: 1, max: 5,
			want: 5, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "TooManyReplicas",
		},
		{
			name:            "behavior: a lower recommendation within the scale-up window holds a scale-up",
			behavior:        &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](60), autoscalingv2.MaxChangePolicySelect, pods(10, 15)), ScaleDown: defaultDown},
			recommendations: []ago{{3, 30 * time.Second}, {5, 20 * time.Second}},
			current:         3, desired: 8, min: 1, max: 30,
			want: 3, wantAble: "ScaleUpStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:            "behavior: the scale-up window takes the lowest recent recommendation",
			behavior:        &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: rules(ptr.To[int32](60), autoscalingv2.MaxChangePolicySelect, pods(10, 15)), ScaleDown: defaultDown},
			recommendations: []ago{{3, 90 * time.Second}, {5, 20 * time.Second}, {6, 10 * time.Second}},
			current:         3, desired: 8, min: 1, max: 30,
			want: 5, wantAble: "ScaleUpStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:            "behavior: a higher recommendation within the scale-down window holds a scale-down",
			behavior:        &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](60), autoscalingv2.MaxChangePolicySelect, percent(100, 15))},
			recommendations: []ago{{7, 90 * time.Second}, {5, 30 * time.Second}},
			current:         7, desired: 3, min: 1, max: 30,
			want: 5, wantAble: "ScaleDownStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:            "behavior: a scale-down without a window takes the controller's five minutes",
			behavior:        &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: defaultDown},
			recommendations: []ago{{7, 4 * time.Minute}},
			current:         7, desired: 3, min: 1, max: 30,
			want: 7, wantAble: "ScaleDownStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:            "behavior: stabilization never goes past the current count",
			behavior:        &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultUp, ScaleDown: rules(ptr.To[int32](60), autoscalingv2.MaxChangePolicySelect, percent(100, 15))},
			recommendations: []ago{{9, 30 * time.Second}},
			current:         5, desired: 4, min: 1, max: 30,
			want: 5, wantAble: "ScaleDownStabilized", wantLimit: "DesiredWithinRange",
		},
		{
			name:     "behavior: without scaleUp the defaults apply",
			behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: defaultDown},
			current:  2, desired: 20, min: 1, max: 30,
			want: 6, wantAble: "ReadyForNewScale", wantLimited: true, wantLimit: "ScaleUpLimit",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testingclock.NewFakePassiveClock(now)
			h := newHistory(clk, 5*time.Minute)
			for _, r := range tc.recommendations {
				h.recommendations[key] = append(h.recommendations[key], recommendation{r.replicas, now.Add(-r.before)})
			}
			for _, e := range tc.scaleUps {
				h.scaleUps[key] = append(h.scaleUps[key], scaleEvent{change: e.replicas, at: now.Add(-e.before)})
			}
			for _, e := range tc.scaleDowns {
				h.scaleDowns[key] = append(h.scaleDowns[key], scaleEvent{change: e.replicas, at: now.Add(-e.before)})
			}
			var l limit
			if tc.behavior == nil {
				l = h.normalize(key, tc.current, tc.desired, tc.min, tc.max)
			} else {
				l = h.normalizeWithBehavior(key, tc.behavior, tc.current, tc.desired, tc.min, tc.max)
			}
			if l.replicas != tc.want || l.ableReason != tc.wantAble || l.limited != tc.wantLimited || l.limitReason != tc.wantLimit {
				t.Errorf("got %d, AbleToScale %s, limited %v %s; want %d, %s, %v %s",
					l.replicas, l.ableReason, l.limited, l.limitReason, tc.want, tc.wantAble, tc.wantLimited, tc.wantLimit)
			}
			// The unstabilized recommendation is what is remembered.
			found := false
			for _, r := range h.recommendations[key] {
				if r.replicas == tc.desired && r.at.Equal(now) {
					found = true
				}
			}
			if !found {
				t.Errorf("recommendation %d not recorded: %v", tc.desired, h.recommendations[key])
			}
		})
	}
}

// A sequence of syncs on a fake clock: the recorded rescales limit the
// next ones until their period has passed, and recommendations older than
// every window are replaced rather than piled up.
func TestHistoryOverTime(t *testing.T) {
	clk := testingclock.NewFakePassiveClock(now)
	h := newHistory(clk, 5*time.Minute)
	behavior := &autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp:   rules(ptr.To[int32](0), autoscalingv2.MaxChangePolicySelect, pods(2, 60)),
		ScaleDown: rules(ptr.To[int32](30), autoscalingv2.MaxChangePolicySelect, pods(1, 60)),
	}
	current := int32(2)
	h.recordInitial(key, current)
	steps := []struct {
		at      time.Duration // since the start
		desired int32
		want    int32
	}{
		{0, 10, 4},                // +2 a minute
		{15 * time.Second, 10, 4}, // the minute is not over
		{61 * time.Second, 10, 6}, // it is
		{75 * time.Second, 1, 6},  // the 30s scale-down window holds 10
		// Out of the window; the period began at 4 (6 less the +2 of
		// 61s), and may lose one pod: 3.
		{92 * time.Second, 1, 3},
		{110 * time.Second, 1, 3},  // 3 - 2 + 3 = 4 at the period's start: 3 at least
		{125 * time.Second, 1, 3},  // 3 + 3 = 6 at the period's start: 5 at least
		{153 * time.Second, 1, 2},  // the -3 of 92s is out of the period
		{160 * time.Second, 20, 5}, // the period began at 3 (2 plus the -1 of 153s): +2
		{800 * time.Second, 20, 7}, // old events are out of every period
	}
	for i, s := range steps {
		clk.SetTime(now.Add(s.at))
		l := h.normalizeWithBehavior(key, behavior, current, s.desired, 1, 30)
		if l.replicas != s.want {
			t.Fatalf("step %d (desired %d from %d): got %d, want %d (%s, %s)", i, s.desired, current, l.replicas, s.want, l.ableReason, l.limitReason)
		}
		if l.replicas != current {
			h.recordScale(key, behavior, current, l.replicas)
			current = l.replicas
		}
	}
	if n := len(h.recommendations[key]); n > 5 {
		t.Errorf("%d recommendations kept, want old ones replaced", n)
	}
	if n := len(h.scaleUps[key]) + len(h.scaleDowns[key]); n > 4 {
		t.Errorf("%d scale events kept, want outdated ones replaced", n)
	}
	h.forget(key)
	if h.recommendations[key] != nil || h.scaleUps[key] != nil || h.scaleDowns[key] != nil {
		t.Error("forget kept history")
	}
}
