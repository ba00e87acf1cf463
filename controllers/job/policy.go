package job

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// matchPodFailurePolicy applies the first rule that matches failedPod. It
// returns the Job failure message of a FailJob rule, whether the failure
// counts against backoffLimit, and the action taken (nil when no rule
// matched).
func matchPodFailurePolicy(policy *batchv1.PodFailurePolicy, failedPod *corev1.Pod) (*string, bool, *batchv1.PodFailurePolicyAction) {
	if policy == nil {
		return nil, true, nil
	}
	for index, rule := range policy.Rules {
		var failJobMsg func() string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchOnExitCodes(&failedPod.Status, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			failJobMsg = func() string {
				return fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
					cs.Name, failedPod.Namespace, failedPod.Name, cs.State.Terminated.ExitCode, rule.Action, index)
			}
		case rule.OnPodConditions != nil:
			cond := matchOnPodConditions(&failedPod.Status, rule.OnPodConditions)
			if cond == nil {
				continue
			}
			failJobMsg = func() string {
				return fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
					failedPod.Namespace, failedPod.Name, cond.Type, rule.Action, index)
			}
		default:
			continue
		}
		action := rule.Action
		switch action {
		case batchv1.PodFailurePolicyActionIgnore:
			return nil, false, &action
		case batchv1.PodFailurePolicyActionFailIndex, batchv1.PodFailurePolicyActionCount:
			return nil, true, &action
		case batchv1.PodFailurePolicyActionFailJob:
			msg := failJobMsg()
			return &msg, true, &action
		}
	}
	return nil, true, nil
}

func matchOnExitCodes(status *corev1.PodStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	if cs := matchingContainer(status.ContainerStatuses, req); cs != nil {
		return cs
	}
	return matchingContainer(status.InitContainerStatuses, req)
}

func matchingContainer(statuses []corev1.ContainerStatus, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for i := range statuses {
		cs := &statuses[i]
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode == 0 {
			continue
		}
		if req.ContainerName != nil && *req.ContainerName != cs.Name {
			continue
		}
		in := slices.Contains(req.Values, cs.State.Terminated.ExitCode)
		if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
			return cs
		}
	}
	return nil
}

func matchOnPodConditions(status *corev1.PodStatus, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range status.Conditions {
		c := &status.Conditions[i]
		for _, p := range patterns {
			if c.Type == p.Type && c.Status == p.Status {
				return c
			}
		}
	}
	return nil
}

// matchSuccessPolicy reports the first successPolicy rule the succeeded
// indexes satisfy, with upstream's message.
func matchSuccessPolicy(logger klog.Logger, policy *batchv1.SuccessPolicy, completions int32, succeeded orderedIntervals) (string, bool) {
	if policy == nil || len(succeeded) == 0 {
		return "", false
	}
	for index, rule := range policy.Rules {
		if rule.SucceededIndexes != nil {
			required := parseIndexes(logger, *rule.SucceededIndexes, int(completions))
			if len(required) == 0 {
				continue
			}
			if matchSucceededIndexesRule(required, succeeded, rule.SucceededCount) {
				return fmt.Sprintf("Matched rules at index %d", index), true
			}
		} else if rule.SucceededCount != nil && succeeded.total() >= int(*rule.SucceededCount) {
			return fmt.Sprintf("Matched rules at index %d", index), true
		}
	}
	return "", false
}

func matchSucceededIndexesRule(rule, succeeded orderedIntervals, succeededCount *int32) bool {
	contains, s, r := 0, 0, 0
	for r < len(rule) && s < len(succeeded) {
		if overlap := min(rule[r].Last, succeeded[s].Last) - max(rule[r].First, succeeded[s].First) + 1; overlap > 0 {
			contains += overlap
		}
		switch {
		case succeeded[s].Last < rule[r].Last:
			s++
		case succeeded[s].Last > rule[r].Last:
			r++
		default:
			s++
			r++
		}
	}
	return contains == rule.total() || (succeededCount != nil && contains >= int(*succeededCount))
}

// backoffRecord is what the controller remembers of a Job's recent pod
// failures, to delay replacements exponentially.
type backoffRecord struct {
	key                      string
	failuresAfterLastSuccess int32
	lastFailureTime          *time.Time
}

// backoffStore keeps the backoff records of Jobs in memory, as upstream:
// after a restart the delay starts over.
type backoffStore struct {
	mu      sync.Mutex
	records map[string]backoffRecord
}

func newBackoffStore() *backoffStore {
	return &backoffStore{records: map[string]backoffRecord{}}
}

func (s *backoffStore) update(r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[r.key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, key)
}

// newRecord returns key's record advanced by the newly finished pods: a
// success resets the count to the failures that came after it.
func (s *backoffStore) newRecord(key string, newSucceeded, newFailed []*corev1.Pod) backoffRecord {
	s.mu.Lock()
	r, ok := s.records[key]
	s.mu.Unlock()
	if !ok {
		r = backoffRecord{key: key}
	}
	sortByFinishedTime(newSucceeded)
	sortByFinishedTime(newFailed)
	if len(newSucceeded) == 0 {
		if len(newFailed) == 0 {
			return r
		}
		r.failuresAfterLastSuccess += int32(len(newFailed))
		t := finishedTime(newFailed[len(newFailed)-1])
		r.lastFailureTime = &t
		return r
	}
	r.failuresAfterLastSuccess = 0
	r.lastFailureTime = nil
	lastSuccess := finishedTime(newSucceeded[len(newSucceeded)-1])
	for i := len(newFailed) - 1; i >= 0; i-- {
		t := finishedTime(newFailed[i])
		if !t.After(lastSuccess) {
			break
		}
		if r.lastFailureTime == nil {
			r.lastFailureTime = &t
		}
		r.failuresAfterLastSuccess++
	}
	return r
}

func (r backoffRecord) remaining(clk clock.PassiveClock) time.Duration {
	return remainingBackoff(clk, r.failuresAfterLastSuccess, r.lastFailureTime)
}

func remainingBackoffPerIndex(logger klog.Logger, clk clock.PassiveClock, lastFailed *corev1.Pod) time.Duration {
	if lastFailed == nil {
		return 0
	}
	t := finishedTime(lastFailed)
	return remainingBackoff(clk, indexAbsoluteFailureCount(logger, lastFailed)+1, &t)
}

// remainingBackoff is what is left of 10s doubled per further failure,
// capped at 10 minutes, since the last failure.
func remainingBackoff(clk clock.PassiveClock, failures int32, lastFailure *time.Time) time.Duration {
	if failures == 0 {
		return 0
	}
	d := DefaultPodFailureBackoff
	for i := 1; i < int(failures); i++ {
		d *= 2
		if d >= MaxPodFailureBackoff {
			d = MaxPodFailureBackoff
			break
		}
	}
	elapsed := clk.Since(*lastFailure)
	if d < elapsed {
		return 0
	}
	return d - elapsed
}

func sortByFinishedTime(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool { return finishedTime(pods[i]).Before(finishedTime(pods[j])) })
}

// finishedTime estimates when a pod finished: its last container's
// termination, else its Ready=False transition, else deletion, else creation.
func finishedTime(p *corev1.Pod) time.Time {
	if t := finishTimeFromContainers(p); t != nil {
		return *t
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Add(-time.Duration(ptr.Deref(p.DeletionGracePeriodSeconds, 0)) * time.Second)
	}
	return p.CreationTimestamp.Time
}

func finishTimeFromContainers(p *corev1.Pod) *time.Time {
	t := latestFinishTime(nil, p.Status.ContainerStatuses, nil)
	sidecars := sets.New[string]()
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars.Insert(c.Name)
		}
	}
	return latestFinishTime(t, p.Status.InitContainerStatuses, func(s corev1.ContainerStatus) bool { return sidecars.Has(s.Name) })
}

// latestFinishTime is nil as soon as one considered container has not
// terminated with a time.
func latestFinishTime(prev *time.Time, statuses []corev1.ContainerStatus, consider func(corev1.ContainerStatus) bool) *time.Time {
	t := prev
	for _, s := range statuses {
		if consider != nil && !consider(s) {
			continue
		}
		if s.State.Terminated == nil || s.State.Terminated.FinishedAt.IsZero() {
			return nil
		}
		if t == nil || t.Before(s.State.Terminated.FinishedAt.Time) {
			ft := s.State.Terminated.FinishedAt.Time
			t = &ft
		}
	}
	return t
}
