package registry

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/ptr"
)

// ScaleREST serves the /scale subresource of workloads with a replica count,
// always as autoscaling/v1 Scale, as upstream does.
type ScaleREST struct {
	store *genericregistry.Store
	gr    schema.GroupResource
}

// NewScaleREST returns the /scale storage on top of a workload's store.
func NewScaleREST(s *Storage) *ScaleREST {
	return &ScaleREST{store: s.Store, gr: s.res.GroupResource()}
}

var (
	_ rest.Patcher                  = &ScaleREST{}
	_ rest.GroupVersionKindProvider = &ScaleREST{}
)

func (r *ScaleREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return autoscalingv1.SchemeGroupVersion.WithKind("Scale")
}

func (r *ScaleREST) New() runtime.Object { return &autoscalingv1.Scale{} }

func (r *ScaleREST) Destroy() {}

func (r *ScaleREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, errors.NewNotFound(r.gr, name)
	}
	return scaleOf(obj)
}

func (r *ScaleREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name, &scaleUpdatedObjectInfo{name: name, inner: objInfo, gr: r.gr},
		toScaleCreateValidation(createValidation), toScaleUpdateValidation(updateValidation), false, options)
	if err != nil {
		return nil, false, err
	}
	scale, err := scaleOf(obj)
	return scale, false, err
}

func (r *ScaleREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return rest.NewDefaultTableConvertor(r.gr).ConvertToTable(ctx, object, tableOptions)
}

func toScaleCreateValidation(f rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		scale, err := scaleOf(obj)
		if err != nil {
			return err
		}
		return f(ctx, scale)
	}
}

func toScaleUpdateValidation(f rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	return func(ctx context.Context, obj, old runtime.Object) error {
		newScale, err := scaleOf(obj)
		if err != nil {
			return err
		}
		oldScale, err := scaleOf(old)
		if err != nil {
			return err
		}
		return f(ctx, newScale, oldScale)
	}
}

// scaleUpdatedObjectInfo turns an update of a Scale into an update of the
// workload that owns it.
type scaleUpdatedObjectInfo struct {
	name  string
	inner rest.UpdatedObjectInfo
	gr    schema.GroupResource
}

func (i *scaleUpdatedObjectInfo) Preconditions() *metav1.Preconditions {
	return i.inner.Preconditions()
}

func (i *scaleUpdatedObjectInfo) UpdatedObject(ctx context.Context, oldObj runtime.Object) (runtime.Object, error) {
	if oldObj == nil {
		return nil, errors.NewNotFound(i.gr, i.name)
	}
	obj := oldObj.DeepCopyObject()
	oldScale, err := scaleOf(obj)
	if err != nil {
		return nil, err
	}
	updated, err := i.inner.UpdatedObject(ctx, oldScale)
	if err != nil {
		return nil, err
	}
	scale, ok := updated.(*autoscalingv1.Scale)
	if !ok {
		return nil, errors.NewBadRequest(fmt.Sprintf("expected input object type to be Scale, but %T", updated))
	}
	if errs := validateScale(scale); len(errs) > 0 {
		return nil, errors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), scale.Name, errs)
	}
	if err := setReplicas(obj, scale.Spec.Replicas); err != nil {
		return nil, err
	}
	// The Scale's resourceVersion, when given, is a precondition on the workload.
	if scale.ResourceVersion != "" {
		if m, ok := obj.(metav1.Object); ok {
			m.SetResourceVersion(scale.ResourceVersion)
		}
	}
	return obj, nil
}

func validateScale(scale *autoscalingv1.Scale) field.ErrorList {
	var errs field.ErrorList
	if scale.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return errs
}

func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var (
		meta     metav1.ObjectMeta
		replicas int32
		status   int32
		selector string
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		meta, replicas, status = o.ObjectMeta, ptr.Deref(o.Spec.Replicas, 1), o.Status.Replicas
		selector = labelSelectorString(o.Spec.Selector)
	case *appsv1.ReplicaSet:
		meta, replicas, status = o.ObjectMeta, ptr.Deref(o.Spec.Replicas, 1), o.Status.Replicas
		selector = labelSelectorString(o.Spec.Selector)
	case *appsv1.StatefulSet:
		meta, replicas, status = o.ObjectMeta, ptr.Deref(o.Spec.Replicas, 1), o.Status.Replicas
		selector = labelSelectorString(o.Spec.Selector)
	case *corev1.ReplicationController:
		meta, replicas, status = o.ObjectMeta, ptr.Deref(o.Spec.Replicas, 1), o.Status.Replicas
		selector = labels.SelectorFromSet(o.Spec.Selector).String()
	default:
		return nil, errors.NewBadRequest(fmt.Sprintf("%T has no scale subresource", obj))
	}
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name:              meta.Name,
			Namespace:         meta.Namespace,
			UID:               meta.UID,
			ResourceVersion:   meta.ResourceVersion,
			CreationTimestamp: meta.CreationTimestamp,
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}, nil
}

func setReplicas(obj runtime.Object, n int32) error {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	default:
		return errors.NewBadRequest(fmt.Sprintf("%T has no scale subresource", obj))
	}
	return nil
}

func labelSelectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}
