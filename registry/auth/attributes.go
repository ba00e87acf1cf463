package auth

import (
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// subjectAttributes is what a SubjectAccessReviewSpec asks about, for the
// user it names rather than the caller. The spec has passed validation, so
// exactly one kind of attributes is set.
func subjectAttributes(spec authorizationv1.SubjectAccessReviewSpec) authorizer.AttributesRecord {
	var extra map[string][]string
	if spec.Extra != nil {
		extra = make(map[string][]string, len(spec.Extra))
		for k, v := range spec.Extra {
			extra[k] = []string(v)
		}
	}
	u := &user.DefaultInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups, Extra: extra}
	if spec.ResourceAttributes != nil {
		return resourceAttributes(u, *spec.ResourceAttributes)
	}
	return nonResourceAttributes(u, *spec.NonResourceAttributes)
}

// resourceAttributes is a resource request by u. An empty version means any
// version. Selectors that do not parse are kept as parse errors on the
// record: the authorizer then decides without them (a broader question),
// and the review reports it in status.evaluationError.
func resourceAttributes(u user.Info, in authorizationv1.ResourceAttributes) authorizer.AttributesRecord {
	version := in.Version
	if version == "" {
		version = "*"
	}
	attrs := authorizer.AttributesRecord{
		User:            u,
		Verb:            in.Verb,
		Namespace:       in.Namespace,
		APIGroup:        in.Group,
		APIVersion:      version,
		Resource:        in.Resource,
		Subresource:     in.Subresource,
		Name:            in.Name,
		ResourceRequest: true,
	}
	if sel := in.LabelSelector; sel != nil {
		// Validation forbids both forms at once; were both there, the
		// structured requirements win, as upstream.
		if sel.RawSelector != "" {
			if parsed, err := labels.Parse(sel.RawSelector); err != nil {
				attrs.LabelSelectorParsingErr = err
			} else {
				attrs.LabelSelectorRequirements, _ = parsed.Requirements()
			}
		}
		if len(sel.Requirements) > 0 {
			attrs.LabelSelectorRequirements, attrs.LabelSelectorParsingErr = labelRequirements(sel.Requirements)
		}
	}
	if sel := in.FieldSelector; sel != nil {
		if sel.RawSelector != "" {
			if parsed, err := fields.ParseSelector(sel.RawSelector); err != nil {
				attrs.FieldSelectorParsingErr = err
			} else {
				attrs.FieldSelectorRequirements = parsed.Requirements()
			}
		}
		if len(sel.Requirements) > 0 {
			attrs.FieldSelectorRequirements, attrs.FieldSelectorParsingErr = fieldRequirements(sel.Requirements)
		}
	}
	return attrs
}

func nonResourceAttributes(u user.Info, in authorizationv1.NonResourceAttributes) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: in.Verb, Path: in.Path}
}

var labelOperators = map[metav1.LabelSelectorOperator]selection.Operator{
	metav1.LabelSelectorOpIn:           selection.In,
	metav1.LabelSelectorOpNotIn:        selection.NotIn,
	metav1.LabelSelectorOpExists:       selection.Exists,
	metav1.LabelSelectorOpDoesNotExist: selection.DoesNotExist,
}

// labelRequirements converts what it can and reports the rest. Dropping a
// requirement only widens the question asked, since requirements are ANDed,
// so the usable ones are returned alongside the error.
func labelRequirements(in []metav1.LabelSelectorRequirement) (labels.Requirements, error) {
	var reqs labels.Requirements
	var errs []error
	for _, r := range in {
		op, ok := labelOperators[r.Operator]
		if !ok {
			errs = append(errs, fmt.Errorf("%q is not a valid label selector operator", r.Operator))
			continue
		}
		values := r.Values
		if len(values) == 0 {
			values = nil
		}
		req, err := labels.NewRequirement(r.Key, op, values)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reqs = append(reqs, *req)
	}
	return reqs, utilerrors.NewAggregate(errs)
}

// fieldRequirements is labelRequirements for field selectors, which know
// only single-valued equality: In and NotIn of one value become = and !=,
// the way a parsed field selector reads.
func fieldRequirements(in []metav1.FieldSelectorRequirement) (fields.Requirements, error) {
	var reqs fields.Requirements
	var errs []error
	for _, r := range in {
		if len(r.Values) > 1 {
			errs = append(errs, fmt.Errorf("fieldSelectors do not yet support multiple values"))
			continue
		}
		switch r.Operator {
		case metav1.FieldSelectorOpIn:
			if len(r.Values) != 1 {
				errs = append(errs, fmt.Errorf("fieldSelectors in must have one value"))
				continue
			}
			reqs = append(reqs, fields.Requirement{Field: r.Key, Operator: selection.Equals, Value: r.Values[0]})
		case metav1.FieldSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, fmt.Errorf("fieldSelectors not in must have one value"))
				continue
			}
			reqs = append(reqs, fields.Requirement{Field: r.Key, Operator: selection.NotEquals, Value: r.Values[0]})
		case metav1.FieldSelectorOpExists, metav1.FieldSelectorOpDoesNotExist:
			errs = append(errs, fmt.Errorf("fieldSelectors do not yet support %v", r.Operator))
		default:
			errs = append(errs, fmt.Errorf("%q is not a valid field selector operator", r.Operator))
		}
	}
	return reqs, utilerrors.NewAggregate(errs)
}

// evaluationError is status.evaluationError: the authorizer's own error,
// then a note for each selector that was wholly or partly ignored.
func evaluationError(authzErr error, attrs authorizer.AttributesRecord) string {
	var msgs []string
	if authzErr != nil {
		msgs = append(msgs, authzErr.Error())
	}
	ignored := func(what string, kept int) {
		if kept > 0 {
			msgs = append(msgs, "spec.resourceAttributes."+what+" partially ignored due to parse error")
		} else {
			msgs = append(msgs, "spec.resourceAttributes."+what+" ignored due to parse error")
		}
	}
	if reqs, err := attrs.GetFieldSelector(); err != nil {
		ignored("fieldSelector", len(reqs))
	}
	if reqs, err := attrs.GetLabelSelector(); err != nil {
		ignored("labelSelector", len(reqs))
	}
	return strings.Join(msgs, "; ")
}
