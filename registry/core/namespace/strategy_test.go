package namespace

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestPrepareForCreate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		given []corev1.FinalizerName
		want  []corev1.FinalizerName
	}{
		{"none", nil, []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		{"others", []corev1.FinalizerName{"example.com/a"}, []corev1.FinalizerName{"example.com/a", corev1.FinalizerKubernetes}},
		{"already there", []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/a"}, []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: "a"},
				Spec:       corev1.NamespaceSpec{Finalizers: tc.given},
				Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating, Conditions: []corev1.NamespaceCondition{{Type: "X"}}},
			}
			nsStrategy.PrepareForCreate(context.Background(), ns)
			if !slices.Equal(ns.Spec.Finalizers, tc.want) {
				t.Errorf("spec.finalizers = %v, want %v", ns.Spec.Finalizers, tc.want)
			}
			if ns.Status.Phase != corev1.NamespaceActive || len(ns.Status.Conditions) != 0 {
				t.Errorf("status = %+v, want only phase Active", ns.Status)
			}
		})
	}
}

func TestPrepareForUpdate(t *testing.T) {
	old := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "1"}},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	changed := func() *corev1.Namespace {
		ns := old.DeepCopy()
		ns.Labels = map[string]string{"x": "2"}
		ns.Spec.Finalizers = []corev1.FinalizerName{"example.com/b"}
		ns.Status.Phase = corev1.NamespaceTerminating
		return ns
	}
	for _, tc := range []struct {
		name     string
		strategy interface {
			PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
		}
		wantFinalizers []corev1.FinalizerName
		wantPhase      corev1.NamespacePhase
	}{
		{"main resource keeps spec and status", nsStrategy, []corev1.FinalizerName{corev1.FinalizerKubernetes}, corev1.NamespaceActive},
		{"status keeps spec", statusStrategy{nsStrategy}, []corev1.FinalizerName{corev1.FinalizerKubernetes}, corev1.NamespaceTerminating},
		{"finalize keeps status", finalizeStrategy{nsStrategy}, []corev1.FinalizerName{"example.com/b"}, corev1.NamespaceActive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := changed()
			tc.strategy.PrepareForUpdate(context.Background(), ns, old)
			if !slices.Equal(ns.Spec.Finalizers, tc.wantFinalizers) || ns.Status.Phase != tc.wantPhase {
				t.Errorf("got finalizers %v phase %q, want %v %q", ns.Spec.Finalizers, ns.Status.Phase, tc.wantFinalizers, tc.wantPhase)
			}
			if ns.Labels["x"] != "2" {
				t.Errorf("metadata change lost: labels %v", ns.Labels)
			}
		})
	}
}

func TestCanonicalizeLabelsName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
	}{
		{"no labels", nil},
		{"stale label", map[string]string{corev1.LabelMetadataName: "other", "team": "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gen-x7k", Labels: tc.labels}}
			nsStrategy.Canonicalize(ns)
			if ns.Labels[corev1.LabelMetadataName] != "gen-x7k" {
				t.Errorf("labels = %v, want %s=gen-x7k", ns.Labels, corev1.LabelMetadataName)
			}
			if tc.labels["team"] != "" && ns.Labels["team"] != tc.labels["team"] {
				t.Errorf("other labels lost: %v", ns.Labels)
			}
		})
	}
}

func TestValidateFinalizeUpdate(t *testing.T) {
	old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}}
	for _, tc := range []struct {
		name       string
		finalizers []corev1.FinalizerName
		meta       []string
		want       []string
	}{
		{"standard and qualified", []corev1.FinalizerName{corev1.FinalizerKubernetes, "example.com/x"}, nil, nil},
		{"empty", nil, nil, nil},
		{"unqualified", []corev1.FinalizerName{corev1.FinalizerKubernetes, "bad"}, nil,
			[]string{`spec.finalizers[1]: Invalid value: "bad": name is neither a standard finalizer name nor is it fully qualified`}},
		{"unqualified metadata finalizer", nil, []string{"bad"},
			[]string{`metadata.finalizers[0]: Invalid value: "bad": name is neither a standard finalizer name nor is it fully qualified`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := old.DeepCopy()
			ns.Spec.Finalizers = tc.finalizers
			ns.Finalizers = tc.meta
			var got []string
			for _, err := range (finalizeStrategy{nsStrategy}).ValidateUpdate(context.Background(), ns, old) {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDependentsFinalizers(t *testing.T) {
	orphan, foreground := metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents
	policy := func(p metav1.DeletionPropagation) *metav1.DeletionPropagation { return &p }
	for _, tc := range []struct {
		name    string
		current []string
		options metav1.DeleteOptions
		want    []string
	}{
		{"nothing asked keeps none", nil, metav1.DeleteOptions{}, nil},
		{"nothing asked keeps current", []string{"x.io/a", orphan}, metav1.DeleteOptions{}, []string{"x.io/a", orphan}},
		{"background removes both", []string{"x.io/a", orphan, foreground}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationBackground)}, []string{"x.io/a"}},
		{"orphan", []string{"x.io/a"}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationOrphan)}, []string{"x.io/a", orphan}},
		{"foreground replaces orphan", []string{orphan}, metav1.DeleteOptions{PropagationPolicy: policy(metav1.DeletePropagationForeground)}, []string{foreground}},
		{"orphanDependents wins over policy", nil, metav1.DeleteOptions{OrphanDependents: ptr.To(true), PropagationPolicy: policy(metav1.DeletePropagationForeground)}, []string{orphan}},
		{"orphanDependents false means foreground", nil, metav1.DeleteOptions{OrphanDependents: ptr.To(false)}, []string{foreground}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dependentsFinalizers(tc.current, &tc.options); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestShouldDeleteDuringUpdate(t *testing.T) {
	deleted := metav1.Now()
	for _, tc := range []struct {
		name       string
		deleted    bool
		spec       []corev1.FinalizerName
		finalizers []string
		want       bool
	}{
		{"finalized after delete", true, nil, nil, true},
		{"spec finalizer left", true, []corev1.FinalizerName{"example.com/x"}, nil, false},
		{"metadata finalizer left", true, nil, []string{metav1.FinalizerOrphanDependents}, false},
		{"never deleted", false, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
			if tc.deleted {
				existing.DeletionTimestamp = &deleted
			}
			obj := existing.DeepCopy()
			obj.Spec.Finalizers = tc.spec
			obj.Finalizers = tc.finalizers
			if got := shouldDeleteDuringUpdate(context.Background(), "/namespaces/a", obj, existing); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSelectableFields(t *testing.T) {
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "x"}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	for _, tc := range []struct {
		field, label string
		want         bool
	}{
		{"status.phase=Terminating", "", true},
		{"status.phase=Active", "", false},
		{"metadata.name=a", "team=x", true},
		{"name=a", "", true},
		{"", "team=y", false},
	} {
		t.Run(tc.field+" "+tc.label, func(t *testing.T) {
			p := matchNamespace(labels.SelectorFromSet(nil), fields.Everything())
			var err error
			if tc.field != "" {
				if p.Field, err = fields.ParseSelector(tc.field); err != nil {
					t.Fatal(err)
				}
			}
			if tc.label != "" {
				if p.Label, err = labels.Parse(tc.label); err != nil {
					t.Fatal(err)
				}
			}
			got, err := p.Matches(ns)
			if err != nil || got != tc.want {
				t.Errorf("Matches = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
