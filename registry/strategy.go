// Package registry serves every built-in resource from storage: one generic
// strategy carries what upstream's per-resource strategies share (status and
// spec separation, generation, validation, field selectors), and hooks carry
// what is particular to a kind.
package registry

import (
	"context"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/apis/validation"
)

// Hooks are the parts of a resource's strategy that differ from the generic
// behaviour. Every hook is optional.
type Hooks struct {
	// PrepareForCreate runs after the generic create preparation.
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	// PrepareForUpdate runs after the generic update preparation of the main resource.
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// PrepareForStatusUpdate runs after the generic /status preparation.
	PrepareForStatusUpdate func(ctx context.Context, obj, old runtime.Object)
	// Validate adds to validation.ValidateObject on create.
	Validate func(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateUpdate adds to validation.ValidateObjectUpdate on update.
	ValidateUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// WarningsOnCreate and WarningsOnUpdate return warnings for the client.
	WarningsOnCreate func(ctx context.Context, obj runtime.Object) []string
	WarningsOnUpdate func(ctx context.Context, obj, old runtime.Object) []string
	// CheckGracefulDelete decides a graceful deletion period (see rest.RESTGracefulDeleteStrategy).
	CheckGracefulDelete func(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool
	// Fields returns the selectable fields beyond metadata.name and metadata.namespace.
	Fields func(obj runtime.Object) fields.Set
	// AllowCreateOnUpdate lets PUT create the object (as for leases and events... upstream per kind).
	AllowCreateOnUpdate bool
	// AllowUnconditionalUpdate lets PUT without a resourceVersion succeed.
	AllowUnconditionalUpdate *bool
}

// strategy implements the rest create, update, delete and reset-fields
// strategies for one resource.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	res *Resource
	// sub is the subresource this strategy serves (status, approval, ...);
	// nil for the main resource.
	sub *Subresource
}

func newStrategy(res *Resource, sub *Subresource) *strategy {
	return &strategy{ObjectTyper: apis.Scheme, NameGenerator: names.SimpleNameGenerator, res: res, sub: sub}
}

// Subresource is an update-only view of a resource that may change only part
// of it, such as /status.
type Subresource struct {
	Name string
	// PrepareForUpdate makes obj what this subresource may write, given the stored old.
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// ValidateUpdate validates the update; nil means validation.ValidateStatusUpdate.
	ValidateUpdate func(ctx context.Context, obj, old runtime.Object) field.ErrorList
	// ResetFields are the top-level field paths a write here cannot set.
	ResetFields [][]string
}

// statusSubresource is /status: everything but the spec may change.
func statusSubresource(r *Resource) *Subresource {
	reset := r.StatusResetFields
	if reset == nil {
		reset = [][]string{{"spec"}}
	}
	return &Subresource{
		Name: "status",
		PrepareForUpdate: func(ctx context.Context, obj, old runtime.Object) {
			copyField(obj, old, "Spec")
			if h := r.Hooks.PrepareForStatusUpdate; h != nil {
				h(ctx, obj, old)
			}
		},
		ResetFields: reset,
	}
}

func (s *strategy) NamespaceScoped() bool { return s.res.Namespaced }

func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.res.Status {
		resetField(obj, "Status")
	}
	if s.res.Generation {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if h := s.res.Hooks.PrepareForCreate; h != nil {
		h(ctx, obj)
	}
}

func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.sub != nil {
		s.sub.PrepareForUpdate(ctx, obj, old)
		return
	}
	if s.res.Status {
		copyField(obj, old, "Status")
	}
	if s.res.Generation {
		bumpGenerationOnSpecChange(obj, old)
	}
	if h := s.res.Hooks.PrepareForUpdate; h != nil {
		h(ctx, obj, old)
	}
}

// bumpGenerationOnSpecChange increments metadata.generation when anything
// outside metadata and status changed, as upstream strategies do for every
// kind that reports observedGeneration.
func bumpGenerationOnSpecChange(obj, old runtime.Object) {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return
	}
	if !apiequality.Semantic.DeepEqual(withoutMetaAndStatus(obj), withoutMetaAndStatus(old)) {
		newMeta.SetGeneration(oldMeta.GetGeneration() + 1)
	} else {
		newMeta.SetGeneration(oldMeta.GetGeneration())
	}
}

// withoutMetaAndStatus returns a copy of obj's struct with TypeMeta, ObjectMeta
// and Status zeroed, leaving what users think of as the object's spec.
func withoutMetaAndStatus(obj runtime.Object) any {
	v := reflect.ValueOf(obj.DeepCopyObject()).Elem()
	for _, name := range []string{"TypeMeta", "ObjectMeta", "Status"} {
		if f := v.FieldByName(name); f.IsValid() && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return v.Interface()
}

func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	errs := validation.ValidateObject(obj)
	if h := s.res.Hooks.Validate; h != nil {
		errs = append(errs, h(ctx, obj)...)
	}
	return errs
}

func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	if s.sub != nil {
		if s.sub.ValidateUpdate != nil {
			return s.sub.ValidateUpdate(ctx, obj, old)
		}
		return validation.ValidateStatusUpdate(obj, old)
	}
	errs := validation.ValidateObjectUpdate(obj, old)
	if h := s.res.Hooks.ValidateUpdate; h != nil {
		errs = append(errs, h(ctx, obj, old)...)
	}
	return errs
}

func (s *strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	if h := s.res.Hooks.WarningsOnCreate; h != nil {
		return h(ctx, obj)
	}
	return nil
}

func (s *strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	if h := s.res.Hooks.WarningsOnUpdate; h != nil && s.sub == nil {
		return h(ctx, obj, old)
	}
	return nil
}

func (s *strategy) Canonicalize(obj runtime.Object) {}

func (s *strategy) AllowCreateOnUpdate(context.Context) bool {
	return s.res.Hooks.AllowCreateOnUpdate && s.sub == nil
}

func (s *strategy) AllowUnconditionalUpdate(context.Context) bool {
	if p := s.res.Hooks.AllowUnconditionalUpdate; p != nil {
		return *p
	}
	return true
}

func (s *strategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if h := s.res.Hooks.CheckGracefulDelete; h != nil {
		return h(ctx, obj, options)
	}
	return false
}

// GetResetFields names the fields a write through this endpoint may not set,
// so server-side apply does not record them as owned.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	paths := s.res.ResetFields
	if s.sub != nil {
		paths = s.sub.ResetFields
	} else if paths == nil && s.res.Status {
		paths = [][]string{{"status"}}
	}
	if len(paths) == 0 {
		return nil
	}
	reset := fieldpath.NewSet()
	for _, p := range paths {
		elems := make([]any, len(p))
		for i, e := range p {
			elems[i] = e
		}
		reset.Insert(fieldpath.MakePathOrDie(elems...))
	}
	out := map[fieldpath.APIVersion]*fieldpath.Set{}
	for _, gv := range apis.ServedGroupVersions {
		if gv.Group == s.res.Group {
			out[fieldpath.APIVersion(gv.String())] = reset
		}
	}
	return out
}

// getAttrs returns the labels and selectable fields of obj.
func (s *strategy) getAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	fs := fields.Set{"metadata.name": m.GetName()}
	if s.res.Namespaced {
		fs["metadata.namespace"] = m.GetNamespace()
	}
	for k, v := range selectableFields(obj) {
		fs[k] = v
	}
	if h := s.res.Hooks.Fields; h != nil {
		for k, v := range h(obj) {
			fs[k] = v
		}
	}
	return labels.Set(m.GetLabels()), fs, nil
}

func (s *strategy) matcher(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: s.getAttrs}
}

// resetField sets the named struct field of obj to its zero value.
func resetField(obj runtime.Object, name string) {
	if f := reflect.ValueOf(obj).Elem().FieldByName(name); f.IsValid() && f.CanSet() {
		f.Set(reflect.Zero(f.Type()))
	}
}

// copyField sets the named struct field of obj to old's.
func copyField(obj, old runtime.Object, name string) {
	dst := reflect.ValueOf(obj).Elem().FieldByName(name)
	src := reflect.ValueOf(old).Elem().FieldByName(name)
	if dst.IsValid() && src.IsValid() && dst.CanSet() {
		dst.Set(src)
	}
}
