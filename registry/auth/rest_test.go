package auth

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/skiff-dev/skiff/registry"
)

// tokenAuthenticator accepts one token for one user and audience set, and
// records the request it was given.
type tokenAuthenticator struct {
	token     string
	user      user.Info
	audiences authenticator.Audiences // nil: echo the requested audiences
	seen      *http.Request
}

func (a *tokenAuthenticator) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	a.seen = req
	if req.Header.Get("Authorization") != "Bearer "+a.token {
		return nil, false, errors.New("invalid bearer token")
	}
	auds := a.audiences
	if auds == nil {
		auds, _ = authenticator.AudiencesFrom(req.Context())
	}
	return &authenticator.Response{User: a.user, Audiences: auds}, true, nil
}

func TestTokenReview(t *testing.T) {
	alice := &user.DefaultInfo{Name: "alice", UID: "u1", Groups: []string{"g"}, Extra: map[string][]string{"k": {"v"}}}
	apiAudiences := authenticator.Audiences{"https://kubernetes.default.svc.cluster.local"}
	for _, tc := range []struct {
		name          string
		ctx           context.Context
		spec          authenticationv1.TokenReviewSpec
		authenticated []string // audiences the authenticator accepts for; nil echoes
		wantErr       string
		wantStatus    authenticationv1.TokenReviewStatus
		wantAudiences authenticator.Audiences // what the authenticator was asked for
	}{
		{
			name:          "valid token, server audiences",
			spec:          authenticationv1.TokenReviewSpec{Token: "good"},
			wantAudiences: apiAudiences,
			wantStatus: authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: apiAudiences,
				User: authenticationv1.UserInfo{Username: "alice", UID: "u1", Groups: []string{"g"}, Extra: map[string]authenticationv1.ExtraValue{"k": {"v"}}}},
		},
		{
			name:          "the review's audiences replace the server's",
			spec:          authenticationv1.TokenReviewSpec{Token: "good", Audiences: []string{"vault"}},
			wantAudiences: authenticator.Audiences{"vault"},
			wantStatus: authenticationv1.TokenReviewStatus{Authenticated: true, Audiences: []string{"vault"},
				User: authenticationv1.UserInfo{Username: "alice", UID: "u1", Groups: []string{"g"}, Extra: map[string]authenticationv1.ExtraValue{"k": {"v"}}}},
		},
		{
			name:          "garbage token",
			spec:          authenticationv1.TokenReviewSpec{Token: "garbage"},
			wantAudiences: apiAudiences,
			wantStatus:    authenticationv1.TokenReviewStatus{Error: "invalid bearer token"},
		},
		{
			name:          "authenticator answers for other audiences",
			spec:          authenticationv1.TokenReviewSpec{Token: "good", Audiences: []string{"vault"}},
			authenticated: []string{"elsewhere"},
			wantAudiences: authenticator.Audiences{"vault"},
			wantErr:       "Internal error occurred: error validating audiences",
		},
		{name: "no token", spec: authenticationv1.TokenReviewSpec{}, wantErr: "token is required for TokenReview in authentication"},
		{
			name:    "namespaced request",
			ctx:     genericapirequest.WithNamespace(context.Background(), "ns"),
			spec:    authenticationv1.TokenReviewSpec{Token: "good"},
			wantErr: "namespace is not allowed on this type: ns",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			authn := &tokenAuthenticator{token: "good", user: alice, audiences: tc.authenticated}
			r := &TokenReviewREST{authenticator: authn, apiAudiences: apiAudiences}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			out, err := r.Create(ctx, &authenticationv1.TokenReview{Spec: tc.spec}, nil, &metav1.CreateOptions{})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(*authenticationv1.TokenReview).Status; !reflect.DeepEqual(got, tc.wantStatus) {
				t.Errorf("status = %+v, want %+v", got, tc.wantStatus)
			}
			// The authenticator saw the token and nothing else.
			req := authn.seen
			if req == nil || len(req.Header) != 1 || req.TLS != nil || req.URL == nil || req.URL.Path != "" {
				t.Errorf("authenticator got request %+v, want one carrying only the token", req)
			}
			if auds, _ := authenticator.AudiencesFrom(req.Context()); !reflect.DeepEqual(auds, tc.wantAudiences) {
				t.Errorf("authenticator asked for audiences %v, want %v", auds, tc.wantAudiences)
			}
		})
	}
}

func TestSelfSubjectReview(t *testing.T) {
	u := &user.DefaultInfo{Name: "system:admin", Groups: []string{"system:masters", "system:authenticated"}}
	ctx := genericapirequest.WithUser(context.Background(), u)
	out, err := (&SelfSubjectReviewREST{}).Create(ctx, &authenticationv1.SelfSubjectReview{ObjectMeta: metav1.ObjectMeta{Name: "ignored"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	review := out.(*authenticationv1.SelfSubjectReview)
	want := authenticationv1.UserInfo{Username: "system:admin", Groups: u.Groups, Extra: map[string]authenticationv1.ExtraValue{}}
	if !reflect.DeepEqual(review.Status.UserInfo, want) || review.Name != "" || review.CreationTimestamp.IsZero() {
		t.Errorf("review = %+v, want user %+v, a creation time and no name", review, want)
	}
	if _, err := (&SelfSubjectReviewREST{}).Create(context.Background(), &authenticationv1.SelfSubjectReview{}, nil, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("without a user: error %v, want BadRequest", err)
	}
}

// recordingAuthorizer answers with a fixed decision and keeps the attributes.
type recordingAuthorizer struct {
	authorizer.AuthorizerFunc
	seen authorizer.Attributes
}

func newRecordingAuthorizer(d authorizer.Decision, reason string, err error) *recordingAuthorizer {
	r := &recordingAuthorizer{}
	r.AuthorizerFunc = func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		r.seen = a
		return d, reason, err
	}
	return r
}

func TestAccessReviewDecisions(t *testing.T) {
	pods := &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Resource: "pods"}
	for _, tc := range []struct {
		name     string
		decision authorizer.Decision
		reason   string
		err      error
		want     authorizationv1.SubjectAccessReviewStatus
	}{
		{name: "allow", decision: authorizer.DecisionAllow, reason: "because", want: authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "because"}},
		{name: "no opinion", decision: authorizer.DecisionNoOpinion, want: authorizationv1.SubjectAccessReviewStatus{}},
		{name: "deny", decision: authorizer.DecisionDeny, reason: "no", err: errors.New("boom"),
			want: authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "no", EvaluationError: "boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), "ns"), &user.DefaultInfo{Name: "caller"})
			for _, kind := range []struct {
				rest rest.Creater
				obj  runtime.Object
				user string
			}{
				{&SubjectAccessReviewREST{}, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}}, "alice"},
				{&SelfSubjectAccessReviewREST{}, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: pods}}, "caller"},
				{&LocalSubjectAccessReviewREST{}, &authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
					Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}}, "alice"},
			} {
				authz := newRecordingAuthorizer(tc.decision, tc.reason, tc.err)
				switch r := kind.rest.(type) {
				case *SubjectAccessReviewREST:
					r.authorizer = authz
				case *SelfSubjectAccessReviewREST:
					r.authorizer = authz
				case *LocalSubjectAccessReviewREST:
					r.authorizer = authz
				}
				out, err := kind.rest.Create(ctx, kind.obj, nil, nil)
				if err != nil {
					t.Fatalf("%T: %v", kind.rest, err)
				}
				got := reflect.ValueOf(out).Elem().FieldByName("Status").Interface()
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%T: status = %+v, want %+v", kind.rest, got, tc.want)
				}
				if authz.seen == nil || authz.seen.GetUser().GetName() != kind.user || authz.seen.GetNamespace() != "ns" || authz.seen.GetAPIVersion() != "*" {
					t.Errorf("%T: authorizer asked about %+v, want %s getting pods in ns", kind.rest, authz.seen, kind.user)
				}
			}
		})
	}
}

func TestAccessReviewErrors(t *testing.T) {
	authz := newRecordingAuthorizer(authorizer.DecisionAllow, "", nil)
	pods := &authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "get", Resource: "pods"}
	inNS := genericapirequest.WithNamespace(context.Background(), "ns")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		rest rest.Creater
		obj  runtime.Object
		want string
	}{
		{
			name: "invalid review names no kind, as upstream's internal object has none",
			ctx:  context.Background(), rest: &SubjectAccessReviewREST{authorizer: authz},
			obj:  &authorizationv1.SubjectAccessReview{TypeMeta: metav1.TypeMeta{Kind: "SubjectAccessReview"}, Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice"}},
			want: `.authorization.k8s.io "" is invalid: spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
		},
		{
			name: "self review without a user",
			ctx:  context.Background(), rest: &SelfSubjectAccessReviewREST{authorizer: authz},
			obj:  &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: pods}},
			want: "no user present on request",
		},
		{
			name: "local review without a namespace",
			ctx:  context.Background(), rest: &LocalSubjectAccessReviewREST{authorizer: authz},
			obj:  &authorizationv1.LocalSubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get"}}},
			want: "namespace is required on this type: ",
		},
		{
			name: "local review in another namespace than the request's",
			ctx:  genericapirequest.WithNamespace(context.Background(), "other"), rest: &LocalSubjectAccessReviewREST{authorizer: authz},
			obj: &authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"},
				Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}},
			want: "spec.resourceAttributes.namespace must match namespace: other",
		},
		{
			name: "rules review without a namespace",
			ctx:  genericapirequest.WithUser(inNS, &user.DefaultInfo{Name: "alice"}),
			rest: &SelfSubjectRulesReviewREST{resolver: authorizerfactory.NewAlwaysAllowAuthorizer()},
			obj:  &authorizationv1.SelfSubjectRulesReview{},
			want: "no namespace on request",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.rest.Create(tc.ctx, tc.obj, nil, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCreateValidationRunsOnACopy(t *testing.T) {
	rejected := errors.New("admission says no")
	validate := func(_ context.Context, obj runtime.Object) error {
		obj.(*authorizationv1.SubjectAccessReview).Spec.User = "mallory"
		return rejected
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice",
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/", Verb: "get"}}}
	r := &SubjectAccessReviewREST{authorizer: newRecordingAuthorizer(authorizer.DecisionAllow, "", nil)}
	if _, err := r.Create(context.Background(), sar, validate, nil); !errors.Is(err, rejected) {
		t.Errorf("error = %v, want the admission error", err)
	}
	if sar.Spec.User != "alice" {
		t.Errorf("admission changed the review itself: user %q", sar.Spec.User)
	}
}

func TestSelfSubjectRulesReview(t *testing.T) {
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "alice"})
	r := &SelfSubjectRulesReviewREST{resolver: authorizerfactory.NewAlwaysAllowAuthorizer()}
	out, err := r.Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	review := out.(*authorizationv1.SelfSubjectRulesReview)
	want := authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
	}
	if !reflect.DeepEqual(review.Status, want) || review.Spec.Namespace != "" {
		t.Errorf("review = %+v, want status %+v and no spec echoed", review, want)
	}

	failing := &SelfSubjectRulesReviewREST{resolver: rulesFunc(func(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
		return nil, nil, true, errors.New("cannot list roles")
	})}
	out, err = failing.Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "default"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	status := out.(*authorizationv1.SelfSubjectRulesReview).Status
	// Empty, not nil: the rule lists are required fields and upstream sends [].
	if status.ResourceRules == nil || status.NonResourceRules == nil || !status.Incomplete || status.EvaluationError != "cannot list roles" {
		t.Errorf("status = %+v, want empty rule lists, incomplete, and the resolver's error", status)
	}
}

type rulesFunc func(context.Context, user.Info, string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error)

func (f rulesFunc) RulesFor(ctx context.Context, u user.Info, ns string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	return f(ctx, u, ns)
}

func TestExtraPaths(t *testing.T) {
	allow := authorizerfactory.NewAlwaysAllowAuthorizer()
	for _, tc := range []struct {
		name  string
		authz authorizer.Authorizer
		rules authorizer.RuleResolver
		want  []string
	}{
		{
			name: "everything", authz: allow, rules: allow,
			want: []string{"authentication.k8s.io/v1/tokenreviews", "authentication.k8s.io/v1/selfsubjectreviews",
				"authorization.k8s.io/v1/subjectaccessreviews", "authorization.k8s.io/v1/selfsubjectaccessreviews",
				"authorization.k8s.io/v1/localsubjectaccessreviews", "authorization.k8s.io/v1/selfsubjectrulesreviews"},
		},
		{
			name: "no authorizer", rules: allow,
			want: []string{"authentication.k8s.io/v1/tokenreviews", "authentication.k8s.io/v1/selfsubjectreviews"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			extra := Extra(nil, nil, tc.authz, tc.rules)
			err := extra(map[string]*registry.Storage{}, func(gv schema.GroupVersion, path string, s rest.Storage) {
				got = append(got, gv.String()+"/"+path)
				namespaced := s.(rest.Scoper).NamespaceScoped()
				if namespaced != (path == "localsubjectaccessreviews") {
					t.Errorf("%s: namespaced = %v", path, namespaced)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("paths = %v, want %v", got, tc.want)
			}
		})
	}
}
