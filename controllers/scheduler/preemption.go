package scheduler

import (
	"fmt"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Upstream DefaultPreemption arguments.
const (
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

type candidate struct {
	node          string
	victims       []*v1.Pod
	pdbViolations int
}

// preemptionOutcome is what PostFilter decided.
type preemptionOutcome struct {
	// candidate is nil when preemption cannot help.
	candidate *candidate
	// message is the PostFilter message, already prefixed "preemption: ".
	message string
	// clearNomination asks to clear the pod's nominatedNodeName.
	clearNomination bool
}

func podTerminatingByPreemption(p *v1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.DisruptionTarget {
			return c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonPreemptionByScheduler
		}
	}
	return false
}

func podStartTime(p *v1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return p.CreationTimestamp.Time
}

func moreImportant(a, b *v1.Pod) bool {
	pa, pb := corev1helpers.PodPriority(a), corev1helpers.PodPriority(b)
	if pa != pb {
		return pa > pb
	}
	return podStartTime(a).Before(podStartTime(b))
}

// preempt is DefaultPreemption's PostFilter evaluation: it finds the node
// where removing the fewest, least important pods lets pod fit.
func (a *algorithm) preempt(pod *v1.Pod, s *cycleState, snap *snapshot, fe *fitError, pdbs []*policyv1.PodDisruptionBudget) preemptionOutcome {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return preemptionOutcome{message: "preemption: not eligible due to preemptionPolicy=Never."}
	}
	prio := corev1helpers.PodPriority(pod)
	if nn := pod.Status.NominatedNodeName; nn != "" {
		st := fe.statuses[nn]
		if st == nil {
			st = fe.absent
		}
		if st == nil || st.code != unresolvable {
			if n := snap.byName[nn]; n != nil {
				for _, p := range n.pods {
					if corev1helpers.PodPriority(p.pod) < prio && podTerminatingByPreemption(p.pod) {
						return preemptionOutcome{message: "preemption: not eligible due to a terminating pod on the nominated node."}
					}
				}
			}
		}
	}

	var potential []*nodeInfo
	for _, n := range snap.list {
		if st := fe.statuses[n.node.Name]; st != nil && st.code == unschedulable {
			potential = append(potential, n)
		}
	}
	statuses := map[string]*status{}
	var candidates []*candidate
	if len(potential) > 0 {
		want := len(potential) * minCandidateNodesPercentage / 100
		want = min(max(want, minCandidateNodesAbsolute), len(potential))
		offset := a.rand.IntN(len(potential))
		for i := 0; i < len(potential) && len(candidates) < want; i++ {
			n := potential[(offset+i)%len(potential)]
			c, st := a.selectVictims(pod, s, n, pdbs)
			if st != nil {
				statuses[n.node.Name] = st
				continue
			}
			candidates = append(candidates, c)
		}
	}
	if len(candidates) == 0 {
		fe2 := &fitError{numAllNodes: len(snap.list), statuses: statuses, absent: fail(unresolvable, reasonPreemptionUseless)}
		return preemptionOutcome{message: "preemption: " + fe2.Error(), clearNomination: true}
	}
	best := pickCandidate(candidates)
	return preemptionOutcome{candidate: best,
		message: fmt.Sprintf("preemption: found a potential placement for pod on node %v, preempting %d victims", best.node, len(best.victims))}
}

// selectVictims is SelectVictimsOnNode: remove every lower-priority pod,
// check the pod fits, then reprieve as many as possible, PDB-protected
// pods first, most important first.
func (a *algorithm) selectVictims(pod *v1.Pod, s *cycleState, n *nodeInfo, pdbs []*policyv1.PodDisruptionBudget) (*candidate, *status) {
	prio := corev1helpers.PodPriority(pod)
	ni := n.clone()
	st := s.clone()
	var potential []*podInfo
	for _, p := range n.pods {
		if corev1helpers.PodPriority(p.pod) < prio {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, fail(unresolvable, reasonNoVictims)
	}
	for _, p := range potential {
		ni.removePod(string(p.pod.UID))
		st.updatePod(p, n.node, -1)
	}
	if r := runFiltersWithNominated(st, ni, a.nominator); r != nil {
		return nil, r
	}
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i].pod, potential[j].pod) })
	violating, nonViolating := splitByPDB(potential, pdbs)
	c := &candidate{node: n.node.Name}
	reprieve := func(p *podInfo) bool {
		ni.addPod(p)
		st.updatePod(p, n.node, 1)
		if runFiltersWithNominated(st, ni, a.nominator) == nil {
			return true
		}
		ni.removePod(string(p.pod.UID))
		st.updatePod(p, n.node, -1)
		c.victims = append(c.victims, p.pod)
		return false
	}
	for _, p := range violating {
		if !reprieve(p) {
			c.pdbViolations++
		}
	}
	for _, p := range nonViolating {
		reprieve(p)
	}
	if len(violating) > 0 && len(nonViolating) > 0 {
		sort.SliceStable(c.victims, func(i, j int) bool { return moreImportant(c.victims[i], c.victims[j]) })
	}
	if len(c.victims) == 0 {
		return nil, fail(unresolvable, fmt.Sprintf("expected at least one victim pod on node %q", n.node.Name))
	}
	return c, nil
}

// splitByPDB is upstream's filterPodsWithPDBViolation.
func splitByPDB(pods []*podInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, nonViolating []*podInfo) {
	allowed := make([]int32, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
	}
	for _, p := range pods {
		violated := false
		if len(p.pod.Labels) != 0 {
			for i, pdb := range pdbs {
				if pdb.Namespace != p.pod.Namespace {
					continue
				}
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err != nil || sel.Empty() || !sel.Matches(labels.Set(p.pod.Labels)) {
					continue
				}
				if _, ok := pdb.Status.DisruptedPods[p.pod.Name]; ok {
					continue
				}
				allowed[i]--
				if allowed[i] < 0 {
					violated = true
				}
			}
		}
		if violated {
			violating = append(violating, p)
		} else {
			nonViolating = append(nonViolating, p)
		}
	}
	return violating, nonViolating
}

// pickCandidate is pickOneNodeForPreemption: fewest PDB violations, then
// lowest highest-priority victim, lowest priority sum, fewest victims,
// latest start of the highest-priority victims, then the first.
func pickCandidate(cs []*candidate) *candidate {
	filter := func(cs []*candidate, score func(*candidate) int64) []*candidate {
		best := score(cs[0])
		out := []*candidate{cs[0]}
		for _, c := range cs[1:] {
			switch s := score(c); {
			case s > best:
				best, out = s, []*candidate{c}
			case s == best:
				out = append(out, c)
			}
		}
		return out
	}
	cs = filter(cs, func(c *candidate) int64 { return -int64(c.pdbViolations) })
	cs = filter(cs, func(c *candidate) int64 { return -int64(corev1helpers.PodPriority(c.victims[0])) })
	cs = filter(cs, func(c *candidate) int64 {
		var sum int64
		for _, v := range c.victims {
			// Shifted so that negative priorities still count as cost.
			sum += int64(corev1helpers.PodPriority(v)) + int64(1<<31) + 1
		}
		return -sum
	})
	cs = filter(cs, func(c *candidate) int64 { return -int64(len(c.victims)) })
	cs = filter(cs, func(c *candidate) int64 {
		top := corev1helpers.PodPriority(c.victims[0])
		var earliest time.Time
		for _, v := range c.victims {
			if corev1helpers.PodPriority(v) == top {
				if t := podStartTime(v); earliest.IsZero() || t.Before(earliest) {
					earliest = t
				}
			}
		}
		return earliest.UnixNano()
	})
	return cs[0]
}
