// Package serviceaccount issues and verifies Kubernetes service account
// tokens as kube-apiserver 1.37 does: RS256 JWTs signed with one key kept in
// the data dir, bound tokens (TokenRequest) from the issuer
// https://kubernetes.default.svc.<cluster-domain>, and secret-based tokens
// from the legacy issuer "kubernetes/serviceaccount". It also serves the
// issuer's OpenID discovery document and key set.
package serviceaccount

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Tokens holds the signing key and issues and verifies tokens with it.
type Tokens struct {
	key          *rsa.PrivateKey
	keyID        string
	issuer       string
	apiAudiences authenticator.Audiences
	now          func() time.Time
	// lookups is set by Use once the informers exist; until then no token
	// can be checked against the objects it names.
	lookups atomic.Pointer[lookups]
}

type lookups struct {
	getter  Getter
	secrets typedcorev1.SecretsGetter
}

// New loads (or creates) the signing key at keyPath. issuer is the iss of
// bound tokens; apiAudiences are the audiences a token without one is
// meant for, and the default audiences of a TokenRequest.
func New(keyPath, issuer string, apiAudiences authenticator.Audiences) (*Tokens, error) {
	key, err := LoadOrCreateKey(keyPath)
	if err != nil {
		return nil, err
	}
	return NewWithKey(key, issuer, apiAudiences)
}

// NewWithKey is New with a key at hand.
func NewWithKey(key *rsa.PrivateKey, issuer string, apiAudiences authenticator.Audiences) (*Tokens, error) {
	kid, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("failed to derive keyID: %w", err)
	}
	return &Tokens{key: key, keyID: kid, issuer: issuer, apiAudiences: apiAudiences, now: time.Now}, nil
}

// Issuer is the iss of bound tokens.
func (t *Tokens) Issuer() string { return t.issuer }

// APIAudiences are the audiences of the API server itself.
func (t *Tokens) APIAudiences() authenticator.Audiences { return t.apiAudiences }

// Use gives the authenticator its lookups: the factory's listers first, a
// live read through client when they miss, so an object created a moment ago
// is found. Call it before the factory starts.
func (t *Tokens) Use(factory informers.SharedInformerFactory, client kubernetes.Interface) {
	core := factory.Core().V1()
	t.lookups.Store(&lookups{
		getter: &clientGetter{client: client, serviceAccounts: core.ServiceAccounts().Lister(),
			pods: core.Pods().Lister(), secrets: core.Secrets().Lister(), nodes: core.Nodes().Lister()},
		secrets: client.CoreV1(),
	})
}

// UseGetter is Use for callers that look objects up themselves; secrets,
// if not nil, records when secret-based tokens were last used.
func (t *Tokens) UseGetter(getter Getter, secrets typedcorev1.SecretsGetter) {
	t.lookups.Store(&lookups{getter: getter, secrets: secrets})
}

// GenerateToken signs a bound token with claims and private claims.
func (t *Tokens) GenerateToken(claims *Claims, private *PrivateClaims) (string, error) {
	return sign(t.key, t.keyID, private, claims, &Claims{Issuer: t.issuer})
}

// GenerateLegacyToken signs the token a secret of type
// kubernetes.io/service-account-token holds for sa.
func (t *Tokens) GenerateLegacyToken(sa *corev1.ServiceAccount, secret *corev1.Secret) (string, error) {
	claims, private := LegacyClaims(sa, secret)
	return sign(t.key, t.keyID, private, claims, &Claims{Issuer: LegacyIssuer})
}

// AuthenticateToken accepts tokens t (or a server with the same key and
// issuer) issued: bound ones and secret-based ones. Tokens of other issuers
// are left to other authenticators.
func (t *Tokens) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	iss, ok := issuerOf(token)
	if !ok || (iss != t.issuer && iss != LegacyIssuer) {
		return nil, false, nil
	}
	jws, err := parseJWS(token)
	if err != nil {
		return nil, false, nil
	}
	if jws.header.Kid != "" && jws.header.Kid != t.keyID {
		return nil, false, errors.New("invalid signature, no keys found")
	}
	if err := jws.verify(&t.key.PublicKey); err != nil {
		return nil, false, err
	}
	public := &Claims{}
	if err := json.Unmarshal(jws.payload, public); err != nil {
		return nil, false, err
	}
	if public.Issuer != iss {
		return nil, false, fmt.Errorf("token issuer %q is invalid", public.Issuer)
	}

	tokenAudiences := authenticator.Audiences(public.Audience)
	if len(tokenAudiences) == 0 {
		audit.AddAuditAnnotation(ctx, "authentication.k8s.io/legacy-token", public.Subject)
		tokenAudiences = t.apiAudiences
	}
	requested, ok := authenticator.AudiencesFrom(ctx)
	if !ok {
		requested = t.apiAudiences
	}
	auds := tokenAudiences.Intersect(requested)
	if len(auds) == 0 && len(t.apiAudiences) != 0 {
		return nil, false, fmt.Errorf("token audiences %q is invalid for the target audiences %q", tokenAudiences, requested)
	}

	l := t.lookups.Load()
	if l == nil {
		return nil, false, errors.New("service account token authenticator is not ready")
	}
	var info *apiserverserviceaccount.ServiceAccountInfo
	if iss == LegacyIssuer {
		private := &LegacyPrivateClaims{}
		if err := json.Unmarshal(jws.payload, private); err != nil {
			return nil, false, err
		}
		info, err = validateLegacy(ctx, l.getter, l.secrets, token, public, private)
	} else {
		private := &PrivateClaims{}
		if err := json.Unmarshal(jws.payload, private); err != nil {
			return nil, false, err
		}
		info, err = validateBound(ctx, l.getter, t.now(), public, private)
	}
	if err != nil {
		return nil, false, err
	}
	return &authenticator.Response{User: info.UserInfo(), Audiences: auds}, true, nil
}

// clientGetter reads from listers and falls back to the API on a miss, as
// kube-apiserver's token getter does.
type clientGetter struct {
	client          kubernetes.Interface
	serviceAccounts corelisters.ServiceAccountLister
	pods            corelisters.PodLister
	secrets         corelisters.SecretLister
	nodes           corelisters.NodeLister
}

func (g *clientGetter) GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	if sa, err := g.serviceAccounts.ServiceAccounts(namespace).Get(name); err == nil {
		return sa, nil
	}
	return g.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g *clientGetter) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	if pod, err := g.pods.Pods(namespace).Get(name); err == nil {
		return pod, nil
	}
	return g.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g *clientGetter) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	if secret, err := g.secrets.Secrets(namespace).Get(name); err == nil {
		return secret, nil
	}
	return g.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (g *clientGetter) GetNode(ctx context.Context, name string) (*corev1.Node, error) {
	if node, err := g.nodes.Get(name); err == nil {
		return node, nil
	}
	return g.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}
