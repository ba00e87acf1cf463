package history

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestNewControllerRevision(t *testing.T) {
	parent := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1"}}
	kind := appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	data := runtime.RawExtension{Raw: []byte(`{"spec":{"template":{"$patch":"replace"}}}`)}
	tests := []struct {
		name      string
		data      runtime.RawExtension
		collision *int32
		sameAs    string // name of the case whose revision name must match
	}{
		{name: "base", data: data},
		{name: "same data", data: data, sameAs: "base"},
		{name: "collision count moves the name", data: data, collision: ptr.To[int32](1)},
		{name: "other data", data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}},
	}
	names := map[string]string{}
	seen := map[string]string{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := NewControllerRevision(parent, kind, map[string]string{"app": "web"}, tc.data, 3, tc.collision)
			hash := cr.Labels[ControllerRevisionHashLabel]
			if cr.Name != "web-"+hash || cr.Revision != 3 || cr.Labels["app"] != "web" {
				t.Errorf("revision %s labels %v revision %d", cr.Name, cr.Labels, cr.Revision)
			}
			if ref := metav1.GetControllerOf(cr); ref == nil || ref.UID != "uid-1" || ref.Kind != "StatefulSet" {
				t.Errorf("controller ref %+v", ref)
			}
			names[tc.name] = cr.Name
			if tc.sameAs != "" {
				if names[tc.sameAs] != cr.Name {
					t.Errorf("name %s, want %s as for %q", cr.Name, names[tc.sameAs], tc.sameAs)
				}
				return
			}
			if other, ok := seen[cr.Name]; ok {
				t.Errorf("name %s also given to %q", cr.Name, other)
			}
			seen[cr.Name] = tc.name
		})
	}
}

func TestControllerRevisionNameTruncates(t *testing.T) {
	got := ControllerRevisionName(strings.Repeat("a", 300), "hash")
	if len(got) != 223+len("-hash") {
		t.Errorf("len = %d", len(got))
	}
}

func TestComputeHash(t *testing.T) {
	template := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "a"}}}}
	other := template.DeepCopy()
	other.Spec.Containers[0].Image = "b"
	tests := []struct {
		name      string
		a, b      *corev1.PodTemplateSpec
		ca, cb    *int32
		wantEqual bool
	}{
		{"same template", template, template.DeepCopy(), nil, nil, true},
		{"other image", template, other, nil, nil, false},
		{"collision count", template, template, nil, ptr.To[int32](1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ComputeHash(tc.a, tc.ca) == ComputeHash(tc.b, tc.cb); got != tc.wantEqual {
				t.Errorf("hashes equal = %v, want %v", got, tc.wantEqual)
			}
		})
	}
}

func TestSortAndFind(t *testing.T) {
	now := metav1.Now()
	later := metav1.NewTime(now.Add(time.Second))
	rev := func(name string, n int64, ts metav1.Time, data string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ts}, Revision: n, Data: runtime.RawExtension{Raw: []byte(data)}}
	}
	revs := []*appsv1.ControllerRevision{rev("c", 2, now, "x"), rev("b", 1, later, "y"), rev("a", 1, now, "x"), rev("d", 1, now, "z")}
	SortControllerRevisions(revs)
	var order []string
	for _, r := range revs {
		order = append(order, r.Name)
	}
	if got := strings.Join(order, ""); got != "adbc" {
		t.Errorf("order %s, want adbc", got)
	}
	eq := FindEqualRevisions(revs, rev("n", 0, now, "x"))
	if len(eq) != 2 || eq[0].Name != "a" || eq[1].Name != "c" {
		t.Errorf("equal revisions %v", eq)
	}
}

func TestIsPodAvailable(t *testing.T) {
	now := time.Now()
	pod := func(ready corev1.ConditionStatus, since time.Duration) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(now.Add(-since))},
		}}}
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		minReady int32
		want     bool
	}{
		{"not ready", pod(corev1.ConditionFalse, time.Hour), 0, false},
		{"ready, no minReadySeconds", pod(corev1.ConditionTrue, 0), 0, true},
		{"ready too recently", pod(corev1.ConditionTrue, time.Second), 10, false},
		{"ready long enough", pod(corev1.ConditionTrue, time.Minute), 10, true},
		{"no conditions", &corev1.Pod{}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPodAvailable(tc.pod, tc.minReady, now); got != tc.want {
				t.Errorf("IsPodAvailable = %v, want %v", got, tc.want)
			}
		})
	}
}
