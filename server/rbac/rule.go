// Package rbac authorizes requests with the RBAC API objects, as Kubernetes'
// RBAC authorizer does, and keeps the default roles and bindings in place.
package rbac

import (
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
)

// Listers are where the resolver reads roles and bindings; the informers of
// the server's shared factory in production, fixed lists in tests.
type Listers struct {
	Roles               rbaclisters.RoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// visitor sees each rule granted to a user, with the binding that grants it,
// or an error met on the way; it returns false to stop the walk.
type visitor func(source fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool

// visitRules walks the rules of the cluster role bindings and then of the
// role bindings in namespace that apply to u, in upstream's order, so that
// the first allowing binding named in a reason is the one upstream names.
func (l *Listers) visitRules(u user.Info, namespace string, visit visitor) {
	crbs, err := l.ClusterRoleBindings.List(labels.Everything())
	if err != nil {
		if !visit(nil, nil, err) {
			return
		}
	} else {
		for _, b := range crbs {
			i, ok := appliesTo(u, b.Subjects, "")
			if !ok {
				continue
			}
			rules, err := l.roleRefRules(b.RoleRef, "")
			if err != nil {
				if !visit(nil, nil, err) {
					return
				}
				continue
			}
			src := bindingSource{kind: "ClusterRoleBinding", name: b.Name, ref: b.RoleRef, subject: b.Subjects[i]}
			for j := range rules {
				if !visit(src, &rules[j], nil) {
					return
				}
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := l.RoleBindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil {
		visit(nil, nil, err)
		return
	}
	for _, b := range rbs {
		i, ok := appliesTo(u, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, err := l.roleRefRules(b.RoleRef, namespace)
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		src := bindingSource{kind: "RoleBinding", name: b.Name + "/" + b.Namespace, ns: b.Namespace, ref: b.RoleRef, subject: b.Subjects[i]}
		for j := range rules {
			if !visit(src, &rules[j], nil) {
				return
			}
		}
	}
}

func (l *Listers) roleRefRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		if namespace == "" {
			return nil, errors.New("must provide namespace when getting role")
		}
		r, err := l.Roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "ClusterRole":
		r, err := l.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// bindingSource names the binding that grants a rule, in the words upstream
// uses in "RBAC: allowed by ..." reasons.
type bindingSource struct {
	kind, name, ns string
	ref            rbacv1.RoleRef
	subject        rbacv1.Subject
}

func (s bindingSource) String() string {
	subject := fmt.Sprintf("%s %q", s.subject.Kind, s.subject.Name)
	if s.subject.Kind == rbacv1.ServiceAccountKind {
		ns := s.subject.Namespace
		if ns == "" {
			ns = s.ns
		}
		subject = fmt.Sprintf("%s %q", s.subject.Kind, s.subject.Name+"/"+ns)
	}
	return fmt.Sprintf("%s %q of %s %q to %s", s.kind, s.name, s.ref.Kind, s.ref.Name, subject)
}

func appliesTo(u user.Info, subjects []rbacv1.Subject, namespace string) (int, bool) {
	for i, s := range subjects {
		if subjectMatches(u, s, namespace) {
			return i, true
		}
	}
	return 0, false
}

// subjectMatches lets a service account subject without a namespace stand
// for the account of that name in the binding's namespace, as upstream does.
func subjectMatches(u user.Info, s rbacv1.Subject, namespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.GetName() == s.Name
	case rbacv1.GroupKind:
		for _, g := range u.GetGroups() {
			if g == s.Name {
				return true
			}
		}
		return false
	case rbacv1.ServiceAccountKind:
		ns := s.Namespace
		if ns == "" {
			ns = namespace
		}
		return ns != "" && serviceaccount.MatchesUsername(ns, s.Name, u.GetName())
	}
	return false
}

// ruleAllows reports whether rule grants the request described by a.
func ruleAllows(a authorizer.Attributes, rule *rbacv1.PolicyRule) bool {
	if !matchesAny(rule.Verbs, rbacv1.VerbAll, a.GetVerb()) {
		return false
	}
	if !a.IsResourceRequest() {
		return nonResourceURLMatches(rule.NonResourceURLs, a.GetPath())
	}
	resource := a.GetResource()
	if a.GetSubresource() != "" {
		resource += "/" + a.GetSubresource()
	}
	return matchesAny(rule.APIGroups, rbacv1.APIGroupAll, a.GetAPIGroup()) &&
		resourceMatches(rule.Resources, resource, a.GetSubresource()) &&
		(len(rule.ResourceNames) == 0 || matchesAny(rule.ResourceNames, "", a.GetName()))
}

func matchesAny(list []string, wildcard, want string) bool {
	for _, v := range list {
		if (wildcard != "" && v == wildcard) || v == want {
			return true
		}
	}
	return false
}

// resourceMatches also lets "*/sub" match subresource sub of any resource.
func resourceMatches(rules []string, combined, subresource string) bool {
	for _, r := range rules {
		if r == rbacv1.ResourceAll || r == combined {
			return true
		}
		if subresource != "" && r == "*/"+subresource {
			return true
		}
	}
	return false
}

// nonResourceURLMatches treats a trailing * as matching any suffix.
func nonResourceURLMatches(rules []string, path string) bool {
	for _, r := range rules {
		if r == rbacv1.NonResourceAll || r == path {
			return true
		}
		if prefix, ok := strings.CutSuffix(r, "*"); ok && strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}
