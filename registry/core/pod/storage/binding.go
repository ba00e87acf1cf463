package storage

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"

	"github.com/skiff-dev/skiff/apis/validation"
	"github.com/skiff-dev/skiff/registry/core/pod"
)

var podsResource = schema.GroupResource{Resource: "pods"}

// BindingREST serves pods/binding: the scheduler's way to put a pod on a node.
type BindingREST struct {
	store *genericregistry.Store
}

var (
	_ rest.NamedCreater                   = &BindingREST{}
	_ rest.SubresourceObjectMetaPreserver = &BindingREST{}
)

func (r *BindingREST) NamespaceScoped() bool { return true }
func (r *BindingREST) New() runtime.Object   { return &corev1.Binding{} }
func (r *BindingREST) Destroy()              {}

// PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate keeps the UID and
// resourceVersion of the Binding: they are preconditions on the pod.
func (r *BindingREST) PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate() bool { return true }

// Create binds the pod to the Binding's target node.
func (r *BindingREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	binding, ok := obj.(*corev1.Binding)
	if !ok {
		return nil, errors.NewBadRequest(fmt.Sprintf("not a Binding object: %#v", obj))
	}
	if name != binding.Name {
		return nil, errors.NewBadRequest("name in URL does not match name in Binding object")
	}
	if errs := validation.ValidateBinding(binding); len(errs) != 0 {
		return nil, errs.ToAggregate()
	}
	if createValidation != nil {
		if err := createValidation(ctx, binding.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if err := r.assign(ctx, binding, dryrun.IsDryRun(options.DryRun)); err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// assign sets the pod's node if it has none, with the Binding's annotations
// and labels, and marks it scheduled. Any failure that is not already an API
// status is reported as a conflict on pods/binding, as schedulers expect.
func (r *BindingREST) assign(ctx context.Context, b *corev1.Binding, dryRun bool) error {
	err := r.setNode(ctx, b, dryRun)
	if err == nil {
		return nil
	}
	err = storeerr.InterpretGetError(err, podsResource, b.Name)
	err = storeerr.InterpretUpdateError(err, podsResource, b.Name)
	if _, ok := err.(*errors.StatusError); !ok {
		err = errors.NewConflict(schema.GroupResource{Resource: "pods/binding"}, b.Name, err)
	}
	return err
}

func (r *BindingREST) setNode(ctx context.Context, b *corev1.Binding, dryRun bool) error {
	key, err := r.store.KeyFunc(ctx, b.Name)
	if err != nil {
		return err
	}
	var preconditions *storage.Preconditions
	if b.UID != "" || b.ResourceVersion != "" {
		preconditions = &storage.Preconditions{}
		if b.UID != "" {
			uid := b.UID
			preconditions.UID = &uid
		}
		if b.ResourceVersion != "" {
			rv := b.ResourceVersion
			preconditions.ResourceVersion = &rv
		}
	}
	return r.store.Storage.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, preconditions, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return nil, fmt.Errorf("unexpected object: %#v", obj)
		}
		if p.DeletionTimestamp != nil {
			return nil, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", p.Name)
		}
		if p.Spec.NodeName != "" {
			return nil, fmt.Errorf("pod %v is already assigned to node %q", p.Name, p.Spec.NodeName)
		}
		if len(p.Spec.SchedulingGates) != 0 {
			return nil, fmt.Errorf("pod %v has non-empty .spec.schedulingGates", p.Name)
		}
		p.Spec.NodeName = b.Target.Name
		// A nomination is stale once the pod is bound
		// (ClearingNominatedNodeNameAfterBinding, on in 1.37).
		p.Status.NominatedNodeName = ""
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		for k, v := range b.Annotations {
			p.Annotations[k] = v
		}
		// This write bypasses the pod strategy, which would drop these.
		pod.DropInitContainerAnnotations(p.Annotations)
		// Topology labels copied by admission onto the Binding win over the
		// pod's (PodTopologyLabelsAdmission, on in 1.37).
		if len(b.Labels) > 0 {
			if p.Labels == nil {
				p.Labels = map[string]string{}
			}
			for k, v := range b.Labels {
				p.Labels[k] = v
			}
		}
		pod.UpdateCondition(&p.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
		return p, nil
	}), dryRun, nil)
}

// LegacyBindingREST serves the top-level bindings resource of core/v1, the
// original form of pods/binding.
type LegacyBindingREST struct {
	binding *BindingREST
}

var _ rest.Creater = &LegacyBindingREST{}

func (r *LegacyBindingREST) NamespaceScoped() bool   { return true }
func (r *LegacyBindingREST) New() runtime.Object     { return &corev1.Binding{} }
func (r *LegacyBindingREST) Destroy()                {}
func (r *LegacyBindingREST) GetSingularName() string { return "binding" }

func (r *LegacyBindingREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, errors.NewBadRequest(fmt.Sprintf("not a Binding object: %T", obj))
	}
	return r.binding.Create(ctx, m.GetName(), obj, createValidation, options)
}
