// Package bootstraptoken holds bootstrap tokens, the short-lived bearer
// tokens a joining node presents before it has credentials of its own:
// secrets of type bootstrap.kubernetes.io/token in kube-system, the
// authenticator that accepts them, and the create, list and delete
// operations behind `skiff token`.
package bootstraptoken

import (
	"context"
	"crypto/subtle"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	bootstraputil "k8s.io/cluster-bootstrap/token/util"
	bootstrapsecret "k8s.io/cluster-bootstrap/util/secrets"
	bootstraptokens "k8s.io/cluster-bootstrap/util/tokens"
	"k8s.io/klog/v2"
)

// Authenticator accepts bootstrap tokens as bearer tokens: the user is
// system:bootstrap:<token-id> in group system:bootstrappers plus the
// token's extra groups.
type Authenticator struct {
	// secrets is set once the informer factory exists (Use); until then
	// every token is unknown.
	secrets atomic.Pointer[corelisters.SecretNamespaceLister]
	now     func() time.Time
}

var _ authenticator.Token = (*Authenticator)(nil)

// NewAuthenticator returns an authenticator that knows no token until Use
// gives it the secrets informer.
func NewAuthenticator() *Authenticator {
	return &Authenticator{now: time.Now}
}

// Use reads token secrets from the factory's secrets informer.
func (a *Authenticator) Use(f informers.SharedInformerFactory) {
	l := f.Core().V1().Secrets().Lister().Secrets(metav1.NamespaceSystem)
	a.secrets.Store(&l)
}

// AuthenticateToken implements authenticator.Token. A token that is not
// shaped like a bootstrap token, or matches no live secret, is left to the
// other authenticators; why a matching secret was refused is logged only,
// as upstream does, so a caller learns nothing about which tokens exist.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	id, secretPart, err := bootstraptokens.ParseToken(token)
	if err != nil {
		return nil, false, nil
	}
	lister := a.secrets.Load()
	if lister == nil {
		return nil, false, nil
	}
	s, err := (*lister).Get(bootstraputil.BootstrapTokenSecretName(id))
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if reason := a.refuse(s, id, secretPart); reason != "" {
		klog.FromContext(ctx).V(3).Info("Bootstrap token refused", "secret", klog.KObj(s), "reason", reason)
		return nil, false, nil
	}
	groups, err := bootstrapsecret.GetGroups(s)
	if err != nil {
		klog.FromContext(ctx).V(3).Info("Bootstrap token refused", "secret", klog.KObj(s), "reason", err.Error())
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{
		Name:   bootstrapapi.BootstrapUserPrefix + id,
		Groups: groups,
	}}, true, nil
}

// refuse says why secret s does not vouch for the token id.secretPart, or
// "" when it does.
func (a *Authenticator) refuse(s *corev1.Secret, id, secretPart string) string {
	switch {
	case s.DeletionTimestamp != nil:
		return "the secret is being deleted"
	case s.Type != bootstrapapi.SecretTypeBootstrapToken || s.Data == nil:
		return "the secret is not of type " + string(bootstrapapi.SecretTypeBootstrapToken)
	case subtle.ConstantTimeCompare([]byte(bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenSecretKey)), []byte(secretPart)) != 1:
		return "wrong " + bootstrapapi.BootstrapTokenSecretKey
	case bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenIDKey) != id:
		return "wrong " + bootstrapapi.BootstrapTokenIDKey
	case bootstrapsecret.HasExpired(s, a.now()):
		return "the token has expired"
	case bootstrapsecret.GetData(s, bootstrapapi.BootstrapTokenUsageAuthentication) != "true":
		return "the token is not marked " + bootstrapapi.BootstrapTokenUsageAuthentication + "=true"
	}
	return ""
}
