package scheduler

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Upstream's adaptive percentageOfNodesToScore bounds.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// numFeasibleNodesToFind is how many feasible nodes a cycle looks for
// before it stops filtering, with percentageOfNodesToScore unset (0).
func numFeasibleNodesToFind(percentage int32, numAllNodes int32) int32 {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	if percentage == 0 {
		percentage = 50 - numAllNodes/125
		if percentage < minFeasibleNodesPercentageToFind {
			percentage = minFeasibleNodesPercentageToFind
		}
	}
	n := numAllNodes * percentage / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// nominator knows pods nominated to nodes by preemption, which filters
// treat as already there when they are at least as important.
type nominator interface {
	nominatedPods(node string) []*podInfo
}

// runFilters applies the default profile's filters in its order, stopping
// at the first failure.
func runFilters(s *cycleState, n *nodeInfo) *status {
	pod := s.pod.pod
	if n.node == nil {
		return fail(unresolvable, reasonUnknownCondition)
	}
	if st := filterNodeName(pod, n); st != nil {
		return st
	}
	if st := filterNodeUnschedulable(pod, n); st != nil {
		return st
	}
	if st := filterTaints(pod, n); st != nil {
		return st
	}
	if st := filterNodeAffinity(s, n); st != nil {
		return st
	}
	if st := filterNodePorts(s, n); st != nil {
		return st
	}
	if st := filterFit(s, n); st != nil {
		return st
	}
	if s.volumes != nil {
		if st := s.volumes.binder.filter(s.volumes, n.node); st != nil {
			return st
		}
	}
	if len(s.spread) > 0 {
		if st := filterSpread(s, n); st != nil {
			return st
		}
	}
	return filterInterPodAffinity(s, n)
}

// runFiltersWithNominated first runs the filters as if the nominated pods
// of equal or higher priority were on the node, then without them, as
// upstream's RunFilterPluginsWithNominatedPods.
func runFiltersWithNominated(s *cycleState, n *nodeInfo, nom nominator) *status {
	if nom != nil && n.node != nil {
		prio := corev1helpers.PodPriority(s.pod.pod)
		var add []*podInfo
		for _, p := range nom.nominatedPods(n.node.Name) {
			if p.pod.UID != s.pod.pod.UID && corev1helpers.PodPriority(p.pod) >= prio {
				add = append(add, p)
			}
		}
		if len(add) > 0 {
			ni := n.clone()
			st := s.clone()
			for _, p := range add {
				ni.addPod(p)
				st.updatePod(p, n.node, 1)
			}
			if r := runFilters(st, ni); r != nil {
				return r
			}
		}
	}
	return runFilters(s, n)
}

// fitError is a pod no node fits, with each node's reasons.
type fitError struct {
	numAllNodes int
	statuses    map[string]*status
	// absent is the status of nodes not in statuses.
	absent *status
	// preFilterMsg replaces the per-node reasons when PreFilter failed.
	preFilterMsg  string
	postFilterMsg string
}

// involvesPods tells whether some node failed on other pods' placement.
func (f *fitError) involvesPods() bool {
	for _, st := range f.statuses {
		for _, r := range st.reasons {
			switch r {
			case reasonAffinity, reasonAntiAffinity, reasonExistingAnti, reasonSpread:
				return true
			}
		}
	}
	return false
}

// errNoNodesAvailable is upstream's error, and FailedScheduling message,
// for a cluster without nodes.
const errNoNodesAvailable = "no nodes available to schedule pods"

// Error formats as upstream's FitError.Error; with no nodes at all, upstream
// fails before filtering, with ErrNoNodesAvailable.
func (f *fitError) Error() string {
	if f.numAllNodes == 0 {
		return errNoNodesAvailable
	}
	msg := fmt.Sprintf("0/%v nodes are available:", f.numAllNodes)
	if f.preFilterMsg != "" {
		msg += fmt.Sprintf(" %v.", f.preFilterMsg)
		if f.postFilterMsg != "" {
			msg += " " + f.postFilterMsg
		}
		return msg
	}
	reasons := map[string]int{}
	for _, st := range f.statuses {
		for _, r := range st.reasons {
			reasons[r]++
		}
	}
	if len(f.statuses) < f.numAllNodes && f.absent != nil {
		for _, r := range f.absent.reasons {
			reasons[r] += f.numAllNodes - len(f.statuses)
		}
	}
	var parts []string
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%v %v", n, r))
	}
	sort.Strings(parts)
	if len(parts) > 0 {
		msg += fmt.Sprintf(" %v.", strings.Join(parts, ", "))
	}
	if f.postFilterMsg != "" {
		msg += " " + f.postFilterMsg
	}
	return msg
}

// algorithm is one scheduling profile's filtering and scoring over a
// snapshot.
type algorithm struct {
	nominator nominator
	nsLabels  nsLabelsFunc
	// namespacesMatching lists namespaces a selector matches.
	namespacesMatching func(labels.Selector) []string
	// defaultSelector is the selector of the services and controllers of
	// a pod, for system default spreading.
	defaultSelector func(*v1.Pod) labels.Selector
	// percentage is percentageOfNodesToScore; 0 is adaptive.
	percentage int32
	// volumes is VolumeBinding; nil leaves claims out.
	volumes   *volumeBinder
	nextStart int
	rand      *rand.Rand
}

type scheduleResult struct {
	node      string
	evaluated int
	feasible  int
}

// schedule picks a node for pod, or returns a *fitError with the state
// preemption needs.
func (a *algorithm) schedule(pod *v1.Pod, snap *snapshot) (scheduleResult, *cycleState, error) {
	nodes := snap.list
	if len(nodes) == 0 {
		return scheduleResult{}, nil, &fitError{numAllNodes: 0, statuses: map[string]*status{}}
	}
	s := preFilter(pod, nodes, a.nsLabels, a.namespacesMatching)
	if a.volumes != nil {
		pvcs, msg, err := a.volumes.preFilter(pod)
		if err != nil {
			return scheduleResult{}, nil, err
		}
		if msg != "" {
			return scheduleResult{}, s, &fitError{numAllNodes: len(nodes), statuses: map[string]*status{}, absent: fail(unresolvable, msg), preFilterMsg: msg}
		}
		s.volumes = pvcs
	}

	// A nominated node is tried first, as upstream's evaluateNominatedNode.
	if nn := pod.Status.NominatedNodeName; nn != "" {
		if n, ok := snap.byName[nn]; ok && runFiltersWithNominated(s, n, a.nominator) == nil {
			return scheduleResult{node: nn, evaluated: 1, feasible: 1}, s, nil
		}
	}

	// NodeAffinity's PreFilter narrows the search to the nodes named by
	// metadata.name fields, as for DaemonSet pods.
	var absent *status
	if names, restricted := nodeNamesFromAffinity(pod); restricted {
		absent = fail(unresolvable, reasonPreFilterNodeAffinity)
		if len(names) == 0 {
			return scheduleResult{}, s, &fitError{numAllNodes: len(nodes), statuses: map[string]*status{}, absent: absent,
				preFilterMsg: reasonAffinityConflict}
		}
		subset := make([]*nodeInfo, 0, len(names))
		for _, name := range names {
			if n, ok := snap.byName[name]; ok {
				subset = append(subset, n)
			}
		}
		if len(subset) == 0 {
			return scheduleResult{}, s, &fitError{numAllNodes: len(nodes), statuses: map[string]*status{}, absent: absent}
		}
		nodes = subset
	}
	want := int(numFeasibleNodesToFind(a.percentage, int32(len(nodes))))
	feasible := make([]*nodeInfo, 0, want)
	statuses := map[string]*status{}
	processed := 0
	start := a.nextStart % len(nodes)
	for i := 0; i < len(nodes) && len(feasible) < want; i++ {
		n := nodes[(start+i)%len(nodes)]
		processed++
		if st := runFiltersWithNominated(s, n, a.nominator); st != nil {
			statuses[n.node.Name] = st
			continue
		}
		feasible = append(feasible, n)
	}
	a.nextStart = (start + processed) % len(snap.list)
	if len(feasible) == 0 {
		return scheduleResult{}, s, &fitError{numAllNodes: len(snap.list), statuses: statuses, absent: absent}
	}
	if len(feasible) == 1 {
		return scheduleResult{node: feasible[0].node.Name, evaluated: processed, feasible: 1}, s, nil
	}
	scores := a.score(s, feasible, nodes)
	return scheduleResult{node: a.selectHost(feasible, scores), evaluated: processed, feasible: len(feasible)}, s, nil
}

// score sums the weighted, normalized scores of the default profile.
func (a *algorithm) score(s *cycleState, feasible, all []*nodeInfo) []int64 {
	total := make([]int64, len(feasible))
	part := make([]int64, len(feasible))
	add := func(weight int64) {
		for i := range part {
			total[i] += part[i] * weight
		}
	}
	pod := s.pod.pod

	for i, n := range feasible {
		part[i] = scoreTaints(pod, n)
	}
	normalizeDefault(part, true)
	add(weightTaintToleration)

	if s.preferredNodeAffinity != nil {
		for i, n := range feasible {
			part[i] = scoreNodeAffinity(s, n)
		}
		normalizeDefault(part, false)
		add(weightNodeAffinity)
	}

	for i, n := range feasible {
		part[i] = scoreLeastAllocated(s, n)
	}
	add(weightFit)

	constraints := parseConstraints(pod, v1.ScheduleAnyway)
	systemDefaulted := false
	if len(pod.Spec.TopologySpreadConstraints) == 0 && a.defaultSelector != nil {
		constraints = systemDefaultConstraints(a.defaultSelector(pod))
		systemDefaulted = true
	}
	if sc := newSpreadScorer(s, constraints, systemDefaulted, feasible, all); sc != nil {
		for i, n := range feasible {
			part[i] = sc.score(s, n)
		}
		sc.normalize(feasible, part)
		add(weightSpread)
	}

	if ip := interPodScores(s, all); len(ip) > 0 {
		for i, n := range feasible {
			part[i] = scoreInterPod(ip, n)
		}
		normalizeInterPod(part)
		add(weightInterPodAffinity)
	}

	if s.volumes.hasStaticBindings() {
		for i, n := range feasible {
			part[i] = scoreVolumes(s.volumes.volumesFor(n.node.Name))
		}
		add(weightVolumeBinding)
	}

	if !s.bestEffort() {
		for i, n := range feasible {
			part[i] = scoreBalanced(s, n)
		}
		add(weightBalanced)
	}
	return total
}

// selectHost takes a highest-scoring node, choosing uniformly among ties.
func (a *algorithm) selectHost(nodes []*nodeInfo, scores []int64) string {
	best, ties := 0, 1
	for i := 1; i < len(nodes); i++ {
		switch {
		case scores[i] > scores[best]:
			best, ties = i, 1
		case scores[i] == scores[best]:
			ties++
			if a.rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best].node.Name
}

// nodeNamesFromAffinity is NodeAffinity's PreFilterResult: when every
// required term names nodes with a metadata.name In requirement, only the
// union of those nodes can fit.
func nodeNamesFromAffinity(pod *v1.Pod) ([]string, bool) {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil, false
	}
	terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) == 0 {
		return nil, false
	}
	union := map[string]bool{}
	for _, t := range terms {
		var term map[string]bool
		for _, r := range t.MatchFields {
			if r.Key != "metadata.name" || r.Operator != v1.NodeSelectorOpIn {
				continue
			}
			vals := map[string]bool{}
			for _, v := range r.Values {
				if term == nil || term[v] {
					vals[v] = true
				}
			}
			term = vals
		}
		if term == nil {
			return nil, false
		}
		for n := range term {
			union[n] = true
		}
	}
	names := make([]string, 0, len(union))
	for n := range union {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, true
}
