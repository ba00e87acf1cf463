package namespace

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storageerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/registry"
	"github.com/skiff-dev/skiff/registry/printers"
)

var namespacesResource = schema.GroupResource{Resource: "namespaces"}

// Extra serves namespaces, namespaces/status and namespaces/finalize in place
// of the generic storage registry.APIGroups would give them.
func Extra(optsGetter generic.RESTOptionsGetter) registry.Extra {
	return func(_ map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
		store, status, finalize, err := NewREST(optsGetter)
		if err != nil {
			return err
		}
		gv := corev1.SchemeGroupVersion
		add(gv, "namespaces", store)
		add(gv, "namespaces/status", status)
		add(gv, "namespaces/finalize", finalize)
		return nil
	}
}

// REST is the storage of namespaces. It deliberately exposes no
// DeleteCollection, as upstream does not: emptying a namespace takes the
// namespace controller, one namespace at a time.
type REST struct {
	store *genericregistry.Store
}

// FinalizeREST serves namespaces/finalize. It has no Get, so the only verb is
// update, as upstream.
type FinalizeREST struct {
	store *genericregistry.Store
}

// NewREST builds the storage of namespaces and of their status and finalize
// subresources over one underlying store.
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, *registry.StatusREST, *FinalizeREST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &corev1.Namespace{} },
		NewListFunc:               func() runtime.Object { return &corev1.NamespaceList{} },
		PredicateFunc:             matchNamespace,
		DefaultQualifiedResource:  namespacesResource,
		SingularQualifiedResource: schema.GroupResource{Resource: "namespace"},

		CreateStrategy:      nsStrategy,
		UpdateStrategy:      nsStrategy,
		DeleteStrategy:      nsStrategy,
		ResetFieldsStrategy: nsStrategy,
		ReturnDeletedObject: true,

		ShouldDeleteDuringUpdate: shouldDeleteDuringUpdate,

		TableConvertor: printers.NewTableConvertor(namespacesResource),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: getAttrs}); err != nil {
		return nil, nil, nil, fmt.Errorf("storage for namespaces: %w", err)
	}

	statusStore := *store
	statusStore.UpdateStrategy = statusStrategy{nsStrategy}
	statusStore.ResetFieldsStrategy = statusStrategy{nsStrategy}

	finalizeStore := *store
	finalizeStore.UpdateStrategy = finalizeStrategy{nsStrategy}
	finalizeStore.ResetFieldsStrategy = finalizeStrategy{nsStrategy}

	return &REST{store: store}, registry.NewStatusREST(&statusStore), &FinalizeREST{store: &finalizeStore}, nil
}

// shouldDeleteDuringUpdate removes a namespace from storage on the update that
// leaves it deleted with neither metadata nor spec finalizers: normally the
// namespace controller's call to /finalize.
func shouldDeleteDuringUpdate(ctx context.Context, key string, obj, existing runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return false
	}
	return len(ns.Spec.Finalizers) == 0 && genericregistry.ShouldDeleteDuringUpdate(ctx, key, obj, existing)
}

var (
	_ rest.Creater                = &REST{}
	_ rest.Lister                 = &REST{}
	_ rest.Getter                 = &REST{}
	_ rest.Updater                = &REST{}
	_ rest.GracefulDeleter        = &REST{}
	_ rest.Watcher                = &REST{}
	_ rest.Scoper                 = &REST{}
	_ rest.ShortNamesProvider     = &REST{}
	_ rest.SingularNameProvider   = &REST{}
	_ rest.StorageVersionProvider = &REST{}
	_ rest.ResetFieldsStrategy    = &REST{}
	_ rest.Updater                = &FinalizeREST{}
	_ rest.ResetFieldsStrategy    = &FinalizeREST{}
)

func (r *REST) New() runtime.Object { return r.store.New() }

func (r *REST) NewList() runtime.Object { return r.store.NewList() }

func (r *REST) Destroy() { r.store.Destroy() }

func (r *REST) NamespaceScoped() bool { return false }

func (r *REST) GetSingularName() string { return r.store.GetSingularName() }

func (r *REST) ShortNames() []string { return []string{"ns"} }

func (r *REST) StorageVersion() runtime.GroupVersioner { return r.store.StorageVersion() }

func (r *REST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

func (r *REST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.store.List(ctx, options)
}

func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.store.Watch(ctx, options)
}

func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.store.Create(ctx, obj, createValidation, options)
}

func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// Delete starts the termination of a namespace rather than removing it. The
// first delete sets deletionTimestamp and the Terminating phase and returns
// the namespace; the namespace controller then empties it. A later delete
// removes it from storage only once nothing holds spec.finalizers.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)

	// Pinning the UID makes sure a namespace recreated under the same name
	// in the meantime is not the one marked for deletion.
	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if options.Preconditions == nil {
		options.Preconditions = &metav1.Preconditions{}
	}
	if options.Preconditions.UID == nil {
		options.Preconditions.UID = &ns.UID
	} else if *options.Preconditions.UID != ns.UID {
		return nil, false, apierrors.NewConflict(namespacesResource, name,
			fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
	}
	if rv := options.Preconditions.ResourceVersion; rv != nil && *rv != ns.ResourceVersion {
		return nil, false, apierrors.NewConflict(namespacesResource, name,
			fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *rv, ns.ResourceVersion))
	}

	if ns.DeletionTimestamp.IsZero() {
		return r.startTermination(ctx, name, deleteValidation, options)
	}
	if len(ns.Spec.Finalizers) != 0 {
		return ns, false, nil
	}
	return r.store.Delete(ctx, name, deleteValidation, options)
}

// startTermination marks the namespace deleted and Terminating, and records
// in metadata.finalizers whether the garbage collector must orphan or delete
// the namespace's dependents first.
func (r *REST) startTermination(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	key, err := r.store.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	preconditions := storage.Preconditions{UID: options.Preconditions.UID, ResourceVersion: options.Preconditions.ResourceVersion}
	out := r.store.NewFunc()
	err = r.store.Storage.GuaranteedUpdate(ctx, key, out, false, &preconditions,
		storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
			ns, ok := existing.(*corev1.Namespace)
			if !ok {
				return nil, fmt.Errorf("expected *v1.Namespace, got %T", existing)
			}
			if err := deleteValidation(ctx, ns); err != nil {
				return nil, err
			}
			if ns.DeletionTimestamp.IsZero() {
				now := metav1.Now()
				ns.DeletionTimestamp = &now
			}
			ns.Status.Phase = corev1.NamespaceTerminating
			ns.Finalizers = dependentsFinalizers(ns.Finalizers, options)
			return ns, nil
		}),
		dryrun.IsDryRun(options.DryRun), nil)
	if err != nil {
		err = storageerr.InterpretGetError(err, namespacesResource, name)
		err = storageerr.InterpretUpdateError(err, namespacesResource, name)
		if _, ok := err.(*apierrors.StatusError); !ok {
			err = apierrors.NewInternalError(err)
		}
		return nil, false, err
	}
	return out, false, nil
}

// dependentsFinalizers returns the metadata finalizers a namespace keeps
// after a delete with options: the orphan and foregroundDeletion finalizers
// follow the request's propagation policy (or the deprecated
// orphanDependents), and keep their current state when it says nothing.
func dependentsFinalizers(current []string, options *metav1.DeleteOptions) []string {
	orphan := slices.Contains(current, metav1.FinalizerOrphanDependents)
	foreground := slices.Contains(current, metav1.FinalizerDeleteDependents)
	//nolint:staticcheck // orphanDependents is deprecated but still honoured.
	switch {
	case options.OrphanDependents != nil:
		orphan, foreground = *options.OrphanDependents, !*options.OrphanDependents
	case options.PropagationPolicy != nil:
		orphan = *options.PropagationPolicy == metav1.DeletePropagationOrphan
		foreground = *options.PropagationPolicy == metav1.DeletePropagationForeground
	}
	if orphan == slices.Contains(current, metav1.FinalizerOrphanDependents) &&
		foreground == slices.Contains(current, metav1.FinalizerDeleteDependents) {
		return current
	}
	out := make([]string, 0, len(current)+1)
	for _, f := range current {
		if f != metav1.FinalizerOrphanDependents && f != metav1.FinalizerDeleteDependents {
			out = append(out, f)
		}
	}
	if orphan {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	return out
}

func (r *FinalizeREST) New() runtime.Object { return r.store.New() }

// Destroy does nothing: the store is shared with REST, which destroys it.
func (r *FinalizeREST) Destroy() {}

func (r *FinalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *FinalizeREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}
