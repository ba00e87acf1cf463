package registry

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/skiff-dev/skiff/registry/printers"
)

// Resource describes one built-in resource and how it is stored.
type Resource struct {
	Group    string
	Name     string // plural resource name, e.g. "pods"
	Singular string
	Kind     string
	// Namespaced is true for namespace-scoped resources.
	Namespaced bool
	// Status is true when the resource has a /status subresource; writes to
	// the main resource then keep the stored status and /status keeps the spec.
	Status bool
	// Generation is true when metadata.generation counts spec changes.
	Generation bool
	ShortNames []string
	Categories []string
	// New and NewList return empty objects of the stored Go types.
	New     func() runtime.Object
	NewList func() runtime.Object
	Hooks   Hooks
	// ResetFields are the field paths writes to the main resource cannot set;
	// nil means ["status"] for resources with a status.
	ResetFields [][]string
	// StatusResetFields are the field paths a /status write cannot set; nil
	// means ["spec"].
	StatusResetFields [][]string
	// Subresources are further update-only views (such as CSR approval).
	Subresources []*Subresource
}

// GroupResource returns the group and plural name of r.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Name}
}

// Storage is the REST storage of a resource: the generic store with the
// discovery details kubectl reads (short names and categories).
type Storage struct {
	*genericregistry.Store
	res *Resource
}

// ShortNames implements rest.ShortNamesProvider.
func (s *Storage) ShortNames() []string { return s.res.ShortNames }

// Categories implements rest.CategoriesProvider.
func (s *Storage) Categories() []string { return s.res.Categories }

// NewStore builds the storage of r and of its update-only subresources
// (/status when r has one), keyed by subresource name.
func NewStore(r *Resource, optsGetter generic.RESTOptionsGetter) (*Storage, map[string]*StatusREST, error) {
	s := newStrategy(r, nil)
	store := &genericregistry.Store{
		NewFunc:                   r.New,
		NewListFunc:               r.NewList,
		DefaultQualifiedResource:  r.GroupResource(),
		SingularQualifiedResource: schema.GroupResource{Group: r.Group, Resource: r.Singular},
		PredicateFunc:             s.matcher,
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		ReturnDeletedObject:       true,
		TableConvertor:            printers.NewTableConvertor(r.GroupResource()),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: s.getAttrs}); err != nil {
		return nil, nil, fmt.Errorf("storage for %s: %w", r.GroupResource(), err)
	}
	storage := &Storage{Store: store, res: r}
	subs := r.Subresources
	if r.Status {
		subs = append([]*Subresource{statusSubresource(r)}, subs...)
	}
	rests := map[string]*StatusREST{}
	for _, sub := range subs {
		subStore := *store
		ss := newStrategy(r, sub)
		subStore.UpdateStrategy = ss
		subStore.ResetFieldsStrategy = ss
		rests[sub.Name] = &StatusREST{store: &subStore}
	}
	return storage, rests, nil
}

// NewStatusREST serves an update-only subresource from store, a copy of the
// main store with the subresource's update strategy.
func NewStatusREST(store *genericregistry.Store) *StatusREST {
	return &StatusREST{store: store}
}

// StatusREST serves an update-only subresource such as /status: get, update
// and patch of the part of the object the subresource owns.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher             = &StatusREST{}
	_ rest.ResetFieldsStrategy = &StatusREST{}
)

func (r *StatusREST) New() runtime.Object { return r.store.New() }

func (r *StatusREST) Destroy() {}

func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create their parent.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
