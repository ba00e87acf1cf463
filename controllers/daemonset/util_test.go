package daemonset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

func TestNodeShouldRunDaemonPod(t *testing.T) {
	node := func(lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	ds := func(mut func(*corev1.PodSpec)) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{}
		mut(&d.Spec.Template.Spec)
		return d
	}
	none := func(*corev1.PodSpec) {}
	tests := []struct {
		name                         string
		node                         *corev1.Node
		ds                           *appsv1.DaemonSet
		wantRun, wantContinueRunning bool
	}{
		{"plain node", node(nil), ds(none), true, true},
		{"node selector mismatch", node(map[string]string{"a": "b"}), ds(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a": "c"} }), false, false},
		{"node selector match", node(map[string]string{"a": "b"}), ds(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"a": "b"} }), true, true},
		{"required affinity mismatch", node(nil), ds(func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}}
		}), false, false},
		{"other nodeName", node(nil), ds(func(s *corev1.PodSpec) { s.NodeName = "m" }), false, false},
		{"untolerated NoSchedule keeps running pods", node(nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule}), ds(none), false, true},
		{"untolerated NoExecute evicts", node(nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}), ds(none), false, false},
		{"tolerated taint", node(nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}),
			ds(func(s *corev1.PodSpec) {
				s.Tolerations = []corev1.Toleration{{Key: "x", Operator: corev1.TolerationOpExists}}
			}), true, true},
		{"not-ready NoExecute tolerated automatically", node(nil, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), ds(none), true, true},
		{"unschedulable tolerated automatically", node(nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), ds(none), true, true},
		{"network-unavailable only for host network", node(nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}), ds(none), false, true},
		{"network-unavailable with host network", node(nil, corev1.Taint{Key: corev1.TaintNodeNetworkUnavailable, Effect: corev1.TaintEffectNoSchedule}),
			ds(func(s *corev1.PodSpec) { s.HostNetwork = true }), true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run, cont := nodeShouldRunDaemonPod(klog.Background(), tc.node, tc.ds, daemonPodTolerations(tc.ds), requiredAffinity(tc.ds))
			if run != tc.wantRun || cont != tc.wantContinueRunning {
				t.Errorf("got (%v, %v), want (%v, %v)", run, cont, tc.wantRun, tc.wantContinueRunning)
			}
		})
	}
}

func TestNodeNameAffinityAndTarget(t *testing.T) {
	tests := []struct {
		name     string
		affinity *corev1.Affinity
	}{
		{"nil", nil},
		{"no node affinity", &corev1.Affinity{}},
		{"replaces required terms", &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "a", Operator: corev1.NodeSelectorOpExists}}}}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: nodeNameAffinity(tc.affinity, "node-1")}}
			got, err := targetNodeName(pod)
			if err != nil || got != "node-1" {
				t.Errorf("target %q, %v", got, err)
			}
			if terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms; len(terms) != 1 {
				t.Errorf("terms %+v", terms)
			}
		})
	}
}
