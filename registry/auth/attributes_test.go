package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/user"
)

func TestResourceAttributesSelectors(t *testing.T) {
	u := &user.DefaultInfo{Name: "alice"}
	for _, tc := range []struct {
		name                   string
		label                  *authorizationv1.LabelSelectorAttributes
		field                  *authorizationv1.FieldSelectorAttributes
		wantLabels, wantFields string // the requirements, as fmt prints them
		wantLabelErr           bool
		wantFieldErr           bool
		wantEvaluationError    string
	}{
		{name: "none", wantLabels: "[]", wantFields: "[]"},
		{
			name:       "raw selectors",
			label:      &authorizationv1.LabelSelectorAttributes{RawSelector: "app=web,tier!=db"},
			field:      &authorizationv1.FieldSelectorAttributes{RawSelector: "spec.nodeName=n1"},
			wantLabels: "[app=web tier!=db]", wantFields: "[spec.nodeName=n1]",
		},
		{
			name:       "raw selectors that do not parse",
			label:      &authorizationv1.LabelSelectorAttributes{RawSelector: "a in ("},
			field:      &authorizationv1.FieldSelectorAttributes{RawSelector: "a=b=c"},
			wantLabels: "[]", wantFields: "[]", wantLabelErr: true, wantFieldErr: true,
			wantEvaluationError: "spec.resourceAttributes.fieldSelector ignored due to parse error; spec.resourceAttributes.labelSelector ignored due to parse error",
		},
		{
			name: "structured requirements, some unusable",
			label: &authorizationv1.LabelSelectorAttributes{Requirements: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}},
				{Key: "x", Operator: "Weird"},
			}},
			field: &authorizationv1.FieldSelectorAttributes{Requirements: []metav1.FieldSelectorRequirement{
				{Key: "a", Operator: metav1.FieldSelectorOpIn, Values: []string{"1", "2"}},
				{Key: "b", Operator: metav1.FieldSelectorOpNotIn, Values: []string{"1"}},
				{Key: "c", Operator: metav1.FieldSelectorOpExists},
			}},
			wantLabels: "[app in (web)]", wantFields: "[b!=1]", wantLabelErr: true, wantFieldErr: true,
			wantEvaluationError: "spec.resourceAttributes.fieldSelector partially ignored due to parse error; spec.resourceAttributes.labelSelector partially ignored due to parse error",
		},
		{
			name: "structured requirements win over a raw selector",
			label: &authorizationv1.LabelSelectorAttributes{RawSelector: "a in (",
				Requirements: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}},
			field: &authorizationv1.FieldSelectorAttributes{Requirements: []metav1.FieldSelectorRequirement{
				{Key: "a", Operator: metav1.FieldSelectorOpIn}}},
			wantLabels: "[app]", wantFields: "[]", wantFieldErr: true,
			wantEvaluationError: "spec.resourceAttributes.fieldSelector ignored due to parse error",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := resourceAttributes(u, authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", LabelSelector: tc.label, FieldSelector: tc.field})
			if attrs.APIVersion != "*" || !attrs.ResourceRequest || attrs.User != u {
				t.Errorf("attributes = %+v, want any version of a resource request by alice", attrs)
			}
			labelReqs, labelErr := attrs.GetLabelSelector()
			fieldReqs, fieldErr := attrs.GetFieldSelector()
			if got := formatLabels(labelReqs); got != tc.wantLabels {
				t.Errorf("label requirements = %s, want %s", got, tc.wantLabels)
			}
			if got := formatFields(fieldReqs); got != tc.wantFields {
				t.Errorf("field requirements = %s, want %s", got, tc.wantFields)
			}
			if (labelErr != nil) != tc.wantLabelErr || (fieldErr != nil) != tc.wantFieldErr {
				t.Errorf("errors = %v, %v; want label error %v, field error %v", labelErr, fieldErr, tc.wantLabelErr, tc.wantFieldErr)
			}
			if got := evaluationError(nil, attrs); got != tc.wantEvaluationError {
				t.Errorf("evaluationError = %q, want %q", got, tc.wantEvaluationError)
			}
		})
	}
}

func formatLabels(reqs labels.Requirements) string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.String())
	}
	return "[" + strings.Join(out, " ") + "]"
}

func formatFields(reqs fields.Requirements) string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Field+string(r.Operator)+r.Value)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func TestSubjectAttributes(t *testing.T) {
	spec := authorizationv1.SubjectAccessReviewSpec{
		User: "alice", UID: "1", Groups: []string{"g"},
		Extra:              map[string]authorizationv1.ExtraValue{"k": {"v"}},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Group: "apps", Version: "v1", Resource: "deployments", Subresource: "scale", Name: "d"},
	}
	attrs := subjectAttributes(spec)
	got := fmt.Sprintf("%s %s %v %v | %s %s %s %s %s %s %s %v", attrs.User.GetName(), attrs.User.GetUID(), attrs.User.GetGroups(), attrs.User.GetExtra(),
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion, attrs.Resource, attrs.Subresource, attrs.Name, attrs.ResourceRequest)
	if want := "alice 1 [g] map[k:[v]] | get ns apps v1 deployments scale d true"; got != want {
		t.Errorf("attributes = %s, want %s", got, want)
	}

	attrs = subjectAttributes(authorizationv1.SubjectAccessReviewSpec{Groups: []string{"g"},
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}})
	if attrs.ResourceRequest || attrs.Path != "/healthz" || attrs.Verb != "get" || attrs.User.GetExtra() != nil {
		t.Errorf("non-resource attributes = %+v", attrs)
	}
}

func TestEvaluationErrorKeepsAuthorizerError(t *testing.T) {
	attrs := resourceAttributes(&user.DefaultInfo{}, authorizationv1.ResourceAttributes{
		LabelSelector: &authorizationv1.LabelSelectorAttributes{RawSelector: "!"}})
	if got, want := evaluationError(errors.New("webhook down"), attrs), "webhook down; spec.resourceAttributes.labelSelector ignored due to parse error"; got != want {
		t.Errorf("evaluationError = %q, want %q", got, want)
	}
}
