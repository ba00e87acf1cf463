package auth

import (
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The rules are those of k8s.io/kubernetes/pkg/apis/authorization/validation.
// The declarative rules generated for these types (the spec union and the
// optional attribute pointers) are all alpha in 1.37 and never enforced, so
// the hand-written rules alone decide.

const unionDetail = `exactly one of nonResourceAttributes or resourceAttributes must be specified`

// nonResourceValue is NonResourceAttributes as upstream's internal type
// prints in an error: that type has no JSON tags, so a bad value reads
// {"Path":"/x","Verb":"get"}, and a missing one null.
type nonResourceValue struct {
	Path string
	Verb string
}

func badNonResource(in *authorizationv1.NonResourceAttributes) *nonResourceValue {
	if in == nil {
		return nil
	}
	return &nonResourceValue{Path: in.Path, Verb: in.Verb}
}

// validateAttributesUnion requires exactly one of resource and non-resource
// attributes.
func validateAttributesUnion(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes, fldPath *field.Path) field.ErrorList {
	if (ra == nil) == (nra == nil) {
		return field.ErrorList{field.Invalid(fldPath, badNonResource(nra), unionDetail).WithOrigin("union")}
	}
	return nil
}

func validateSubjectAccessReviewSpec(spec authorizationv1.SubjectAccessReviewSpec, fldPath *field.Path) field.ErrorList {
	errs := validateAttributesUnion(spec.ResourceAttributes, spec.NonResourceAttributes, fldPath)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(fldPath.Child("user"), spec.User, `at least one of user or group must be specified`))
	}
	return append(errs, validateResourceAttributes(spec.ResourceAttributes, field.NewPath("spec.resourceAttributes"))...)
}

// metaIsEmpty reports whether meta carries nothing but what the server
// itself adds on every write (managed fields) and, where allowed, a
// namespace.
func metaIsEmpty(meta metav1.ObjectMeta, allowNamespace bool) bool {
	meta.ManagedFields = nil
	if allowNamespace {
		meta.Namespace = ""
	}
	return apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, meta)
}

func validateSubjectAccessReview(sar *authorizationv1.SubjectAccessReview) field.ErrorList {
	errs := validateSubjectAccessReviewSpec(sar.Spec, field.NewPath("spec"))
	if !metaIsEmpty(sar.ObjectMeta, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty`))
	}
	return errs
}

func validateSelfSubjectAccessReview(sar *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	spec := sar.Spec
	errs := validateAttributesUnion(spec.ResourceAttributes, spec.NonResourceAttributes, field.NewPath("spec"))
	errs = append(errs, validateResourceAttributes(spec.ResourceAttributes, field.NewPath("spec.resourceAttributes"))...)
	if !metaIsEmpty(sar.ObjectMeta, false) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty`))
	}
	return errs
}

func validateLocalSubjectAccessReview(sar *authorizationv1.LocalSubjectAccessReview) field.ErrorList {
	errs := validateSubjectAccessReviewSpec(sar.Spec, field.NewPath("spec"))
	if !metaIsEmpty(sar.ObjectMeta, true) {
		errs = append(errs, field.Invalid(field.NewPath("metadata"), sar.ObjectMeta, `must be empty except for namespace`))
	}
	if ra := sar.Spec.ResourceAttributes; ra != nil && ra.Namespace != sar.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, `must match metadata.namespace`))
	}
	if nra := sar.Spec.NonResourceAttributes; nra != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), badNonResource(nra), `disallowed on this kind of request`))
	}
	return errs
}

func validateResourceAttributes(ra *authorizationv1.ResourceAttributes, fldPath *field.Path) field.ErrorList {
	if ra == nil {
		return nil
	}
	var errs field.ErrorList
	if sel := ra.FieldSelector; sel != nil {
		p := fldPath.Child("fieldSelector")
		errs = append(errs, validateSelectorForms(sel.RawSelector, len(sel.Requirements), p)...)
		// Unknown operators pass: a newer client may ask about one this
		// server cannot interpret, and the question is then only broader.
		opts := metav1validation.FieldSelectorValidationOptions{AllowUnknownOperatorInRequirement: true}
		for i, r := range sel.Requirements {
			errs = append(errs, metav1validation.ValidateFieldSelectorRequirement(r, opts, p.Child("requirements").Index(i))...)
		}
	}
	if sel := ra.LabelSelector; sel != nil {
		p := fldPath.Child("labelSelector")
		errs = append(errs, validateSelectorForms(sel.RawSelector, len(sel.Requirements), p)...)
		opts := metav1validation.LabelSelectorValidationOptions{AllowUnknownOperatorInRequirement: true}
		for i, r := range sel.Requirements {
			errs = append(errs, metav1validation.ValidateLabelSelectorRequirement(r, opts, p.Child("requirements").Index(i))...)
		}
	}
	return errs
}

// validateSelectorForms requires exactly one of a raw selector and
// structured requirements.
func validateSelectorForms(raw string, requirements int, fldPath *field.Path) field.ErrorList {
	switch {
	case raw != "" && requirements > 0:
		// "may not specified" is upstream's wording.
		return field.ErrorList{field.Invalid(fldPath.Child("rawSelector"), raw, "may not specified at the same time as requirements")}
	case raw == "" && requirements == 0:
		return field.ErrorList{field.Required(fldPath.Child("requirements"), fmt.Sprintf("when %s is specified, requirements or rawSelector is required", fldPath))}
	}
	return nil
}
