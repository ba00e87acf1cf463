package rbac

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"

	"github.com/skiff-dev/skiff/apis"
	"github.com/skiff-dev/skiff/registry"
)

// StorageExtra guards writes of roles and bindings as upstream's
// policybased storage does: nobody may grant, or bind others to, a
// permission they do not hold themselves, unless they hold "escalate" on
// the role or "bind" on the role referred to. authz is the server's whole
// authorizer chain; roles reads referred roles fresh from storage.
func StorageExtra(authz authorizer.Authorizer, rbacAuthz *Authorizer, roles rbacclient.RbacV1Interface) registry.Extra {
	return func(stores map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
		g := guard{authz: authz, rules: rbacAuthz, roles: roles}
		wrap := map[string]func(*registry.Storage) rest.Storage{
			"roles":               func(s *registry.Storage) rest.Storage { return &roleStorage{Storage: s, guard: g} },
			"clusterroles":        func(s *registry.Storage) rest.Storage { return &roleStorage{Storage: s, guard: g} },
			"rolebindings":        func(s *registry.Storage) rest.Storage { return &bindingStorage{Storage: s, guard: g} },
			"clusterrolebindings": func(s *registry.Storage) rest.Storage { return &bindingStorage{Storage: s, guard: g} },
		}
		for resource, w := range wrap {
			s, ok := stores[resource+"."+rbacv1.GroupName]
			if !ok {
				return fmt.Errorf("no storage for %s.%s", resource, rbacv1.GroupName)
			}
			for _, gv := range apis.ServedGroupVersions {
				if gv.Group == rbacv1.GroupName {
					add(gv, resource, w(s))
				}
			}
		}
		return nil
	}
}

type guard struct {
	authz authorizer.Authorizer
	rules *Authorizer
	roles rbacclient.RbacV1Interface
}

// roleRules are the rules of a role or cluster role; ok is false for
// objects of other types.
func roleRules(obj runtime.Object) (name string, rules []rbacv1.PolicyRule, aggregated bool, ok bool) {
	switch r := obj.(type) {
	case *rbacv1.Role:
		return r.Name, r.Rules, false, true
	case *rbacv1.ClusterRole:
		return r.Name, r.Rules, r.AggregationRule != nil && len(r.AggregationRule.ClusterRoleSelectors) > 0, true
	}
	return "", nil, false, false
}

// checkRole refuses a role granting more than the caller holds, and an
// aggregationRule to anyone without full authority, since it can gather
// any permission.
func (g guard) checkRole(ctx context.Context, obj, old runtime.Object) error {
	name, rules, aggregated, ok := roleRules(obj)
	if !ok {
		return fmt.Errorf("unexpected object %T", obj)
	}
	gr := rbacv1.Resource("roles")
	if _, isCluster := obj.(*rbacv1.ClusterRole); isCluster {
		gr = rbacv1.Resource("clusterroles")
	}
	if err := g.rules.confirmNoEscalation(ctx, rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	if old != nil {
		_, _, oldAggregated, _ := roleRules(old)
		aggregated = aggregated || oldAggregated
	}
	if aggregated {
		if err := g.rules.confirmNoEscalation(ctx, fullAuthority); err != nil {
			return apierrors.NewForbidden(gr, name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

// checkBinding refuses a binding to a role whose permissions the caller
// neither holds nor may bind.
func (g guard) checkBinding(ctx context.Context, obj runtime.Object) error {
	var (
		name, namespace string
		ref             rbacv1.RoleRef
		gr              schema.GroupResource
	)
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		ns, ok := genericapirequest.NamespaceFrom(ctx)
		if !ok || ns == "" {
			return apierrors.NewBadRequest("namespace is required")
		}
		name, namespace, ref, gr = b.Name, ns, b.RoleRef, rbacv1.Resource("rolebindings")
	case *rbacv1.ClusterRoleBinding:
		name, ref, gr = b.Name, b.RoleRef, rbacv1.Resource("clusterrolebindings")
	default:
		return fmt.Errorf("unexpected object %T", obj)
	}
	if bindAuthorized(ctx, g.authz, ref, namespace) {
		return nil
	}
	rules, err := g.refRules(ctx, ref, namespace)
	if apierrors.IsNotFound(err) {
		// Upstream reads the role through the binding request's context,
		// so its error names the binding's resource.
		return apierrors.NewNotFound(gr, ref.Name)
	}
	if err != nil {
		return err
	}
	if err := g.rules.confirmNoEscalation(ctx, rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	return nil
}

func (g guard) refRules(ctx context.Context, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		r, err := g.roles.Roles(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "ClusterRole":
		r, err := g.roles.ClusterRoles().Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

type roleStorage struct {
	*registry.Storage
	guard
}

func (s *roleStorage) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if !escalationAllowed(ctx) && !escalateAuthorized(ctx, s.authz) {
		if err := s.checkRole(ctx, obj, nil); err != nil {
			return nil, err
		}
	}
	return s.Storage.Create(ctx, obj, validate, options)
}

func (s *roleStorage) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if escalationAllowed(ctx) || escalateAuthorized(ctx, s.authz) {
		return s.Storage.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
	}
	checked := rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
		if onlyGCFields(obj, old) {
			return obj, nil
		}
		if err := s.checkRole(ctx, obj, old); err != nil {
			return nil, err
		}
		return obj, nil
	})
	return s.Storage.Update(ctx, name, checked, createValidation, updateValidation, forceAllowCreate, options)
}

type bindingStorage struct {
	*registry.Storage
	guard
}

func (s *bindingStorage) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if !escalationAllowed(ctx) {
		if err := s.checkBinding(ctx, obj); err != nil {
			return nil, err
		}
	}
	return s.Storage.Create(ctx, obj, validate, options)
}

func (s *bindingStorage) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if escalationAllowed(ctx) {
		return s.Storage.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
	}
	checked := rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
		if onlyGCFields(obj, old) {
			return obj, nil
		}
		if err := s.checkBinding(ctx, obj); err != nil {
			return nil, err
		}
		return obj, nil
	})
	return s.Storage.Update(ctx, name, checked, createValidation, updateValidation, forceAllowCreate, options)
}
