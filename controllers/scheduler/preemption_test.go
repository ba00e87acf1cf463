package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSplitByPDB(t *testing.T) {
	labelled := func(name string) *podInfo {
		return newPodInfo(testPod(name, "", func(p *v1.Pod) { p.Labels = map[string]string{"app": "db"} }))
	}
	pdb := func(allowed int32, disrupted ...string) *policyv1.PodDisruptionBudget {
		b := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns"},
			Spec:   policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, DisruptedPods: map[string]metav1.Time{}}}
		for _, d := range disrupted {
			b.Status.DisruptedPods[d] = metav1.Now()
		}
		return b
	}
	tests := []struct {
		name          string
		pods          []*podInfo
		pdbs          []*policyv1.PodDisruptionBudget
		wantViolating int
	}{
		{"no pdb", []*podInfo{labelled("a"), labelled("b")}, nil, 0},
		{"budget of one", []*podInfo{labelled("a"), labelled("b")}, []*policyv1.PodDisruptionBudget{pdb(1)}, 1},
		{"already disrupted pods do not count", []*podInfo{labelled("a"), labelled("b")}, []*policyv1.PodDisruptionBudget{pdb(0, "a", "b")}, 0},
		{"unlabelled pods match nothing", []*podInfo{newPodInfo(testPod("a", ""))}, []*policyv1.PodDisruptionBudget{pdb(0)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			violating, nonViolating := splitByPDB(tt.pods, tt.pdbs)
			if len(violating) != tt.wantViolating || len(violating)+len(nonViolating) != len(tt.pods) {
				t.Errorf("violating %d, non-violating %d; want %d violating", len(violating), len(nonViolating), tt.wantViolating)
			}
		})
	}
}

func TestPickCandidate(t *testing.T) {
	prio := func(name string, p int32) *v1.Pod {
		return testPod(name, "", func(pod *v1.Pod) { pod.Spec.Priority = &p })
	}
	tests := []struct {
		name string
		cs   []*candidate
		want string
	}{
		{"fewest PDB violations", []*candidate{{node: "a", victims: []*v1.Pod{prio("x", 1)}, pdbViolations: 1}, {node: "b", victims: []*v1.Pod{prio("y", 5)}}}, "b"},
		{"lowest top priority", []*candidate{{node: "a", victims: []*v1.Pod{prio("x", 5)}}, {node: "b", victims: []*v1.Pod{prio("y", 1), prio("z", 1)}}}, "b"},
		{"fewest victims", []*candidate{{node: "a", victims: []*v1.Pod{prio("x", 1), prio("w", 0)}}, {node: "b", victims: []*v1.Pod{prio("y", 1)}}}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickCandidate(tt.cs); got.node != tt.want {
				t.Errorf("picked %s, want %s", got.node, tt.want)
			}
		})
	}
}
