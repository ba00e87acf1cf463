// Package auth serves the review APIs of authentication.k8s.io/v1
// (TokenReview, SelfSubjectReview) and authorization.k8s.io/v1
// (SubjectAccessReview, SelfSubjectAccessReview, LocalSubjectAccessReview,
// SelfSubjectRulesReview) as Kubernetes 1.37 does. Each is create-only: the
// request is answered from the server's own authenticator, authorizer and
// rule resolver, and nothing is stored.
package auth

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/skiff-dev/skiff/registry"
)

// Extra adds the six review resources. authn is the server's request
// authenticator, which TokenReview runs on the reviewed token; apiAudiences
// are the audiences a token is checked against when the review names none.
// As upstream, authorization.k8s.io is left out when there is no authorizer,
// and selfsubjectrulesreviews when there is no rule resolver.
func Extra(authn authenticator.Request, apiAudiences authenticator.Audiences, authz authorizer.Authorizer, rules authorizer.RuleResolver) registry.Extra {
	return func(_ map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
		authnGV := authenticationv1.SchemeGroupVersion
		add(authnGV, "tokenreviews", &TokenReviewREST{authenticator: authn, apiAudiences: apiAudiences})
		add(authnGV, "selfsubjectreviews", &SelfSubjectReviewREST{})

		if authz == nil {
			return nil
		}
		authzGV := authorizationv1.SchemeGroupVersion
		add(authzGV, "subjectaccessreviews", &SubjectAccessReviewREST{authorizer: authz})
		add(authzGV, "selfsubjectaccessreviews", &SelfSubjectAccessReviewREST{authorizer: authz})
		add(authzGV, "localsubjectaccessreviews", &LocalSubjectAccessReviewREST{authorizer: authz})
		if rules != nil {
			add(authzGV, "selfsubjectrulesreviews", &SelfSubjectRulesReviewREST{resolver: rules})
		}
		return nil
	}
}

// createOnly is the part of rest.Storage every review shares: nothing is
// stored, so there is nothing to release.
type createOnly struct{}

func (createOnly) Destroy() {}
