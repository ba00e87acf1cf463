// Package fieldlabel builds the field-label conversion functions and field
// sets behind field selectors.
//
// The API server hands every label of a field selector to the conversion
// function registered for the request's kind; a label it rejects fails the
// request. The registry then matches the converted labels against the field
// set of each object. Both sides must agree on the names, so each group
// package defines them together.
package fieldlabel

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Accepting returns a conversion that keeps the given labels unchanged and
// rejects every other label.
func Accepting(labels ...string) runtime.FieldLabelConversionFunc {
	renames := make(map[string]string, len(labels))
	for _, label := range labels {
		renames[label] = label
	}
	return Renaming(renames)
}

// Renaming returns a conversion that accepts the keys of renames and turns
// each into the field name the registry's field set uses.
func Renaming(renames map[string]string) runtime.FieldLabelConversionFunc {
	return func(label, value string) (string, string, error) {
		field, ok := renames[label]
		if !ok {
			return "", "", fmt.Errorf("field label not supported: %s", label)
		}
		return field, value, nil
	}
}

// Register registers fn for the kind in its external version and, because
// skiff's internal version is the same Go type with the same field names, in
// its group's internal version too.
func Register(s *runtime.Scheme, gvk schema.GroupVersionKind, fn runtime.FieldLabelConversionFunc) error {
	internal := schema.GroupVersionKind{Group: gvk.Group, Version: runtime.APIVersionInternal, Kind: gvk.Kind}
	for _, kind := range []schema.GroupVersionKind{gvk, internal} {
		if err := s.AddFieldLabelConversionFunc(kind, fn); err != nil {
			return fmt.Errorf("registering field labels of %v: %w", kind, err)
		}
	}
	return nil
}

// ObjectMeta returns the fields every object can be selected by: its name
// and, for namespaced kinds, its namespace.
func ObjectMeta(meta *metav1.ObjectMeta, namespaced bool) fields.Set {
	set := fields.Set{"metadata.name": meta.Name}
	if namespaced {
		set["metadata.namespace"] = meta.Namespace
	}
	return set
}

// With returns the object-meta fields of meta merged with specific.
func With(meta *metav1.ObjectMeta, namespaced bool, specific fields.Set) fields.Set {
	set := ObjectMeta(meta, namespaced)
	for k, v := range specific {
		set[k] = v
	}
	return set
}
