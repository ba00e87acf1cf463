package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
)

var (
	_ rest.Creater              = &TokenReviewREST{}
	_ rest.Scoper               = &TokenReviewREST{}
	_ rest.SingularNameProvider = &TokenReviewREST{}
	_ rest.Creater              = &SelfSubjectReviewREST{}
	_ rest.Scoper               = &SelfSubjectReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectReviewREST{}
)

// TokenReviewREST answers tokenreviews: is this bearer token valid, and for
// whom.
type TokenReviewREST struct {
	createOnly
	authenticator authenticator.Request
	apiAudiences  authenticator.Audiences
}

func (*TokenReviewREST) New() runtime.Object     { return &authenticationv1.TokenReview{} }
func (*TokenReviewREST) NamespaceScoped() bool   { return false }
func (*TokenReviewREST) GetSingularName() string { return "tokenreview" }

// errAudiences is what upstream answers when the authenticator accepted a
// token for none of the audiences asked for: an authenticator bug, not the
// caller's, hence an internal error.
var errAudiences = apierrors.NewInternalError(errors.New("error validating audiences"))

func (r *TokenReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authenticationv1.TokenReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a TokenReview: %#v", obj))
	}
	if ns := genericapirequest.NamespaceValue(ctx); ns != "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace is not allowed on this type: %v", ns))
	}
	if review.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if r.authenticator == nil {
		return review, nil
	}

	// The token is judged by the same authenticator as API requests, on a
	// request that carries nothing else: no client certificate, no
	// front-proxy headers, no path an anonymous rule could match.
	req := &http.Request{Header: http.Header{}, URL: &url.URL{}}
	req.Header.Set("Authorization", "Bearer "+review.Spec.Token)
	audiences := authenticator.Audiences(review.Spec.Audiences)
	if len(audiences) == 0 {
		audiences = r.apiAudiences
	}
	if len(audiences) > 0 {
		req = req.WithContext(authenticator.WithAudiences(req.Context(), audiences))
	}

	resp, authenticated, err := r.authenticator.AuthenticateRequest(req)
	review.Status.Authenticated = authenticated
	if err != nil {
		review.Status.Error = err.Error()
	}
	if len(audiences) > 0 && resp != nil && len(audiences.Intersect(resp.Audiences)) == 0 {
		klog.ErrorS(nil, "Authenticator accepted a token for none of the requested audiences", "want", audiences, "got", resp.Audiences)
		return nil, errAudiences
	}
	if resp != nil && resp.User != nil {
		review.Status.User = userInfo(resp.User)
		review.Status.Audiences = resp.Audiences
	}
	return review, nil
}

// SelfSubjectReviewREST answers selfsubjectreviews: who does the server take
// the caller for.
type SelfSubjectReviewREST struct {
	createOnly
}

func (*SelfSubjectReviewREST) New() runtime.Object     { return &authenticationv1.SelfSubjectReview{} }
func (*SelfSubjectReviewREST) NamespaceScoped() bool   { return false }
func (*SelfSubjectReviewREST) GetSingularName() string { return "selfsubjectreview" }

func (*SelfSubjectReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if _, ok := obj.(*authenticationv1.SelfSubjectReview); !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectReview: %#v", obj))
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	// A fresh object: nothing the caller sent is echoed back.
	return &authenticationv1.SelfSubjectReview{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(time.Now())},
		Status:     authenticationv1.SelfSubjectReviewStatus{UserInfo: userInfo(u)},
	}, nil
}

// userInfo copies an authenticated user into its API form. Extra is always
// a non-nil map, as upstream builds it.
func userInfo(u user.Info) authenticationv1.UserInfo {
	extra := u.GetExtra()
	out := authenticationv1.UserInfo{
		Username: u.GetName(),
		UID:      u.GetUID(),
		Groups:   u.GetGroups(),
		Extra:    make(map[string]authenticationv1.ExtraValue, len(extra)),
	}
	for k, v := range extra {
		out.Extra[k] = authenticationv1.ExtraValue(v)
	}
	return out
}
