package deployment

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

func testDeployment(replicas int32, surge, unavailable int32) *appsv1.Deployment {
	s, u := intstr.FromInt32(surge), intstr.FromInt32(unavailable)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "foo", Namespace: "default", UID: "d-uid"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}},
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "foo/bar"}}}},
		},
	}
}

func testRS(name string, replicas int32, created time.Time) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(created)},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &replicas},
	}
}

// TestScale is upstream's table of scaling events during rollouts: a
// resized deployment spreads the change over its active ReplicaSets in
// proportion to their size, leftovers going to the largest.
func TestScale(t *testing.T) {
	newer := time.Now()
	old := newer.Add(-time.Minute)
	older := old.Add(-time.Minute)
	tests := []struct {
		name         string
		from, to     int32
		newRS        *appsv1.ReplicaSet
		oldRSs       []*appsv1.ReplicaSet
		wantNew      int32
		wantOld      []int32
		surge, unavl int32
	}{
		{name: "normal scaling event: 10 -> 12", from: 10, to: 12, newRS: testRS("foo-v1", 10, newer), wantNew: 12},
		{name: "normal scaling event: 10 -> 5", from: 10, to: 5, newRS: testRS("foo-v1", 10, newer), wantNew: 5},
		{name: "proportional scaling: 5 -> 10", from: 5, to: 10, newRS: testRS("foo-v2", 2, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v1", 3, old)}, wantNew: 4, wantOld: []int32{6}},
		{name: "proportional scaling: 5 -> 3", from: 5, to: 3, newRS: testRS("foo-v2", 2, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v1", 3, old)}, wantNew: 1, wantOld: []int32{2}},
		{name: "proportional scaling: 9 -> 4", from: 9, to: 4, newRS: testRS("foo-v2", 8, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v1", 1, old)}, wantNew: 4, wantOld: []int32{0}},
		{name: "proportional scaling: 7 -> 10", from: 7, to: 10, newRS: testRS("foo-v3", 2, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 3, old), testRS("foo-v1", 2, older)}, wantNew: 3, wantOld: []int32{4, 3}},
		{name: "proportional scaling: 13 -> 8", from: 13, to: 8, newRS: testRS("foo-v3", 2, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 8, old), testRS("foo-v1", 3, older)}, wantNew: 1, wantOld: []int32{5, 2}},
		{name: "leftover distribution: 3 -> 4", from: 3, to: 4, newRS: testRS("foo-v3", 1, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 1, old), testRS("foo-v1", 1, older)}, wantNew: 2, wantOld: []int32{1, 1}},
		{name: "leftover distribution: 3 -> 2", from: 3, to: 2, newRS: testRS("foo-v3", 1, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 1, old), testRS("foo-v1", 1, older)}, wantNew: 1, wantOld: []int32{1, 0}},
		{name: "proportional scaling (no new rs): 4 -> 5", from: 4, to: 5,
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 2, old), testRS("foo-v1", 2, older)}, wantOld: []int32{3, 2}},
		{name: "proportional scaling: 6 -> 0", from: 6, to: 0, newRS: testRS("foo-v3", 3, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 2, old), testRS("foo-v1", 1, older)}, wantNew: 0, wantOld: []int32{0, 0}},
		{name: "proportional scaling: 0 -> 6", from: 0, to: 6, newRS: testRS("foo-v3", 0, newer),
			oldRSs: []*appsv1.ReplicaSet{testRS("foo-v2", 0, old), testRS("foo-v1", 0, older)}, wantNew: 6, wantOld: []int32{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := testDeployment(tc.from, tc.surge, tc.unavl)
			d := testDeployment(tc.to, tc.surge, tc.unavl)
			for _, rs := range append([]*appsv1.ReplicaSet{tc.newRS}, tc.oldRSs...) {
				if rs != nil {
					setReplicasAnnotations(rs, tc.from, tc.from+maxSurge(before))
				}
			}
			client := &fake.Clientset{}
			c := &Controller{client: client, recorder: record.NewFakeRecorder(100), now: time.Now}
			if err := c.scale(t.Context(), d, tc.newRS, tc.oldRSs); err != nil {
				t.Fatal(err)
			}
			sizes := map[string]int32{}
			for _, rs := range append([]*appsv1.ReplicaSet{tc.newRS}, tc.oldRSs...) {
				if rs != nil {
					sizes[rs.Name] = *rs.Spec.Replicas
				}
			}
			for _, a := range client.Actions() {
				rs := a.(k8stesting.UpdateAction).GetObject().(*appsv1.ReplicaSet)
				sizes[rs.Name] = *rs.Spec.Replicas
			}
			if tc.newRS != nil && sizes[tc.newRS.Name] != tc.wantNew {
				t.Errorf("new replica set %d replicas, want %d", sizes[tc.newRS.Name], tc.wantNew)
			}
			for i, rs := range tc.oldRSs {
				if sizes[rs.Name] != tc.wantOld[i] {
					t.Errorf("old replica set %s %d replicas, want %d", rs.Name, sizes[rs.Name], tc.wantOld[i])
				}
			}
		})
	}
}

func TestResolveFenceposts(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	tests := []struct {
		surge, unavailable *intstr.IntOrString
		desired            int32
		wantS, wantU       int32
	}{
		{pct("25%"), pct("25%"), 3, 1, 0},
		{pct("25%"), pct("25%"), 4, 1, 1},
		{num(0), num(0), 5, 0, 1},
		{pct("50%"), pct("50%"), 5, 3, 2},
		{num(2), nil, 5, 2, 0},
	}
	for _, tc := range tests {
		s, u, err := resolveFenceposts(tc.surge, tc.unavailable, tc.desired)
		if err != nil || s != tc.wantS || u != tc.wantU {
			t.Errorf("resolveFenceposts(%v, %v, %d) = %d, %d, %v; want %d, %d", tc.surge, tc.unavailable, tc.desired, s, u, err, tc.wantS, tc.wantU)
		}
	}
}

// TestComputeHash pins the hash of a fixed template: a change here would
// rename (and roll) every Deployment's ReplicaSet.
func TestComputeHash(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.14.2"}}},
	}
	one := int32(1)
	a, b, c := ComputeHash(tmpl, nil), ComputeHash(tmpl, nil), ComputeHash(tmpl, &one)
	if a != b {
		t.Fatalf("hash not stable: %s %s", a, b)
	}
	if a == c {
		t.Errorf("collision count does not change the hash %s", a)
	}
	const want = "b48fcb456"
	if a != want {
		t.Errorf("hash %s, want %s", a, want)
	}
}

func TestReplicaSetName(t *testing.T) {
	long := ""
	for len(long) < 260 {
		long += "abcdefghij"
	}
	if got := replicaSetName("web", "5d4b8c9f7"); got != "web-5d4b8c9f7" {
		t.Errorf("got %s", got)
	}
	if got := replicaSetName(long, "5d4b8c9f7"); len(got) != 253 || got[243:] != "-5d4b8c9f7" {
		t.Errorf("long name %q (%d)", got, len(got))
	}
}
