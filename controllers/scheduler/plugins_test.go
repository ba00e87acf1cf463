package scheduler

import (
	"math/rand/v2"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func testNode(name string, cpu string, mod ...func(*v1.Node)) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}}}
	n.Status.Allocatable = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("4Gi"), v1.ResourcePods: resource.MustParse("110")}
	for _, m := range mod {
		m(n)
	}
	return n
}

func testPod(name string, cpu string, mod ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name)},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c"}}}}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}
	}
	for _, m := range mod {
		m(p)
	}
	return p
}

func noLabels(string) labels.Set            { return nil }
func noNamespaces(labels.Selector) []string { return nil }

func TestFilters(t *testing.T) {
	webAnti := func(p *v1.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: v1.LabelHostname}}}}
	}
	tests := []struct {
		name     string
		pod      *v1.Pod
		node     *v1.Node
		existing []*v1.Pod
		want     *status
	}{
		{"fits", testPod("p", "1"), testNode("n", "2"), nil, nil},
		{"insufficient cpu", testPod("p", "1"), testNode("n", "2"), []*v1.Pod{testPod("e", "1500m")}, fail(unschedulable, "Insufficient cpu")},
		{"larger than the node", testPod("p", "3"), testNode("n", "2"), nil, fail(unresolvable, "Insufficient cpu")},
		{"too many pods", testPod("p", ""), testNode("n", "2", func(n *v1.Node) { n.Status.Allocatable[v1.ResourcePods] = resource.MustParse("1") }),
			[]*v1.Pod{testPod("e", "")}, fail(unschedulable, "Too many pods")},
		{"untolerated taint", testPod("p", ""), testNode("n", "2", func(n *v1.Node) {
			n.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}}
		}), nil, fail(unresolvable, reasonTaints)},
		{"tolerated taint", testPod("p", "", func(p *v1.Pod) { p.Spec.Tolerations = []v1.Toleration{{Key: "k", Operator: v1.TolerationOpExists}} }),
			testNode("n", "2", func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}} }), nil, nil},
		{"prefer-no-schedule taint does not filter", testPod("p", ""), testNode("n", "2", func(n *v1.Node) {
			n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectPreferNoSchedule}}
		}), nil, nil},
		{"unschedulable node", testPod("p", ""), testNode("n", "2", func(n *v1.Node) { n.Spec.Unschedulable = true }), nil, fail(unresolvable, reasonUnschedulable)},
		{"node selector", testPod("p", "", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), testNode("n", "2"), nil, fail(unresolvable, reasonNodeAffinity)},
		{"host port taken", testPod("p", "", func(p *v1.Pod) { p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80}} }), testNode("n", "2"),
			[]*v1.Pod{testPod("e", "", func(p *v1.Pod) { p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80, HostIP: "10.0.0.1"}} })}, fail(unschedulable, reasonNodePorts)},
		{"host port other protocol", testPod("p", "", func(p *v1.Pod) {
			p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80, Protocol: v1.ProtocolUDP}}
		}), testNode("n", "2"), []*v1.Pod{testPod("e", "", func(p *v1.Pod) { p.Spec.Containers[0].Ports = []v1.ContainerPort{{HostPort: 80}} })}, nil},
		{"anti-affinity", testPod("p", "", webAnti), testNode("n", "2"), []*v1.Pod{testPod("e", "", webAnti)}, fail(unschedulable, reasonAntiAffinity)},
		{"existing pod's anti-affinity", testPod("p", "", func(p *v1.Pod) { p.Labels = map[string]string{"app": "web"} }), testNode("n", "2"),
			[]*v1.Pod{testPod("e", "", webAnti)}, fail(unschedulable, reasonExistingAnti)},
		{"affinity to nothing", testPod("p", "", func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{PodAffinity: &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, TopologyKey: v1.LabelHostname}}}}
		}), testNode("n", "2"), nil, fail(unresolvable, reasonAffinity)},
		{"spread skew", testPod("p", "", func(p *v1.Pod) {
			p.Labels = map[string]string{"app": "s"}
			p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelHostname, WhenUnsatisfiable: v1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "s"}}}}
		}), testNode("n", "2"), []*v1.Pod{testPod("e", "", func(p *v1.Pod) { p.Labels = map[string]string{"app": "s"} })}, fail(unschedulable, reasonSpread)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNodeInfo(tt.node)
			other := newNodeInfo(testNode("other", "2"))
			for _, e := range tt.existing {
				n.addPod(newPodInfo(e))
			}
			nodes := []*nodeInfo{n}
			if tt.name == "spread skew" {
				nodes = append(nodes, other)
			}
			s := preFilter(tt.pod, nodes, noLabels, noNamespaces)
			got := runFilters(s, n)
			if (got == nil) != (tt.want == nil) || got != nil && (got.code != tt.want.code || len(got.reasons) != len(tt.want.reasons) || got.reasons[0] != tt.want.reasons[0]) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  fitError
		want string
	}{
		{"mixed", fitError{numAllNodes: 3, statuses: map[string]*status{
			"a": fail(unschedulable, "Insufficient cpu"), "b": fail(unresolvable, reasonTaints), "c": fail(unresolvable, reasonTaints)},
			postFilterMsg: "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."},
			"0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."},
		{"absent nodes", fitError{numAllNodes: 2, statuses: map[string]*status{}, absent: fail(unresolvable, reasonPreemptionUseless)},
			"0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{"several reasons on one node", fitError{numAllNodes: 1, statuses: map[string]*status{"a": fail(unschedulable, "Insufficient cpu", "Insufficient memory")}},
			"0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."},
		{"no nodes", fitError{numAllNodes: 0, statuses: map[string]*status{}}, "no nodes available to schedule pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tt := range []struct{ all, want int32 }{{10, 10}, {99, 99}, {100, 100}, {1000, 420}, {5000, 500}, {6000, 300}} {
		if got := numFeasibleNodesToFind(0, tt.all); got != tt.want {
			t.Errorf("numFeasibleNodesToFind(%d) = %d, want %d", tt.all, got, tt.want)
		}
	}
}

func TestScores(t *testing.T) {
	empty := newNodeInfo(testNode("empty", "4"))
	busy := newNodeInfo(testNode("busy", "4"))
	busy.addPod(newPodInfo(testPod("e", "3")))
	s := preFilter(testPod("p", "1"), []*nodeInfo{empty, busy}, noLabels, noNamespaces)
	if a, b := scoreLeastAllocated(s, empty), scoreLeastAllocated(s, busy); a <= b {
		t.Errorf("least allocated: empty %d, busy %d; want empty higher", a, b)
	}
	tainted := newNodeInfo(testNode("t", "4", func(n *v1.Node) { n.Spec.Taints = []v1.Taint{{Key: "k", Effect: v1.TaintEffectPreferNoSchedule}} }))
	scores := []int64{scoreTaints(s.pod.pod, empty), scoreTaints(s.pod.pod, tainted)}
	normalizeDefault(scores, true)
	if scores[0] != 100 || scores[1] != 0 {
		t.Errorf("taint scores %v, want [100 0]", scores)
	}
	ip := []int64{-5, 0, 5}
	normalizeInterPod(ip)
	if ip[0] != 0 || ip[1] != 50 || ip[2] != 100 {
		t.Errorf("inter-pod normalized %v", ip)
	}
}

func TestSchedulePrefersEmptyNodeAndPreempts(t *testing.T) {
	c := newCache()
	c.upsertNode(testNode("a", "2"))
	c.upsertNode(testNode("b", "2"))
	low := testPod("low", "1500m", func(p *v1.Pod) { p.Spec.NodeName = "a"; prio := int32(1); p.Spec.Priority = &prio })
	c.upsertPod(low)
	snap := newSnapshot()
	c.update(snap)
	alg := &algorithm{nsLabels: noLabels, namespacesMatching: noNamespaces, rand: rand.New(rand.NewPCG(1, 2))}
	res, _, err := alg.schedule(testPod("p", "1"), snap)
	if err != nil || res.node != "b" {
		t.Fatalf("schedule = %+v, %v; want b", res, err)
	}
	// Assumed pods count before the informer confirms them.
	c.assume(testPod("p", "1", func(p *v1.Pod) { p.Spec.NodeName = "b"; prio := int32(50); p.Spec.Priority = &prio }))
	c.update(snap)
	high := testPod("high", "1500m", func(p *v1.Pod) { prio := int32(100); p.Spec.Priority = &prio })
	_, state, err := alg.schedule(high, snap)
	fe, ok := err.(*fitError)
	if !ok {
		t.Fatalf("schedule of high = %v, want a fit error", err)
	}
	out := alg.preempt(high, state, snap, fe, nil)
	if out.candidate == nil || out.candidate.node != "a" || len(out.candidate.victims) != 1 || out.candidate.victims[0].Name != "low" {
		t.Fatalf("preempt = %+v", out)
	}
}

func TestNodeNamePreFilter(t *testing.T) {
	c := newCache()
	for _, n := range []string{"a", "b", "c"} {
		c.upsertNode(testNode(n, "1"))
	}
	snap := newSnapshot()
	c.update(snap)
	alg := &algorithm{nsLabels: noLabels, namespacesMatching: noNamespaces, rand: rand.New(rand.NewPCG(1, 2))}
	onNode := func(cpu string, names ...string) *v1.Pod {
		return testPod("ds", cpu, func(p *v1.Pod) {
			p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
				NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: names}}}}}}}
		})
	}
	tests := []struct {
		name     string
		pod      *v1.Pod
		wantNode string
		wantErr  string
	}{
		{"bound to the named node", onNode("100m", "b"), "b", ""},
		{"named node too small", onNode("2", "b"), "", "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."},
		{"named node missing", onNode("100m", "zz"), "", "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := alg.schedule(tt.pod, snap)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || res.node != tt.wantNode {
				t.Errorf("schedule = %+v, %v; want %s", res, err, tt.wantNode)
			}
		})
	}
}
