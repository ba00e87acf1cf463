package registry

import (
	"context"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/skiff-dev/skiff/registry/printers"
)

// ComponentCheck reports the health of one control-plane component: a
// message when healthy, an error when not.
type ComponentCheck func(ctx context.Context) (message string, err error)

// ComponentStatusExtra serves the (deprecated, read-only) componentstatuses
// resource from checks, keyed by component name.
func ComponentStatusExtra(checks map[string]ComponentCheck) Extra {
	return func(_ map[string]*Storage, add func(schema.GroupVersion, string, rest.Storage)) error {
		add(schema.GroupVersion{Version: "v1"}, "componentstatuses", &componentStatusREST{
			checks:         checks,
			TableConvertor: printers.NewTableConvertor(schema.GroupResource{Resource: "componentstatuses"}),
		})
		return nil
	}
}

type componentStatusREST struct {
	checks map[string]ComponentCheck
	rest.TableConvertor
}

var (
	_ rest.Getter             = &componentStatusREST{}
	_ rest.Lister             = &componentStatusREST{}
	_ rest.ShortNamesProvider = &componentStatusREST{}
)

func (r *componentStatusREST) New() runtime.Object     { return &corev1.ComponentStatus{} }
func (r *componentStatusREST) NewList() runtime.Object { return &corev1.ComponentStatusList{} }
func (r *componentStatusREST) Destroy()                {}
func (r *componentStatusREST) NamespaceScoped() bool   { return false }
func (r *componentStatusREST) ShortNames() []string    { return []string{"cs"} }
func (r *componentStatusREST) GetSingularName() string { return "componentstatus" }

func (r *componentStatusREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	check, ok := r.checks[name]
	if !ok {
		return nil, errors.NewNotFound(schema.GroupResource{Resource: "componentstatus"}, name)
	}
	return componentStatus(ctx, name, check), nil
}

// List checks every component at once; as upstream, label and field
// selectors apply to name and namespace only.
func (r *componentStatusREST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	label, field := labels.Everything(), fields.Everything()
	if options != nil {
		if options.LabelSelector != nil {
			label = options.LabelSelector
		}
		if options.FieldSelector != nil {
			field = options.FieldSelector
		}
	}
	names := slices.Sorted(maps.Keys(r.checks))
	items := make([]corev1.ComponentStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { items[i] = *componentStatus(ctx, name, r.checks[name]) })
	}
	wg.Wait()
	list := &corev1.ComponentStatusList{Items: []corev1.ComponentStatus{}}
	for _, cs := range items {
		if label.Matches(labels.Set(cs.Labels)) && field.Matches(fields.Set{"metadata.name": cs.Name, "metadata.namespace": ""}) {
			list.Items = append(list.Items, cs)
		}
	}
	return list, nil
}

func componentStatus(ctx context.Context, name string, check ComponentCheck) *corev1.ComponentStatus {
	msg, err := check(ctx)
	cond := corev1.ComponentCondition{Type: corev1.ComponentHealthy, Status: corev1.ConditionTrue, Message: msg}
	if err != nil {
		cond.Status, cond.Error = corev1.ConditionFalse, err.Error()
	}
	return &corev1.ComponentStatus{ObjectMeta: metav1.ObjectMeta{Name: name}, Conditions: []corev1.ComponentCondition{cond}}
}
