// Package validation checks built-in objects the way the Kubernetes 1.37 API
// server does: same rules, same field paths, same messages. It works on the
// k8s.io/api types directly because skiff has no internal API types.
//
// Upstream validates in two layers: hand-written rules
// (k8s.io/kubernetes/pkg/apis/<group>/validation) and declarative rules
// generated from +k8s tags on the API types. Both run here; the declarative
// layer lives in the declarative/ sub-packages and is merged the way
// k8s.io/apiserver's rest.ValidateDeclarativelyWithMigrationChecks merges it,
// so registry strategies must not run declarative validation a second time.
package validation

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validate"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateObject validates a new object (create). obj must already be
// defaulted. Types without hand-written rules here get their metadata and
// their declarative rules, if any, checked.
func ValidateObject(obj runtime.Object) field.ErrorList {
	if v, ok := lookup(obj); ok && v.create != nil {
		return withDeclarative(v.create(obj), obj, nil, false)
	}
	return withDeclarative(validateUnknownMeta(obj, nil), obj, nil, false)
}

// ValidateObjectUpdate validates an update of old to obj through the main
// resource: metadata update rules, immutable fields and the object itself.
func ValidateObjectUpdate(obj, old runtime.Object) field.ErrorList {
	if v, ok := lookup(obj); ok && v.update != nil {
		return withDeclarative(v.update(obj, old), obj, old, false)
	}
	return withDeclarative(validateUnknownMeta(obj, old), obj, old, false)
}

// ValidateStatusUpdate validates an update of old to obj through the /status
// subresource.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	if v, ok := lookup(obj); ok {
		if v.status != nil {
			return withDeclarative(v.status(obj, old), obj, old, true)
		}
		if v.update != nil {
			return withDeclarative(v.update(obj, old), obj, old, true)
		}
	}
	return withDeclarative(validateUnknownMeta(obj, old), obj, old, true)
}

// validator is the hand-written validation of one kind.
type validator struct {
	create func(obj runtime.Object) field.ErrorList
	update func(obj, old runtime.Object) field.ErrorList
	status func(obj, old runtime.Object) field.ErrorList
}

// typed adapts kind-specific functions to a validator. A nil function leaves
// that operation unvalidated beyond metadata.
func typed[T runtime.Object](create func(T) field.ErrorList, update, status func(T, T) field.ErrorList) validator {
	var v validator
	if create != nil {
		v.create = func(obj runtime.Object) field.ErrorList { return create(obj.(T)) }
	}
	if update != nil {
		v.update = func(obj, old runtime.Object) field.ErrorList {
			o, ok := old.(T)
			if !ok {
				return field.ErrorList{field.InternalError(nil, errMismatchedTypes(obj, old))}
			}
			return update(obj.(T), o)
		}
	}
	if status != nil {
		v.status = func(obj, old runtime.Object) field.ErrorList {
			o, ok := old.(T)
			if !ok {
				return field.ErrorList{field.InternalError(nil, errMismatchedTypes(obj, old))}
			}
			return status(obj.(T), o)
		}
	}
	return v
}

// validateUnknownMeta checks the metadata of an object of a kind this package
// has no rules for. Its scope is unknown, so a namespace is validated only when
// one is set.
func validateUnknownMeta(obj, old runtime.Object) field.ErrorList {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	fldPath := field.NewPath("metadata")
	if old != nil {
		oldAccessor, err := meta.Accessor(old)
		if err != nil {
			return nil
		}
		return validateMetaAccessorUpdate(accessor, oldAccessor, fldPath)
	}
	return validateMetaAccessor(accessor, accessor.GetNamespace() != "", nameIsDNSSubdomain, fldPath)
}

// declarativeOptions are the validation options the generated code of the
// served types refers to, set as the 1.37 feature gates default them.
var declarativeOptions = map[string]bool{
	"HPAScaleToZero": true,
	"InPlacePodVerticalScalingSchedulerPreemption": false,
	"WorkloadWithJob":             false,
	"DRAPartitionableDevicesType": false,
}

// withDeclarative merges the declarative validation of obj into the
// hand-written errors: enforced declarative errors (standard and beta) are
// appended, and hand-written errors they cover are dropped.
func withDeclarative(errs field.ErrorList, obj, old runtime.Object, status bool) field.ErrorList {
	subresource := ""
	if status {
		subresource = "status"
	}
	return withDeclarativeSubresource(errs, obj, old, subresource)
}

// withDeclarativeSubresource is withDeclarative for a request to the named
// subresource ("" for the main resource).
func withDeclarativeSubresource(errs field.ErrorList, obj, old runtime.Object, subresource string) field.ErrorList {
	ctx := context.Background()
	var subresources []string
	if subresource != "" {
		subresources = []string{subresource}
	}
	// Every upstream strategy opts into declarative validation, so the merge
	// below (which also drops duplicate messages) runs even for kinds with no
	// generated rules.
	var dvErrs field.ErrorList
	switch {
	case !declarativeScheme.HasValidationFunc(obj):
	case old == nil:
		dvErrs = declarativeScheme.Validate(ctx, declarativeOptions, obj, subresources...)
	default:
		dvErrs = declarativeScheme.ValidateUpdate(ctx, declarativeOptions, obj, old, subresources...)
	}
	// A kind whose generated code knows no path for the subresource has no
	// rules for it.
	if subresource != "" && len(dvErrs) == 1 && dvErrs[0].Type == field.ErrorTypeInternal && strings.Contains(dvErrs[0].Detail, "no validation found") {
		dvErrs = nil
	}
	const betaEnabled = true
	enforced := validate.FilterEnforcedDeclarativeErrors(ctx, dvErrs, betaEnabled)
	errs = validate.FilterCoveredHandwrittenErrors(ctx, errs.MarkFromImperative(), enforced, betaEnabled)
	return append(errs, enforced...)
}
