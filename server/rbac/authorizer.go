package rbac

import (
	"context"
	"fmt"
	"sync/atomic"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
)

// Authorizer allows what the RBAC objects grant and has no opinion on the
// rest. It is also the rule resolver behind SelfSubjectRulesReviews.
//
// The server configures authorization before its informer factory exists,
// so the listers are supplied later with Use; until then it grants nothing.
type Authorizer struct {
	listers atomic.Pointer[Listers]
}

var (
	_ authorizer.Authorizer   = (*Authorizer)(nil)
	_ authorizer.RuleResolver = (*Authorizer)(nil)
)

// New returns an authorizer reading from l, or, when l is nil, one waiting
// for Use.
func New(l *Listers) *Authorizer {
	a := &Authorizer{}
	if l != nil {
		a.listers.Store(l)
	}
	return a
}

// Use points the authorizer at the RBAC informers of f. Call it before f is
// started, so that the informers it asks for are started too.
func (a *Authorizer) Use(f informers.SharedInformerFactory) {
	v := f.Rbac().V1()
	a.listers.Store(&Listers{
		Roles:               v.Roles().Lister(),
		RoleBindings:        v.RoleBindings().Lister(),
		ClusterRoles:        v.ClusterRoles().Lister(),
		ClusterRoleBindings: v.ClusterRoleBindings().Lister(),
	})
}

func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	l := a.listers.Load()
	if l == nil {
		return authorizer.DecisionNoOpinion, "", nil
	}
	var (
		allowedBy fmt.Stringer
		errs      []error
	)
	l.visitRules(attrs.GetUser(), attrs.GetNamespace(), func(src fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil && ruleAllows(attrs, rule) {
			allowedBy = src
			return false
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if allowedBy != nil {
		return authorizer.DecisionAllow, fmt.Sprintf("RBAC: allowed by %s", allowedBy), nil
	}
	// Failures to resolve a role are the reason, not an error: another
	// authorizer in the chain may still allow the request.
	reason := ""
	if len(errs) > 0 {
		reason = fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs))
	}
	return authorizer.DecisionNoOpinion, reason, nil
}

// Rules lists every policy rule that applies to u in namespace, with the
// errors met resolving role references.
func (a *Authorizer) Rules(u user.Info, namespace string) ([]rbacv1.PolicyRule, error) {
	l := a.listers.Load()
	if l == nil {
		return nil, nil
	}
	var (
		rules []rbacv1.PolicyRule
		errs  []error
	)
	l.visitRules(u, namespace, func(_ fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// RulesFor splits the rules into resource and non-resource parts; the
// result is never incomplete, errors being reported alongside instead.
func (a *Authorizer) RulesFor(ctx context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	rules, err := a.Rules(u, namespace)
	var (
		res    []authorizer.ResourceRuleInfo
		nonRes []authorizer.NonResourceRuleInfo
	)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			res = append(res, &authorizer.DefaultResourceRuleInfo{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			nonRes = append(nonRes, &authorizer.DefaultNonResourceRuleInfo{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	return res, nonRes, false, err
}

// ConditionsAwareAuthorize is Authorize: RBAC rules carry no conditions.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions fails closed, as an authorizer without conditions must.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
