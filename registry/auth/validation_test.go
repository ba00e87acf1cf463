package auth

import (
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errorLines renders errors the way a client reads them, one per line.
func errorLines(errs field.ErrorList) string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func TestValidateSubjectAccessReview(t *testing.T) {
	pods := &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}
	for _, tc := range []struct {
		name string
		sar  authorizationv1.SubjectAccessReview
		want []string
	}{
		{
			name: "valid",
			sar:  authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}},
		},
		{
			name: "groups stand in for the user",
			sar: authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{Groups: []string{"g"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}}},
		},
		{
			name: "managed fields are not metadata a caller set",
			sar: authorizationv1.SubjectAccessReview{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}},
		},
		{
			name: "empty spec",
			sar:  authorizationv1.SubjectAccessReview{},
			want: []string{
				`spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
				`spec.user: Invalid value: "": at least one of user or group must be specified`,
			},
		},
		{
			name: "both kinds of attributes, shown as upstream's untagged internal type",
			sar: authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}}},
			want: []string{`spec: Invalid value: {"Path":"/x","Verb":"get"}: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
		},
		{
			name: "metadata",
			sar: authorizationv1.SubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}},
			want: []string{`metadata: Invalid value: {"name":"x"}: must be empty`},
		},
		{
			name: "selectors",
			sar: authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods",
					FieldSelector: &authorizationv1.FieldSelectorAttributes{},
					LabelSelector: &authorizationv1.LabelSelectorAttributes{RawSelector: "a in (",
						Requirements: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Unknown"}}},
				}}},
			want: []string{
				`spec.resourceAttributes.fieldSelector.requirements: Required value: when spec.resourceAttributes.fieldSelector is specified, requirements or rawSelector is required`,
				`spec.resourceAttributes.labelSelector.rawSelector: Invalid value: "a in (": may not specified at the same time as requirements`,
			},
		},
		{
			name: "selector requirements",
			sar: authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods",
					FieldSelector: &authorizationv1.FieldSelectorAttributes{Requirements: []metav1.FieldSelectorRequirement{
						{Key: "", Operator: "Bad"}, {Key: "a", Operator: metav1.FieldSelectorOpIn}}},
					LabelSelector: &authorizationv1.LabelSelectorAttributes{Requirements: []metav1.LabelSelectorRequirement{
						{Key: "a", Operator: metav1.LabelSelectorOpExists, Values: []string{"x"}}}},
				}}},
			want: []string{
				`spec.resourceAttributes.fieldSelector.requirements[0].key: Required value: must be specified`,
				"spec.resourceAttributes.fieldSelector.requirements[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
				"spec.resourceAttributes.labelSelector.requirements[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(validateSubjectAccessReview(&tc.sar))
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidateSelfSubjectAccessReview(t *testing.T) {
	for _, tc := range []struct {
		name string
		sar  authorizationv1.SelfSubjectAccessReview
		want []string
	}{
		{
			name: "valid without a user",
			sar: authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}}},
		},
		{
			name: "empty spec and metadata",
			sar:  authorizationv1.SelfSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}},
			want: []string{
				`spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
				`metadata: Invalid value: {"labels":{"a":"b"}}: must be empty`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(validateSelfSubjectAccessReview(&tc.sar))
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidateLocalSubjectAccessReview(t *testing.T) {
	for _, tc := range []struct {
		name string
		sar  authorizationv1.LocalSubjectAccessReview
		want []string
	}{
		{
			name: "valid",
			sar: authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob",
					ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Resource: "pods"}}},
		},
		{
			name: "namespace mismatch",
			sar: authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob",
					ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "other", Verb: "get", Resource: "pods"}}},
			want: []string{`spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace`},
		},
		{
			name: "non-resource attributes and metadata",
			sar: authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "n"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob",
					NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}}},
			want: []string{
				`metadata: Invalid value: {"name":"n","namespace":"ns"}: must be empty except for namespace`,
				`spec.nonResourceAttributes: Invalid value: {"Path":"/x","Verb":"get"}: disallowed on this kind of request`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(validateLocalSubjectAccessReview(&tc.sar))
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
