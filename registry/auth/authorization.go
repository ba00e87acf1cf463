package auth

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

var (
	_ rest.Creater              = &SubjectAccessReviewREST{}
	_ rest.Scoper               = &SubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SubjectAccessReviewREST{}
	_ rest.Creater              = &SelfSubjectAccessReviewREST{}
	_ rest.Scoper               = &SelfSubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectAccessReviewREST{}
	_ rest.Creater              = &LocalSubjectAccessReviewREST{}
	_ rest.Scoper               = &LocalSubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &LocalSubjectAccessReviewREST{}
	_ rest.Creater              = &SelfSubjectRulesReviewREST{}
	_ rest.Scoper               = &SelfSubjectRulesReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectRulesReviewREST{}
)

// invalid is the 422 upstream answers for a review that fails validation.
// Upstream names the kind of its decoded internal object, which is always
// empty, so the message reads `.authorization.k8s.io "" is invalid: ...`;
// skiff's decoded object keeps its kind, so the empty kind is spelled out.
func invalid(errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: authorizationv1.GroupName}, "", errs)
}

// decide asks the authorizer and fills in a review status from its answer.
func decide(ctx context.Context, authz authorizer.Authorizer, attrs authorizer.AttributesRecord) authorizationv1.SubjectAccessReviewStatus {
	decision, reason, err := authz.Authorize(ctx, attrs)
	return authorizationv1.SubjectAccessReviewStatus{
		Allowed:         decision == authorizer.DecisionAllow,
		Denied:          decision == authorizer.DecisionDeny,
		Reason:          reason,
		EvaluationError: evaluationError(err, attrs),
	}
}

// SubjectAccessReviewREST answers subjectaccessreviews: may the named user
// do this, anywhere.
type SubjectAccessReviewREST struct {
	createOnly
	authorizer authorizer.Authorizer
}

func (*SubjectAccessReviewREST) New() runtime.Object     { return &authorizationv1.SubjectAccessReview{} }
func (*SubjectAccessReviewREST) NamespaceScoped() bool   { return false }
func (*SubjectAccessReviewREST) GetSingularName() string { return "subjectaccessreview" }

func (r *SubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SubjectAccessReview: %#v", obj))
	}
	if errs := validateSubjectAccessReview(review); len(errs) > 0 {
		return nil, invalid(errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	review.Status = decide(ctx, r.authorizer, subjectAttributes(review.Spec))
	return review, nil
}

// SelfSubjectAccessReviewREST answers selfsubjectaccessreviews: may the
// caller do this.
type SelfSubjectAccessReviewREST struct {
	createOnly
	authorizer authorizer.Authorizer
}

func (*SelfSubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectAccessReview{}
}
func (*SelfSubjectAccessReviewREST) NamespaceScoped() bool   { return false }
func (*SelfSubjectAccessReviewREST) GetSingularName() string { return "selfsubjectaccessreview" }

func (r *SelfSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectAccessReview: %#v", obj))
	}
	if errs := validateSelfSubjectAccessReview(review); len(errs) > 0 {
		return nil, invalid(errs)
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	var attrs authorizer.AttributesRecord
	if ra := review.Spec.ResourceAttributes; ra != nil {
		attrs = resourceAttributes(u, *ra)
	} else {
		attrs = nonResourceAttributes(u, *review.Spec.NonResourceAttributes)
	}
	review.Status = decide(ctx, r.authorizer, attrs)
	return review, nil
}

// LocalSubjectAccessReviewREST answers localsubjectaccessreviews: may the
// named user do this in the namespace the review is posted to.
type LocalSubjectAccessReviewREST struct {
	createOnly
	authorizer authorizer.Authorizer
}

func (*LocalSubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.LocalSubjectAccessReview{}
}
func (*LocalSubjectAccessReviewREST) NamespaceScoped() bool   { return true }
func (*LocalSubjectAccessReviewREST) GetSingularName() string { return "localsubjectaccessreview" }

func (r *LocalSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.LocalSubjectAccessReview)
	if !ok {
		// The typo is upstream's.
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a LocaLocalSubjectAccessReview: %#v", obj))
	}
	if errs := validateLocalSubjectAccessReview(review); len(errs) > 0 {
		return nil, invalid(errs)
	}
	ns := genericapirequest.NamespaceValue(ctx)
	if ns == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace is required on this type: %v", ns))
	}
	if ns != review.Namespace {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", ns))
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	review.Status = decide(ctx, r.authorizer, subjectAttributes(review.Spec))
	return review, nil
}

// SelfSubjectRulesReviewREST answers selfsubjectrulesreviews: everything the
// caller may do in a namespace, as far as the rule resolver can tell.
type SelfSubjectRulesReviewREST struct {
	createOnly
	resolver authorizer.RuleResolver
}

func (*SelfSubjectRulesReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectRulesReview{}
}
func (*SelfSubjectRulesReviewREST) NamespaceScoped() bool   { return false }
func (*SelfSubjectRulesReviewREST) GetSingularName() string { return "selfsubjectrulesreview" }

func (r *SelfSubjectRulesReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectRulesReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectRulesReview: %#v", obj))
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	ns := review.Spec.Namespace
	if ns == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	resourceInfos, nonResourceInfos, incomplete, err := r.resolver.RulesFor(ctx, u, ns)
	// A fresh object, so the spec is not echoed back, as upstream.
	out := &authorizationv1.SelfSubjectRulesReview{
		Status: authorizationv1.SubjectRulesReviewStatus{
			ResourceRules:    make([]authorizationv1.ResourceRule, len(resourceInfos)),
			NonResourceRules: make([]authorizationv1.NonResourceRule, len(nonResourceInfos)),
			Incomplete:       incomplete,
		},
	}
	for i, info := range resourceInfos {
		out.Status.ResourceRules[i] = authorizationv1.ResourceRule{
			Verbs:         info.GetVerbs(),
			APIGroups:     info.GetAPIGroups(),
			Resources:     info.GetResources(),
			ResourceNames: info.GetResourceNames(),
		}
	}
	for i, info := range nonResourceInfos {
		out.Status.NonResourceRules[i] = authorizationv1.NonResourceRule{
			Verbs:           info.GetVerbs(),
			NonResourceURLs: info.GetNonResourceURLs(),
		}
	}
	if err != nil {
		out.Status.EvaluationError = err.Error()
	}
	return out, nil
}
