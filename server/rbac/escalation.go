package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// fullAuthority is what setting an aggregationRule requires: an
// aggregated role can gather any permission.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// escalationAllowed: system:masters may do anything, and the server's own
// loopback requests are made as a member.
func escalationAllowed(ctx context.Context) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	return ok && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup)
}

// escalateAuthorized reports whether the caller holds the "escalate" verb on
// the role being written.
func escalateAuthorized(ctx context.Context, a authorizer.Authorizer) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false
	}
	info, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok || !info.IsResourceRequest || info.APIGroup != rbacv1.GroupName || (info.Resource != "roles" && info.Resource != "clusterroles") {
		return false
	}
	d, _, _ := a.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: "escalate", APIGroup: info.APIGroup, APIVersion: "*", Resource: info.Resource,
		Name: info.Name, Namespace: info.Namespace, ResourceRequest: true,
	})
	return d == authorizer.DecisionAllow
}

// bindAuthorized reports whether the caller holds the "bind" verb on the
// role a binding in namespace refers to.
func bindAuthorized(ctx context.Context, a authorizer.Authorizer, ref rbacv1.RoleRef, namespace string) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "bind", Namespace: namespace, APIGroup: ref.APIGroup, APIVersion: "*", Name: ref.Name, ResourceRequest: true}
	switch ref.Kind {
	case "ClusterRole":
		attrs.Resource = "clusterroles"
	case "Role":
		attrs.Resource = "roles"
	default:
		return false
	}
	d, _, _ := a.Authorize(ctx, attrs)
	return d == authorizer.DecisionAllow
}

// confirmNoEscalation fails unless the caller already holds every
// permission in rules, in the namespace of the request.
func (a *Authorizer) confirmNoEscalation(ctx context.Context, rules []rbacv1.PolicyRule) error {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return errors.New("no user on context")
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	owned, resolveErr := a.Rules(u, namespace)
	covers, missing := validation.Covers(owned, rules)
	if covers {
		return nil
	}
	var descs []string
	for _, r := range compactRules(missing) {
		d := compactString(r)
		if !slices.Contains(descs, d) {
			descs = append(descs, d)
		}
	}
	slices.Sort(descs)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.GetName(), u.GetGroups(), strings.Join(descs, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return errors.New(msg)
}

// compactRules merges the verbs of rules that name one resource of one
// group (and at most one resource name), so that the missing permissions
// read as upstream lists them.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct {
		group, resource string
		hasName         bool
		name            string
	}
	var out []rbacv1.PolicyRule
	merged := map[key]*rbacv1.PolicyRule{}
	var order []key
	for _, r := range rules {
		simple := len(r.ResourceNames) <= 1 && len(r.NonResourceURLs) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1
		if !simple {
			out = append(out, r)
			continue
		}
		k := key{group: r.APIGroups[0], resource: r.Resources[0]}
		if len(r.ResourceNames) == 1 {
			k.hasName, k.name = true, r.ResourceNames[0]
		}
		if m, ok := merged[k]; ok {
			m.Verbs = append(m.Verbs, r.Verbs...)
			continue
		}
		merged[k] = r.DeepCopy()
		order = append(order, k)
	}
	for _, k := range order {
		out = append(out, *merged[k])
	}
	return out
}

// compactString is the rule's description in escalation errors.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, v))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

// onlyGCFields reports whether an update changes nothing but owner
// references, finalizers and managed fields, which the garbage collector
// must be able to change whatever the caller's permissions.
func onlyGCFields(obj, old runtime.Object) bool {
	if old == nil {
		return false
	}
	c := obj.DeepCopyObject()
	cm, err := meta.Accessor(c)
	if err != nil {
		return false
	}
	om, err := meta.Accessor(old)
	if err != nil {
		return false
	}
	cm.SetOwnerReferences(om.GetOwnerReferences())
	cm.SetFinalizers(om.GetFinalizers())
	cm.SetSelfLink(om.GetSelfLink())
	cm.SetManagedFields(om.GetManagedFields())
	return equality.Semantic.DeepEqual(c, old)
}
