package podautoscaler

import (
	"math"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/clock"
)

const (
	// Without a behavior, one step may at most double the replicas, or
	// reach 4: a guard against bogus usage spikes.
	scaleUpLimitFactor  = 2.0
	scaleUpLimitMinimum = 4.0
)

type recommendation struct {
	replicas int32
	at       time.Time
}

type scaleEvent struct {
	change   int32 // absolute
	at       time.Time
	outdated bool
}

// history is what the controller remembers of each HPA between syncs, by
// key: its recent unstabilized recommendations and, for HPAs with a
// behavior, its recent scale changes. It lives in memory only, as
// upstream's does: a restarted controller starts afresh.
type history struct {
	clock clock.PassiveClock
	// downscaleStabilization is the window of an HPA without a behavior,
	// and of a behavior's scaleDown that sets none.
	downscaleStabilization time.Duration

	mu              sync.Mutex
	recommendations map[string][]recommendation
	scaleUps        map[string][]scaleEvent
	scaleDowns      map[string][]scaleEvent
}

func newHistory(clk clock.PassiveClock, downscaleStabilization time.Duration) *history {
	return &history{
		clock:                  clk,
		downscaleStabilization: downscaleStabilization,
		recommendations:        map[string][]recommendation{},
		scaleUps:               map[string][]scaleEvent{},
		scaleDowns:             map[string][]scaleEvent{},
	}
}

func (h *history) forget(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.recommendations, key)
	delete(h.scaleUps, key)
	delete(h.scaleDowns, key)
}

// recordInitial makes the current size the first recommendation of an HPA
// the controller has not seen yet, so that a fresh controller does not
// scale down at once.
func (h *history) recordInitial(key string, current int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.recommendations[key] == nil {
		h.recommendations[key] = []recommendation{{current, h.clock.Now()}}
	}
}

// limit is the outcome of normalization: the replica count and the
// AbleToScale and ScalingLimited conditions it implies.
type limit struct {
	replicas int32
	// ableReason and ableMessage are the AbleToScale (True) condition's.
	ableReason, ableMessage string
	// limited says whether ScalingLimited is True.
	limited                   bool
	limitReason, limitMessage string
}

// normalize applies, without a behavior, the downscale stabilization, the
// min/max bounds and the default scale-up rate limit to desired.
func (h *history) normalize(key string, current, desired, minReplicas, maxReplicas int32) limit {
	stabilized := h.stabilize(key, desired)
	var l limit
	if stabilized != desired {
		l.ableReason, l.ableMessage = "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
	} else {
		l.ableReason, l.ableMessage = "ReadyForNewScale", "recommended size matches current size"
	}
	l.replicas, l.limitReason, l.limitMessage = clampWithRules(current, stabilized, minReplicas, maxReplicas)
	l.limited = l.replicas != stabilized
	return l
}

// stabilize records desired and returns the highest recommendation within
// the downscale stabilization window.
func (h *history) stabilize(key string, desired int32) int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	cutoff := now.Add(-h.downscaleStabilization)
	highest := desired
	old := -1
	for i, r := range h.recommendations[key] {
		if r.at.Before(cutoff) {
			old = i
		} else if r.replicas > highest {
			highest = r.replicas
		}
	}
	h.record(key, old, desired, now)
	return highest
}

// record stores a recommendation, in the slot of an expired one if any.
func (h *history) record(key string, old int, desired int32, now time.Time) {
	if old >= 0 {
		h.recommendations[key][old] = recommendation{desired, now}
	} else {
		h.recommendations[key] = append(h.recommendations[key], recommendation{desired, now})
	}
}

func clampWithRules(current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	upper, reason, message := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if scaleUpLimit := int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum)); maxReplicas > scaleUpLimit {
		upper, reason, message = scaleUpLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	switch {
	case desired < minReplicas:
		return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	case desired > upper:
		return upper, reason, message
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// normalizeWithBehavior applies a behavior to desired: the stabilization
// windows of both directions, then the min/max bounds and the rate the
// policies allow. behavior must be defaulted (the API server does it);
// a scaleDown without a window gets the controller's.
func (h *history) normalizeWithBehavior(key string, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minReplicas, maxReplicas int32) limit {
	up, down := scalingRules(behavior)
	if down.StabilizationWindowSeconds == nil {
		w := int32(h.downscaleStabilization.Seconds())
		down.StabilizationWindowSeconds = &w
	}
	stabilized, reason, message := h.stabilizeWithBehavior(key, up, down, current, desired)
	var l limit
	if stabilized != desired {
		l.ableReason, l.ableMessage = reason, message
	} else {
		l.ableReason, l.ableMessage = "ReadyForNewScale", "recommended size matches current size"
	}
	l.replicas, l.limitReason, l.limitMessage = h.clampWithBehavior(key, up, down, current, stabilized, minReplicas, maxReplicas)
	l.limited = l.replicas != stabilized
	return l
}

// scalingRules are copies of the behavior's rules, with upstream's
// defaults where the API server left a direction out.
func scalingRules(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (up, down *autoscalingv2.HPAScalingRules) {
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	if b.ScaleUp != nil {
		up = b.ScaleUp.DeepCopy()
	} else {
		zero := int32(0)
		up = &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &zero, Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		}}
	}
	if b.ScaleDown != nil {
		down = b.ScaleDown.DeepCopy()
	} else {
		down = &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		}}
	}
	for _, r := range []*autoscalingv2.HPAScalingRules{up, down} {
		if r.SelectPolicy == nil {
			r.SelectPolicy = &maxPolicy
		}
	}
	if up.StabilizationWindowSeconds == nil {
		zero := int32(0)
		up.StabilizationWindowSeconds = &zero
	}
	return up, down
}

// stabilizeWithBehavior records desired and keeps the result between the
// lowest recommendation of the scale-up window and the highest of the
// scale-down window, as near to current as they allow.
func (h *history) stabilizeWithBehavior(key string, up, down *autoscalingv2.HPAScalingRules, current, desired int32) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	upCutoff := now.Add(-time.Second * time.Duration(*up.StabilizationWindowSeconds))
	downCutoff := now.Add(-time.Second * time.Duration(*down.StabilizationWindowSeconds))
	upRec, downRec := desired, desired
	old := -1
	for i, r := range h.recommendations[key] {
		if r.at.After(upCutoff) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(downCutoff) {
			downRec = max(downRec, r.replicas)
		}
		if r.at.Before(upCutoff) && r.at.Before(downCutoff) {
			old = i
		}
	}
	result := min(max(current, upRec), downRec)
	h.record(key, old, desired, now)
	if desired >= current {
		return result, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return result, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// clampWithBehavior bounds desired by min/max and by what the policies
// allow to change within their periods.
func (h *history) clampWithBehavior(key string, up, down *autoscalingv2.HPAScalingRules, current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	switch {
	case desired > current:
		upLimit := max(scaleUpLimit(now, current, h.scaleUps[key], h.scaleDowns[key], up), current)
		upper, reason, message := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if maxReplicas > upLimit {
			upper, reason, message = upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > upper {
			return upper, reason, message
		}
	case desired < current:
		downLimit := min(scaleDownLimit(now, current, h.scaleUps[key], h.scaleDowns[key], down), current)
		lower, reason, message := minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if minReplicas < downLimit {
			lower, reason, message = downLimit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < lower {
			return lower, reason, message
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// changeWithin sums the changes of the events in the last periodSeconds.
func changeWithin(now time.Time, periodSeconds int32, events []scaleEvent) int32 {
	cutoff := now.Add(-time.Second * time.Duration(periodSeconds))
	var total int32
	for _, e := range events {
		if e.at.After(cutoff) {
			total += e.change
		}
	}
	return total
}

// scaleUpLimit is the most replicas the scale-up policies allow now.
func scaleUpLimit(now time.Time, current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules) int32 {
	var (
		result int32
		pick   func(a, b int32) int32
	)
	switch *rules.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MaxInt32, minInt32
	default:
		result, pick = math.MinInt32, maxInt32
	}
	for _, p := range rules.Policies {
		start := current - changeWithin(now, p.PeriodSeconds, ups) + changeWithin(now, p.PeriodSeconds, downs)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start + p.Value
		case autoscalingv2.PercentScalingPolicy:
			// Rounded up, or a small workload could never grow.
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimit is the fewest replicas the scale-down policies allow now.
func scaleDownLimit(now time.Time, current int32, ups, downs []scaleEvent, rules *autoscalingv2.HPAScalingRules) int32 {
	var (
		result int32
		pick   func(a, b int32) int32
	)
	switch *rules.SelectPolicy {
	case autoscalingv2.DisabledPolicySelect:
		return current
	case autoscalingv2.MinChangePolicySelect:
		result, pick = math.MinInt32, maxInt32
	default:
		result, pick = math.MaxInt32, minInt32
	}
	for _, p := range rules.Policies {
		start := current - changeWithin(now, p.PeriodSeconds, ups) + changeWithin(now, p.PeriodSeconds, downs)
		var proposed int32
		switch p.Type {
		case autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case autoscalingv2.PercentScalingPolicy:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func minInt32(a, b int32) int32 { return min(a, b) }
func maxInt32(a, b int32) int32 { return max(a, b) }

// recordScale remembers a rescale of an HPA with a behavior, reusing the
// slot of an event older than the direction's longest policy period.
func (h *history) recordScale(key string, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, from, to int32) {
	if behavior == nil {
		return
	}
	up, down := scalingRules(behavior)
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	events, rules, change := h.scaleDowns, down, from-to
	if to > from {
		events, rules, change = h.scaleUps, up, to-from
	}
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	cutoff := now.Add(-time.Second * time.Duration(longest))
	list := events[key]
	old := -1
	for i := range list {
		if list[i].at.Before(cutoff) {
			list[i].outdated = true
		}
		if list[i].outdated {
			old = i
		}
	}
	e := scaleEvent{change: change, at: now}
	if old >= 0 {
		list[old] = e
	} else {
		list = append(list, e)
	}
	events[key] = list
}
