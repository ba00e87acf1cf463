package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Filter failure reasons, word for word upstream's.
const (
	reasonNodeName         = "node(s) didn't match the requested node name"
	reasonUnschedulable    = "node(s) were unschedulable"
	reasonUnknownCondition = "node(s) had unknown conditions"
	reasonTaints           = "node(s) had untolerated taint(s)"
	reasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	reasonNodePorts        = "node(s) didn't have free ports for the requested pod ports"
	reasonSpread           = "node(s) didn't match pod topology spread constraints"
	reasonSpreadLabel      = reasonSpread + " (missing required label)"
	reasonAffinity         = "node(s) didn't match pod affinity rules"
	reasonAntiAffinity     = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAnti     = "node(s) didn't satisfy existing pods anti-affinity rules"
	reasonNoVictims        = "No preemption victims found for incoming pod"
	// NodeAffinity's PreFilter outcomes.
	reasonPreFilterNodeAffinity = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
	reasonAffinityConflict      = "pod affinity terms conflict"
	reasonPreemptionUseless     = "Preemption is not helpful for scheduling"
)

// code is a filter outcome, as upstream's status codes.
type code int

const (
	success code = iota
	unschedulable
	// unresolvable is UnschedulableAndUnresolvable: preemption cannot help.
	unresolvable
)

// status is one node's filter result.
type status struct {
	code    code
	reasons []string
}

func fail(c code, reasons ...string) *status { return &status{code: c, reasons: reasons} }

// Score weights of the default profile.
const (
	weightTaintToleration  = 3
	weightNodeAffinity     = 2
	weightFit              = 1
	weightSpread           = 2
	weightInterPodAffinity = 2
	weightBalanced         = 1
	weightVolumeBinding    = 1
)

// ---- NodeName, NodeUnschedulable

func filterNodeName(pod *v1.Pod, n *nodeInfo) *status {
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != n.node.Name {
		return fail(unresolvable, reasonNodeName)
	}
	return nil
}

var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

func filterNodeUnschedulable(pod *v1.Pod, n *nodeInfo) *status {
	if !n.node.Spec.Unschedulable {
		return nil
	}
	if corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations, &unschedulableTaint, false) {
		return nil
	}
	return fail(unresolvable, reasonUnschedulable)
}

// ---- TaintToleration

func filterTaints(pod *v1.Pod, n *nodeInfo) *status {
	_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), n.node.Spec.Taints, pod.Spec.Tolerations,
		func(t *v1.Taint) bool {
			return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
		}, false)
	if untolerated {
		return fail(unresolvable, reasonTaints)
	}
	return nil
}

// scoreTaints counts PreferNoSchedule taints the pod does not tolerate;
// fewer is better (normalized in reverse).
func scoreTaints(pod *v1.Pod, n *nodeInfo) int64 {
	var tolerations []v1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tolerations = append(tolerations, t)
		}
	}
	var count int64
	for i := range n.node.Spec.Taints {
		t := &n.node.Spec.Taints[i]
		if t.Effect != v1.TaintEffectPreferNoSchedule {
			continue
		}
		if !corev1helpers.TolerationsTolerateTaint(klog.Background(), tolerations, t, false) {
			count++
		}
	}
	return count
}

// ---- NodeAffinity

func filterNodeAffinity(s *cycleState, n *nodeInfo) *status {
	if ok, _ := s.requiredNodeAffinity.Match(n.node); !ok {
		return fail(unresolvable, reasonNodeAffinity)
	}
	return nil
}

func scoreNodeAffinity(s *cycleState, n *nodeInfo) int64 {
	if s.preferredNodeAffinity == nil {
		return 0
	}
	return s.preferredNodeAffinity.Score(n.node)
}

// ---- NodePorts

func filterNodePorts(s *cycleState, n *nodeInfo) *status {
	if len(s.pod.ports) > 0 && portsConflict(n.usedPorts, s.pod.ports) {
		return fail(unschedulable, reasonNodePorts)
	}
	return nil
}

// ---- NodeResourcesFit

func filterFit(s *cycleState, n *nodeInfo) *status {
	var reasons []string
	c := unschedulable
	if int64(len(n.pods))+1 > n.allocatable.pods {
		reasons = append(reasons, "Too many pods")
	}
	req := s.pod.requests
	if req.milliCPU == 0 && req.memory == 0 && req.ephemeral == 0 && len(req.scalar) == 0 {
		if reasons == nil {
			return nil
		}
		return fail(c, reasons...)
	}
	check := func(want, alloc, used int64, reason string) {
		if want > 0 && want > alloc-used {
			reasons = append(reasons, reason)
			if want > alloc {
				c = unresolvable
			}
		}
	}
	check(req.milliCPU, n.allocatable.milliCPU, n.requested.milliCPU, "Insufficient cpu")
	check(req.memory, n.allocatable.memory, n.requested.memory, "Insufficient memory")
	check(req.ephemeral, n.allocatable.ephemeral, n.requested.ephemeral, "Insufficient ephemeral-storage")
	for name, want := range req.scalar {
		if want == 0 {
			continue
		}
		check(want, n.allocatable.scalar[name], n.requested.scalar[name], "Insufficient "+string(name))
	}
	if reasons == nil {
		return nil
	}
	return fail(c, reasons...)
}

// scoreLeastAllocated is NodeResourcesFit's default strategy: cpu and
// memory weighted 1 each, counting unset requests at their defaults.
func scoreLeastAllocated(s *cycleState, n *nodeInfo) int64 {
	least := func(requested, capacity int64) int64 {
		if capacity == 0 || requested > capacity {
			return 0
		}
		return (capacity - requested) * maxNodeScore / capacity
	}
	var score, weights int64
	if a := n.allocatable.milliCPU; a != 0 {
		score += least(n.nonZero.milliCPU+s.pod.nonZero.milliCPU, a)
		weights++
	}
	if a := n.allocatable.memory; a != 0 {
		score += least(n.nonZero.memory+s.pod.nonZero.memory, a)
		weights++
	}
	if weights == 0 {
		return 0
	}
	return score / weights
}

// scoreBalanced is NodeResourcesBalancedAllocation: how much the pod
// improves the balance of cpu and memory use, on actual requests.
func scoreBalanced(s *cycleState, n *nodeInfo) int64 {
	balance := func(cpu, mem int64) int64 {
		var fractions []float64
		for _, f := range [][2]int64{{cpu, n.allocatable.milliCPU}, {mem, n.allocatable.memory}} {
			if f[1] == 0 {
				continue
			}
			fractions = append(fractions, math.Min(float64(f[0])/float64(f[1]), 1))
		}
		std := 0.0
		if len(fractions) == 2 {
			std = math.Abs((fractions[0] - fractions[1]) / 2)
		}
		return int64((1 - std) * float64(maxNodeScore))
	}
	with := balance(n.requested.milliCPU+s.pod.requests.milliCPU, n.requested.memory+s.pod.requests.memory)
	without := balance(n.requested.milliCPU, n.requested.memory)
	return maxNodeScore/2 + (maxNodeScore/2+with-without)/2
}

// bestEffort: BalancedAllocation skips pods that request nothing.
func (s *cycleState) bestEffort() bool {
	return s.pod.requests.milliCPU == 0 && s.pod.requests.memory == 0
}

// normalizeDefault is upstream's DefaultNormalizeScore.
func normalizeDefault(scores []int64, reverse bool) {
	var maxCount int64
	for _, s := range scores {
		maxCount = max(maxCount, s)
	}
	if maxCount == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = maxNodeScore * s / maxCount
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}

// requiredAffinityOf ignores a parse error, as upstream's PreFilter does
// for pods the API server accepted.
func requiredAffinityOf(pod *v1.Pod) nodeaffinity.RequiredNodeAffinity {
	return nodeaffinity.GetRequiredNodeAffinity(pod)
}

func preferredAffinityOf(pod *v1.Pod) *nodeaffinity.PreferredSchedulingTerms {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return nil
	}
	t, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return nil
	}
	return t
}

func selectorMatchesPod(sel labels.Selector, p *v1.Pod) bool {
	return sel.Matches(labels.Set(p.Labels))
}
