package server

import (
	"context"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func TestDefaultGrants(t *testing.T) {
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	anon := &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
	bare := &user.DefaultInfo{Name: "alice"} // a SubjectAccessReview may name no groups
	tests := []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{"anyone reads /healthz", authorizer.AttributesRecord{User: anon, Verb: "get", Path: "/healthz"}, authorizer.DecisionAllow},
		{"anonymous discovery is refused", authorizer.AttributesRecord{User: anon, Verb: "get", Path: "/apis"}, authorizer.DecisionNoOpinion},
		{"authenticated discovery", authorizer.AttributesRecord{User: alice, Verb: "get", Path: "/apis/apps/v1"}, authorizer.DecisionAllow},
		{"no writes to public paths", authorizer.AttributesRecord{User: alice, Verb: "post", Path: "/healthz"}, authorizer.DecisionNoOpinion},
		{"a user without groups gets nothing", authorizer.AttributesRecord{User: bare, Verb: "get", Path: "/healthz"}, authorizer.DecisionNoOpinion},
		{"self access review", authorizer.AttributesRecord{User: alice, Verb: "create", APIGroup: "authorization.k8s.io", Resource: "selfsubjectaccessreviews", ResourceRequest: true}, authorizer.DecisionAllow},
		{"whoami", authorizer.AttributesRecord{User: alice, Verb: "create", APIGroup: "authentication.k8s.io", Resource: "selfsubjectreviews", ResourceRequest: true}, authorizer.DecisionAllow},
		{"subject access review is not self", authorizer.AttributesRecord{User: alice, Verb: "create", APIGroup: "authorization.k8s.io", Resource: "subjectaccessreviews", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"pods are not granted", authorizer.AttributesRecord{User: alice, Verb: "get", Resource: "pods", ResourceRequest: true}, authorizer.DecisionNoOpinion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := defaultGrants{}.Authorize(context.Background(), tc.attrs)
			if err != nil || got != tc.want {
				t.Errorf("Authorize = %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	res, nonRes, incomplete, err := defaultGrants{}.RulesFor(context.Background(), alice, "default")
	if err != nil || incomplete || len(res) != 2 || len(nonRes) != 2 {
		t.Errorf("RulesFor(alice) = %d resource rules, %d non-resource rules, incomplete %v, %v; want 2, 2", len(res), len(nonRes), incomplete, err)
	}
}
