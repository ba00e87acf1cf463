package server

import (
	"context"
	"slices"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
)

// defaultGrants gives every caller what Kubernetes' default cluster role
// bindings give it before anyone writes RBAC objects: system:public-info-viewer
// (health and version, for everyone), system:discovery (discovery and OpenAPI,
// for authenticated users) and system:basic-user (asking what one may do).
// It stands in for those bindings until skiff enforces RBAC.
type defaultGrants struct{}

type grant struct {
	groups   []string
	nonRes   []string // non-resource URL patterns, get only
	apiGroup string
	res      []string // resources, create only
}

var defaultGrantList = []grant{
	{groups: []string{user.AllAuthenticated, user.AllUnauthenticated}, nonRes: []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}},
	{groups: []string{user.AllAuthenticated}, nonRes: []string{"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/", "/healthz", "/livez", "/readyz"}},
	{groups: []string{user.AllAuthenticated}, apiGroup: "authorization.k8s.io", res: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
	{groups: []string{user.AllAuthenticated}, apiGroup: "authentication.k8s.io", res: []string{"selfsubjectreviews"}},
}

func (g grant) appliesTo(u user.Info) bool {
	if u == nil {
		return false
	}
	return slices.ContainsFunc(u.GetGroups(), func(group string) bool { return slices.Contains(g.groups, group) })
}

func (defaultGrants) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	for _, g := range defaultGrantList {
		if !g.appliesTo(a.GetUser()) {
			continue
		}
		if !a.IsResourceRequest() {
			if a.GetVerb() == "get" && slices.ContainsFunc(g.nonRes, func(p string) bool { return pathMatches(p, a.GetPath()) }) {
				return authorizer.DecisionAllow, "", nil
			}
			continue
		}
		if a.GetVerb() == "create" && a.GetAPIGroup() == g.apiGroup && a.GetSubresource() == "" && slices.Contains(g.res, a.GetResource()) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// pathMatches matches a non-resource URL against an RBAC pattern, where a
// trailing * matches any suffix.
func pathMatches(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == path
}

// RulesFor lists the default grants and, for system:masters, everything.
func (defaultGrants) RulesFor(ctx context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	if slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup) {
		return authorizerfactory.NewAlwaysAllowAuthorizer().RulesFor(ctx, u, namespace)
	}
	var res []authorizer.ResourceRuleInfo
	var nonRes []authorizer.NonResourceRuleInfo
	for _, g := range defaultGrantList {
		if !g.appliesTo(u) {
			continue
		}
		if len(g.nonRes) > 0 {
			nonRes = append(nonRes, &authorizer.DefaultNonResourceRuleInfo{Verbs: []string{"get"}, NonResourceURLs: g.nonRes})
		}
		if len(g.res) > 0 {
			res = append(res, &authorizer.DefaultResourceRuleInfo{Verbs: []string{"create"}, APIGroups: []string{g.apiGroup}, Resources: g.res})
		}
	}
	return res, nonRes, false, nil
}

// ConditionsAwareAuthorize is Authorize: the default grants have no conditions.
func (g defaultGrants) ConditionsAwareAuthorize(ctx context.Context, a authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(g.Authorize(ctx, a))
}

// EvaluateConditions is not supported, as no decision of these grants is conditional.
func (defaultGrants) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
