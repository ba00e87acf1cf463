package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
)

// parseConstraints keeps pod's constraints with the given action.
func parseConstraints(pod *v1.Pod, action v1.UnsatisfiableConstraintAction) []spreadConstraint {
	var out []spreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			continue
		}
		if len(c.MatchLabelKeys) > 0 {
			// Values from the pod's own labels narrow the selector, for
			// servers that did not merge them at admission.
			if sel.Empty() {
				sel = labels.NewSelector()
			}
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					if r, err := labels.NewRequirement(k, "in", []string{v}); err == nil {
						sel = sel.Add(*r)
					}
				}
			}
		}
		sc := spreadConstraint{maxSkew: c.MaxSkew, topologyKey: c.TopologyKey, selector: sel, minDomains: 1,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		out = append(out, sc)
	}
	return out
}

func filterConstraints(pod *v1.Pod) []spreadConstraint {
	return parseConstraints(pod, v1.DoNotSchedule)
}

// systemDefaultConstraints are PodTopologySpread's defaults for pods
// without constraints (defaultingType System), over the selector of the
// services and controllers that select the pod.
func systemDefaultConstraints(sel labels.Selector) []spreadConstraint {
	if sel == nil || sel.Empty() {
		return nil
	}
	return []spreadConstraint{
		{maxSkew: 3, topologyKey: v1.LabelHostname, selector: sel, minDomains: 1, honorAffinity: true},
		{maxSkew: 5, topologyKey: v1.LabelTopologyZone, selector: sel, minDomains: 1, honorAffinity: true},
	}
}

// spreadEligible: the node counts for spreading if it passes the inclusion
// policies and has every constraint's topology key.
func (s *cycleState) spreadEligible(node *v1.Node) bool {
	return eligibleForSpread(s.spread, s, node, true)
}

func eligibleForSpread(cs []spreadConstraint, s *cycleState, node *v1.Node, requireAll bool) bool {
	if node == nil {
		return false
	}
	for _, c := range cs {
		if _, ok := node.Labels[c.topologyKey]; !ok && requireAll {
			return false
		}
		if c.honorAffinity {
			if ok, _ := s.requiredNodeAffinity.Match(node); !ok {
				return false
			}
		}
		if c.honorTaints {
			if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, s.pod.pod.Spec.Tolerations,
				func(t *v1.Taint) bool {
					return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
				}, false); untolerated {
				return false
			}
		}
	}
	return true
}

func countMatching(pods []*podInfo, sel labels.Selector, namespace string) int {
	n := 0
	for _, p := range pods {
		if p.pod.DeletionTimestamp != nil || p.pod.Namespace != namespace {
			continue
		}
		if selectorMatchesPod(sel, p.pod) {
			n++
		}
	}
	return n
}

func (s *cycleState) computeSpreadMin() {
	s.spreadMin = make([]int, len(s.spread))
	for i, c := range s.spread {
		m, domains := math.MaxInt, 0
		for tp, n := range s.spreadCounts {
			if tp.key == c.topologyKey {
				domains++
				m = min(m, n)
			}
		}
		if domains == 0 || int32(domains) < c.minDomains {
			m = 0
		}
		s.spreadMin[i] = m
	}
}

func filterSpread(s *cycleState, n *nodeInfo) *status {
	for i, c := range s.spread {
		v, ok := n.node.Labels[c.topologyKey]
		if !ok {
			return fail(unresolvable, reasonSpreadLabel)
		}
		self := 0
		if selectorMatchesPod(c.selector, s.pod.pod) {
			self = 1
		}
		skew := s.spreadCounts[topoPair{c.topologyKey, v}] + self - s.spreadMin[i]
		if skew > int(c.maxSkew) {
			return fail(unschedulable, reasonSpread)
		}
	}
	return nil
}

// spreadScorer is PodTopologySpread's PreScore state.
type spreadScorer struct {
	constraints []spreadConstraint
	ignored     map[string]bool
	counts      []map[string]int
	weights     []float64
}

func newSpreadScorer(s *cycleState, constraints []spreadConstraint, systemDefaulted bool, feasible, all []*nodeInfo) *spreadScorer {
	if len(constraints) == 0 {
		return nil
	}
	requireAll := !systemDefaulted
	sc := &spreadScorer{constraints: constraints, ignored: map[string]bool{}, counts: make([]map[string]int, len(constraints)), weights: make([]float64, len(constraints))}
	sizes := make([]int, len(constraints))
	for i := range sc.counts {
		sc.counts[i] = map[string]int{}
	}
	for _, n := range feasible {
		if requireAll && !hasAllKeys(n.node, constraints) {
			sc.ignored[n.node.Name] = true
			continue
		}
		for i, c := range constraints {
			if c.topologyKey == v1.LabelHostname {
				continue
			}
			if v, ok := n.node.Labels[c.topologyKey]; ok {
				if _, seen := sc.counts[i][v]; !seen {
					sc.counts[i][v] = 0
					sizes[i]++
				}
			}
		}
	}
	for i, c := range constraints {
		if c.topologyKey == v1.LabelHostname {
			sizes[i] = len(feasible) - len(sc.ignored)
		}
		sc.weights[i] = math.Log(float64(sizes[i] + 2))
	}
	for _, n := range all {
		if requireAll && !hasAllKeys(n.node, constraints) {
			continue
		}
		for i, c := range constraints {
			if c.topologyKey == v1.LabelHostname || !eligibleForSpread([]spreadConstraint{c}, s, n.node, false) {
				continue
			}
			v, ok := n.node.Labels[c.topologyKey]
			if !ok {
				continue
			}
			if _, tracked := sc.counts[i][v]; tracked {
				sc.counts[i][v] += countMatching(n.pods, c.selector, s.pod.pod.Namespace)
			}
		}
	}
	return sc
}

func hasAllKeys(node *v1.Node, cs []spreadConstraint) bool {
	for _, c := range cs {
		if _, ok := node.Labels[c.topologyKey]; !ok {
			return false
		}
	}
	return true
}

func (sc *spreadScorer) score(s *cycleState, n *nodeInfo) int64 {
	if sc.ignored[n.node.Name] {
		return 0
	}
	var score float64
	for i, c := range sc.constraints {
		v, ok := n.node.Labels[c.topologyKey]
		if !ok {
			continue
		}
		var cnt int
		if c.topologyKey == v1.LabelHostname {
			cnt = countMatching(n.pods, c.selector, s.pod.pod.Namespace)
		} else {
			cnt = sc.counts[i][v]
		}
		score += float64(cnt)*sc.weights[i] + float64(c.maxSkew-1)
	}
	return int64(math.Round(score))
}

func (sc *spreadScorer) normalize(nodes []*nodeInfo, scores []int64) {
	minS, maxS := int64(math.MaxInt64), int64(0)
	for i, n := range nodes {
		if sc.ignored[n.node.Name] {
			continue
		}
		minS, maxS = min(minS, scores[i]), max(maxS, scores[i])
	}
	for i, n := range nodes {
		switch {
		case sc.ignored[n.node.Name]:
			scores[i] = 0
		case maxS == 0:
			scores[i] = maxNodeScore
		default:
			scores[i] = maxNodeScore * (maxS + minS - scores[i]) / maxS
		}
	}
}
