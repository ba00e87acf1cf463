package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

type topoPair struct{ key, value string }

// spreadConstraint is a topology spread constraint ready to evaluate.
type spreadConstraint struct {
	maxSkew       int32
	topologyKey   string
	selector      labels.Selector
	minDomains    int32
	honorAffinity bool
	honorTaints   bool
}

// cycleState is what PreFilter computes once per pod and the filters read.
// Preemption clones it and adjusts it as it removes victims.
type cycleState struct {
	pod                   *podInfo
	nsLabels              labels.Set
	requiredNodeAffinity  nodeaffinity.RequiredNodeAffinity
	preferredNodeAffinity *nodeaffinity.PreferredSchedulingTerms

	// Inter-pod affinity counts by topology pair, as upstream's PreFilter.
	existingAnti   map[topoPair]int64
	affinityCounts map[topoPair]int64
	antiCounts     map[topoPair]int64

	// Topology spread (DoNotSchedule constraints).
	spread       []spreadConstraint
	spreadCounts map[topoPair]int
	spreadMin    []int

	// volumes are the pod's claims; nil without any.
	volumes *podVolumeClaims
}

func (s *cycleState) clone() *cycleState {
	c := *s
	c.existingAnti = cloneCounts(s.existingAnti)
	c.affinityCounts = cloneCounts(s.affinityCounts)
	c.antiCounts = cloneCounts(s.antiCounts)
	if s.spreadCounts != nil {
		c.spreadCounts = make(map[topoPair]int, len(s.spreadCounts))
		for k, v := range s.spreadCounts {
			c.spreadCounts[k] = v
		}
	}
	c.spreadMin = append([]int(nil), s.spreadMin...)
	return &c
}

func cloneCounts(m map[topoPair]int64) map[topoPair]int64 {
	c := make(map[topoPair]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// nsLabelsFunc returns a namespace's labels, for namespace selectors.
type nsLabelsFunc func(namespace string) labels.Set

// preFilter builds the cycle state for pod over all nodes.
func preFilter(pod *v1.Pod, nodes []*nodeInfo, nsLabels nsLabelsFunc, allNamespaces func(labels.Selector) []string) *cycleState {
	pi := newPodInfo(pod)
	s := &cycleState{
		pod:                   pi,
		nsLabels:              nsLabels(pod.Namespace),
		requiredNodeAffinity:  requiredAffinityOf(pod),
		preferredNodeAffinity: preferredAffinityOf(pod),
		existingAnti:          map[topoPair]int64{},
		affinityCounts:        map[topoPair]int64{},
		antiCounts:            map[topoPair]int64{},
	}
	// The incoming pod's namespace selectors are resolved to names once,
	// as upstream merges them into the term's namespaces.
	resolve := func(terms []affinityTerm) []affinityTerm {
		out := make([]affinityTerm, len(terms))
		for i, t := range terms {
			if t.nsSelector != nil {
				t.namespaces = t.namespaces.Clone()
				t.namespaces.Insert(allNamespaces(t.nsSelector)...)
				t.nsSelector = nil
			}
			out[i] = t
		}
		return out
	}
	pi.requiredAffinity = resolve(pi.requiredAffinity)
	pi.requiredAnti = resolve(pi.requiredAnti)
	pi.preferredAffinity = resolve(pi.preferredAffinity)
	pi.preferredAnti = resolve(pi.preferredAnti)

	hasRequired := len(pi.requiredAffinity)+len(pi.requiredAnti) > 0
	for _, n := range nodes {
		if n.podsWithRequiredAnti == 0 && !hasRequired {
			continue
		}
		for _, existing := range n.pods {
			s.updateAffinity(existing, n.node, 1)
		}
	}

	s.spread = filterConstraints(pod)
	if len(s.spread) > 0 {
		s.spreadCounts = map[topoPair]int{}
		for _, n := range nodes {
			if !s.spreadEligible(n.node) {
				continue
			}
			for _, c := range s.spread {
				tp := topoPair{c.topologyKey, n.node.Labels[c.topologyKey]}
				s.spreadCounts[tp] += countMatching(n.pods, c.selector, pod.Namespace)
			}
		}
		s.computeSpreadMin()
	}
	return s
}

// updateAffinity adds (sign 1) or removes (-1) an existing pod on node
// from the inter-pod affinity counts.
func (s *cycleState) updateAffinity(existing *podInfo, node *v1.Node, sign int64) {
	if node == nil {
		return
	}
	pod := s.pod.pod
	for i := range existing.requiredAnti {
		t := &existing.requiredAnti[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(pod, s.nsLabels) {
			addCount(s.existingAnti, topoPair{t.topologyKey, v}, sign)
		}
	}
	if len(s.pod.requiredAffinity) > 0 {
		all := true
		for i := range s.pod.requiredAffinity {
			if !s.pod.requiredAffinity[i].matches(existing.pod, nil) {
				all = false
				break
			}
		}
		if all {
			for _, t := range s.pod.requiredAffinity {
				if v, ok := node.Labels[t.topologyKey]; ok {
					addCount(s.affinityCounts, topoPair{t.topologyKey, v}, sign)
				}
			}
		}
	}
	for i := range s.pod.requiredAnti {
		t := &s.pod.requiredAnti[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(existing.pod, nil) {
			addCount(s.antiCounts, topoPair{t.topologyKey, v}, sign)
		}
	}
}

func addCount(m map[topoPair]int64, tp topoPair, sign int64) {
	m[tp] += sign
	if m[tp] == 0 {
		delete(m, tp)
	}
}

// updatePod adjusts every count for an existing pod added to or removed
// from node, as upstream's PreFilterExtensions AddPod/RemovePod.
func (s *cycleState) updatePod(existing *podInfo, node *v1.Node, sign int64) {
	s.updateAffinity(existing, node, sign)
	if len(s.spread) == 0 || !s.spreadEligible(node) || existing.pod.Namespace != s.pod.pod.Namespace {
		return
	}
	for _, c := range s.spread {
		if selectorMatchesPod(c.selector, existing.pod) {
			s.spreadCounts[topoPair{c.topologyKey, node.Labels[c.topologyKey]}] += int(sign)
		}
	}
	s.computeSpreadMin()
}

func filterInterPodAffinity(s *cycleState, n *nodeInfo) *status {
	labels := n.node.Labels
	podsExist := true
	for _, t := range s.pod.requiredAffinity {
		v, ok := labels[t.topologyKey]
		if !ok {
			return fail(unresolvable, reasonAffinity)
		}
		if s.affinityCounts[topoPair{t.topologyKey, v}] <= 0 {
			podsExist = false
		}
	}
	if !podsExist {
		// The first pod of a group with affinity to itself may go anywhere.
		if !(len(s.affinityCounts) == 0 && matchesAllOwnTerms(s.pod)) {
			return fail(unresolvable, reasonAffinity)
		}
	}
	for _, t := range s.pod.requiredAnti {
		if v, ok := labels[t.topologyKey]; ok && s.antiCounts[topoPair{t.topologyKey, v}] > 0 {
			return fail(unschedulable, reasonAntiAffinity)
		}
	}
	if len(s.existingAnti) > 0 {
		for k, v := range labels {
			if s.existingAnti[topoPair{k, v}] > 0 {
				return fail(unschedulable, reasonExistingAnti)
			}
		}
	}
	return nil
}

func matchesAllOwnTerms(pi *podInfo) bool {
	if len(pi.requiredAffinity) == 0 {
		return false
	}
	for i := range pi.requiredAffinity {
		if !pi.requiredAffinity[i].matches(pi.pod, nil) {
			return false
		}
	}
	return true
}

// interPodScores sums, per topology pair, the preferred terms of the pod
// and of existing pods (and existing pods' required affinity at weight 1),
// as upstream's InterPodAffinity PreScore.
func interPodScores(s *cycleState, nodes []*nodeInfo) map[topoPair]int64 {
	pi := s.pod
	incomingHas := len(pi.preferredAffinity)+len(pi.preferredAnti) > 0
	scores := map[topoPair]int64{}
	for _, n := range nodes {
		if !incomingHas && n.podsWithAffinity == 0 {
			continue
		}
		for _, existing := range n.pods {
			if incomingHas {
				for _, t := range pi.preferredAffinity {
					if v, ok := n.node.Labels[t.topologyKey]; ok && t.matches(existing.pod, nil) {
						scores[topoPair{t.topologyKey, v}] += int64(t.weight)
					}
				}
				for _, t := range pi.preferredAnti {
					if v, ok := n.node.Labels[t.topologyKey]; ok && t.matches(existing.pod, nil) {
						scores[topoPair{t.topologyKey, v}] -= int64(t.weight)
					}
				}
			}
			// hardPodAffinityWeight is 1 by default.
			for _, t := range existing.requiredAffinity {
				if v, ok := n.node.Labels[t.topologyKey]; ok && t.matches(pi.pod, s.nsLabels) {
					scores[topoPair{t.topologyKey, v}]++
				}
			}
			for _, t := range existing.preferredAffinity {
				if v, ok := n.node.Labels[t.topologyKey]; ok && t.matches(pi.pod, s.nsLabels) {
					scores[topoPair{t.topologyKey, v}] += int64(t.weight)
				}
			}
			for _, t := range existing.preferredAnti {
				if v, ok := n.node.Labels[t.topologyKey]; ok && t.matches(pi.pod, s.nsLabels) {
					scores[topoPair{t.topologyKey, v}] -= int64(t.weight)
				}
			}
		}
	}
	for k, v := range scores {
		if v == 0 {
			delete(scores, k)
		}
	}
	return scores
}

func scoreInterPod(scores map[topoPair]int64, n *nodeInfo) int64 {
	var sum int64
	for k, v := range n.node.Labels {
		sum += scores[topoPair{k, v}]
	}
	return sum
}

// normalizeInterPod maps scores linearly onto 0..100 between their min
// and max.
func normalizeInterPod(scores []int64) {
	if len(scores) == 0 {
		return
	}
	minS, maxS := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		minS, maxS = min(minS, s), max(maxS, s)
	}
	diff := maxS - minS
	for i, s := range scores {
		f := 0.0
		if diff > 0 {
			f = float64(maxNodeScore) * float64(s-minS) / float64(diff)
		}
		scores[i] = int64(f)
	}
}
