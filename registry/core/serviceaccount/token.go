// Package serviceaccount serves serviceaccounts/token, the TokenRequest
// subresource through which kubectl create token and the kubelet obtain
// service account tokens, with Kubernetes 1.37's validation, binding and
// expiration rules.
package serviceaccount

import (
	"context"
	"fmt"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/audit"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	authenticationtokenjwt "k8s.io/apiserver/pkg/authentication/token/jwt"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericfeatures "k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/rest"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/registry"
	satokens "github.com/skiff-dev/skiff/server/serviceaccount"
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// Options are kube-apiserver's --service-account-* token flags.
type Options struct {
	// MaxExpirationSeconds caps requested lifetimes (with a warning);
	// 0 means no cap (--service-account-max-token-expiration).
	MaxExpirationSeconds int64
	// ExtendExpiration turns the kubelet's pod-bound 3607-second requests
	// for API audiences into MaxExtendedExpirationSeconds tokens with a
	// warnafter claim (--service-account-extend-token-expiration).
	ExtendExpiration bool
	// MaxExtendedExpirationSeconds is the lifetime of those tokens: one
	// year unless an external signer allows less.
	MaxExtendedExpirationSeconds int64
}

// DefaultOptions are kube-apiserver's defaults.
func DefaultOptions() Options {
	return Options{ExtendExpiration: true, MaxExtendedExpirationSeconds: satokens.ExpirationExtensionSeconds}
}

// Extra adds serviceaccounts/token, issuing tokens with tokens.
func Extra(tokens *satokens.Tokens, opts Options) registry.Extra {
	return func(stores map[string]*registry.Storage, add func(gv schema.GroupVersion, path string, storage rest.Storage)) error {
		getter := func(name string) (rest.Getter, error) {
			s, ok := stores[name]
			if !ok {
				return nil, fmt.Errorf("serviceaccounts/token: no storage for %s", name)
			}
			return s, nil
		}
		r := &TokenREST{tokens: tokens, opts: opts, auds: tokens.APIAudiences(), audsSet: sets.New[string](tokens.APIAudiences()...), now: time.Now}
		var err error
		if r.svcaccts, err = getter("serviceaccounts"); err != nil {
			return err
		}
		if r.pods, err = getter("pods"); err != nil {
			return err
		}
		if r.secrets, err = getter("secrets"); err != nil {
			return err
		}
		if r.nodes, err = getter("nodes"); err != nil {
			return err
		}
		add(corev1.SchemeGroupVersion, "serviceaccounts/token", r)
		return nil
	}
}

// TokenREST creates tokens for the service account named in the path.
type TokenREST struct {
	svcaccts, pods, secrets, nodes rest.Getter
	tokens                         *satokens.Tokens
	opts                           Options
	auds                           []string
	audsSet                        sets.Set[string]
	now                            func() time.Time
}

var (
	_ rest.NamedCreater                   = &TokenREST{}
	_ rest.GroupVersionKindProvider       = &TokenREST{}
	_ rest.SubresourceObjectMetaPreserver = &TokenREST{}
)

func (r *TokenREST) New() runtime.Object   { return &authenticationv1.TokenRequest{} }
func (r *TokenREST) Destroy()              {}
func (r *TokenREST) NamespaceScoped() bool { return true }

// GroupVersionKind makes discovery and the handler speak
// authentication.k8s.io/v1 TokenRequest on a core path.
func (r *TokenREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return tokenRequestGVK
}

// PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate keeps the
// request's UID: it must match the service account's.
func (r *TokenREST) PreserveRequestObjectMetaSystemFieldsOnSubresourceCreate() bool { return true }

// Create issues a token for the service account name.
func (r *TokenREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, errors.NewBadRequest(fmt.Sprintf("not a TokenRequest: %T", obj))
	}
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok {
		return nil, errors.NewBadRequest("namespace is required")
	}
	if len(req.Name) > 0 && req.Name != name {
		errs := field.ErrorList{field.Invalid(field.NewPath("metadata").Child("name"), req.Name, "must match the service account name if specified")}
		return nil, errors.NewInvalid(tokenRequestGVK.GroupKind(), name, errs)
	}
	if len(req.Namespace) > 0 && req.Namespace != namespace {
		errs := field.ErrorList{field.Invalid(field.NewPath("metadata").Child("namespace"), req.Namespace, "must match the service account namespace if specified")}
		return nil, errors.NewInvalid(tokenRequestGVK.GroupKind(), name, errs)
	}

	saObj, err := r.svcaccts.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sa := saObj.(*corev1.ServiceAccount)

	if len(req.UID) > 0 && req.UID != sa.UID {
		msg := fmt.Sprintf("the UID in the token request (%s) does not match the UID of the service account (%s)", req.UID, sa.UID)
		if utilfeature.DefaultFeatureGate.Enabled(genericfeatures.TokenRequestServiceAccountUIDValidation) {
			return nil, errors.NewConflict(schema.GroupResource{Group: tokenRequestGVK.Group, Resource: tokenRequestGVK.Kind}, name, fmt.Errorf("%s", msg))
		}
		audit.AddAuditAnnotation(ctx, "authentication.k8s.io/token-request-uid-mismatch", msg)
		warning.AddWarning(ctx, "", msg+" but TokenRequestServiceAccountUIDValidation is not enabled. In the future, this will return a conflict error")
	}
	if len(req.Spec.Audiences) == 0 {
		req.Spec.Audiences = append([]string(nil), r.auds...)
	}
	if len(req.Name) == 0 {
		req.Name = sa.Name
	}
	if len(req.Namespace) == 0 {
		req.Namespace = sa.Namespace
	}
	if len(req.UID) == 0 {
		req.UID = sa.UID
	}
	if req.Spec.ExpirationSeconds == nil {
		hour := int64(60 * 60)
		req.Spec.ExpirationSeconds = &hour
	}
	now := r.now()
	req.CreationTimestamp = metav1.NewTime(now)
	req.Status = authenticationv1.TokenRequestStatus{}

	if errs := ValidateTokenRequest(req); len(errs) != 0 {
		return nil, errors.NewInvalid(tokenRequestGVK.GroupKind(), "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	var (
		pod    *corev1.Pod
		node   *corev1.Node
		secret *corev1.Secret
	)
	if ref := req.Spec.BoundObjectRef; ref != nil {
		var uid types.UID
		gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		switch {
		case gvk.Group == "" && gvk.Kind == "Pod":
			podObj, err := r.pods.Get(withRequestInfo(ctx, "pods", ref.Name, namespace, gvk), ref.Name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			pod = podObj.(*corev1.Pod)
			if name != pod.Spec.ServiceAccountName {
				return nil, errors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", name))
			}
			uid = pod.UID
			if node, err = r.podNode(ctx, pod); err != nil {
				return nil, err
			}
		case gvk.Group == "" && gvk.Kind == "Node":
			nodeObj, err := r.nodes.Get(withRequestInfo(ctx, "nodes", ref.Name, "", gvk), ref.Name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			node = nodeObj.(*corev1.Node)
			uid = node.UID
		case gvk.Group == "" && gvk.Kind == "Secret":
			secretObj, err := r.secrets.Get(withRequestInfo(ctx, "secrets", ref.Name, namespace, gvk), ref.Name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			secret = secretObj.(*corev1.Secret)
			uid = secret.UID
		case gvk.GroupVersion() == admissionregistrationv1.SchemeGroupVersion && (gvk.Kind == "ValidatingWebhookConfiguration" || gvk.Kind == "MutatingWebhookConfiguration"):
			// Webhook-bound tokens are alpha in 1.37 and off.
			return nil, errors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s (feature gate %s is disabled)", gvk.String(), genericfeatures.APIServerWebhookAuthenticationToken))
		default:
			return nil, errors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
		}
		if ref.UID != "" && uid != ref.UID {
			return nil, errors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
	}

	if limit := r.opts.MaxExpirationSeconds; limit > 0 && *req.Spec.ExpirationSeconds > limit {
		warning.AddWarning(ctx, "", fmt.Sprintf("requested expiration of %d seconds shortened to %d seconds", *req.Spec.ExpirationSeconds, limit))
		req.Spec.ExpirationSeconds = &limit
	}

	var warnAfter int64
	exp := *req.Spec.ExpirationSeconds
	if r.opts.ExtendExpiration && pod != nil && exp == satokens.WarnOnlyBoundTokenExpirationSeconds && r.audsSet.HasAll(req.Spec.Audiences...) {
		warnAfter = exp
		exp = r.opts.MaxExtendedExpirationSeconds
	}

	sc, pc, err := satokens.BoundClaims(now, sa, pod, secret, node, exp, warnAfter, req.Spec.Audiences)
	if err != nil {
		return nil, err
	}
	token, err := r.tokens.GenerateToken(sc, pc)
	if err != nil {
		return nil, errors.NewInternalError(fmt.Errorf("failed to generate token: %w", err))
	}
	out := req.DeepCopy()
	// The status shows the requested lifetime even for an extended token:
	// the kubelet refreshes on that schedule.
	out.Status = authenticationv1.TokenRequestStatus{
		Token:               token,
		ExpirationTimestamp: metav1.NewTime(now.Add(time.Duration(*out.Spec.ExpirationSeconds) * time.Second)),
	}
	if len(sc.ID) > 0 {
		audit.AddAuditAnnotation(ctx, apiserverserviceaccount.IssuedCredentialIDAuditAnnotationKey, authenticationtokenjwt.CredentialIDForJTI(sc.ID))
	}
	return out, nil
}

// podNode is the node a pod runs on, for the token's node claim: from the
// watch cache first, then a live read; a node that is gone still lends its
// name.
func (r *TokenREST) podNode(ctx context.Context, pod *corev1.Pod) (*corev1.Node, error) {
	nodeName := pod.Spec.NodeName
	if nodeName == "" {
		return nil, nil
	}
	nctx := withRequestInfo(ctx, "nodes", nodeName, "", corev1.SchemeGroupVersion.WithKind("Node"))
	obj, err := r.nodes.Get(nctx, nodeName, &metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		obj, err = r.nodes.Get(nctx, nodeName, &metav1.GetOptions{})
	}
	switch {
	case errors.IsNotFound(err):
		klog.V(4).InfoS("Failed fetching node for pod", "pod", klog.KObj(pod), "podUID", pod.UID, "nodeName", nodeName, "err", err)
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}, nil
	case err != nil:
		return nil, errors.NewInternalError(err)
	}
	return obj.(*corev1.Node), nil
}

// withRequestInfo makes a read of a bound object look like a get of it,
// for the storage layer's sake.
func withRequestInfo(ctx context.Context, resource, name, namespace string, gvk schema.GroupVersionKind) context.Context {
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true,
		Verb:              "get",
		Namespace:         namespace,
		Resource:          resource,
		Name:              name,
		Parts:             []string{resource, name},
		APIGroup:          gvk.Group,
		APIVersion:        gvk.Version,
	})
}
