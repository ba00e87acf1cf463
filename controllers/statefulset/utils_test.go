package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestClaimOwnerRefsFollowRetentionPolicy(t *testing.T) {
	const retain, del = appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	tests := []struct {
		whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType
		scaledDown              bool
		wantSetRef, wantPodRef  bool
	}{
		{retain, retain, false, false, false},
		{retain, retain, true, false, false},
		{del, retain, false, true, false},
		{del, retain, true, true, false},
		{retain, del, false, false, false},
		{retain, del, true, false, true},
		{del, del, false, true, false},
		{del, del, true, false, true},
	}
	for _, tc := range tests {
		name := string(tc.whenDeleted) + "/" + string(tc.whenScaled)
		if tc.scaledDown {
			name += "/scaled down"
		}
		t.Run(name, func(t *testing.T) {
			set := &appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set-uid"},
				Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: tc.whenDeleted, WhenScaled: tc.whenScaled,
				}},
			}
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "pod-uid"}}
			if tc.scaledDown {
				pod.Name = "web-5"
			}
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data-" + pod.Name}}
			if tc.wantSetRef || tc.wantPodRef {
				if isClaimOwnerUpToDate(claim, set, pod) {
					t.Fatalf("a claim without owners counts as up to date")
				}
			}
			updateClaimOwnerRefs(claim, set, pod)
			if !isClaimOwnerUpToDate(claim, set, pod) {
				t.Errorf("owners %+v not up to date after update", claim.OwnerReferences)
			}
			if got := hasOwnerRef(claim, set); got != tc.wantSetRef {
				t.Errorf("set owns the claim: %v, want %v", got, tc.wantSetRef)
			}
			if got := hasOwnerRef(claim, pod); got != tc.wantPodRef {
				t.Errorf("pod owns the claim: %v, want %v", got, tc.wantPodRef)
			}
		})
	}
}

func TestParentAndOrdinal(t *testing.T) {
	tests := []struct {
		name, parent string
		ordinal      int
	}{
		{"web-0", "web", 0},
		{"my-web-12", "my-web", 12},
		{"web", "", -1},
		{"web-x", "", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, ordinal := parentAndOrdinal(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name}})
			if parent != tc.parent || ordinal != tc.ordinal {
				t.Errorf("got (%q, %d), want (%q, %d)", parent, ordinal, tc.parent, tc.ordinal)
			}
		})
	}
}

func TestNewVersionedPodHonorsPartition(t *testing.T) {
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}},
		},
	}
	for ordinal, want := range []string{"current", "current", "update"} {
		pod := newVersionedStatefulSetPod(set, set, "current", "update", ordinal)
		if got := podRevision(pod); got != want {
			t.Errorf("ordinal %d from revision %s, want %s", ordinal, got, want)
		}
		if pod.Labels[appsv1.PodIndexLabel] == "" || pod.Labels[appsv1.StatefulSetPodNameLabel] != pod.Name {
			t.Errorf("labels %v", pod.Labels)
		}
	}
}
