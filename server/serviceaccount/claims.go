package serviceaccount

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/audit"
	apiserverserviceaccount "k8s.io/apiserver/pkg/authentication/serviceaccount"
	authenticationtokenjwt "k8s.io/apiserver/pkg/authentication/token/jwt"
	"k8s.io/klog/v2"
)

const (
	// WarnOnlyBoundTokenExpirationSeconds is the lifetime the kubelet asks
	// for in projected tokens; such requests get ExpirationExtensionSeconds
	// instead, with a warnafter claim, so stale tokens show in audit logs
	// rather than break workloads.
	WarnOnlyBoundTokenExpirationSeconds = 60*60 + 7
	// ExpirationExtensionSeconds is one year, upstream's
	// --service-account-max-token-expiration when extension is on.
	ExpirationExtensionSeconds = 24 * 365 * 60 * 60

	// leeway is the clock skew tolerated on exp, nbf and iat, and how long a
	// deleted bound object keeps its tokens valid (go-jose's DefaultLeeway).
	leeway = time.Minute
)

// NumericDate is a JWT time: seconds since the epoch.
type NumericDate int64

// NewNumericDate truncates t to the second.
func NewNumericDate(t time.Time) *NumericDate {
	d := NumericDate(t.Unix())
	return &d
}

// Time is d as a time.
func (d NumericDate) Time() time.Time { return time.Unix(int64(d), 0) }

// UnmarshalJSON accepts fractional seconds, as the JWT spec allows.
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("go-jose/go-jose/jwt: expected number date to be a number: %w", err)
	}
	*d = NumericDate(f)
	return nil
}

// Audience is the aud claim: one string or a list on the wire, always a list
// when written.
type Audience []string

// UnmarshalJSON accepts both forms of aud.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case string:
		*a = Audience{v}
	case []any:
		out := make(Audience, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return errors.New("go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience")
			}
			out[i] = s
		}
		*a = out
	default:
		return errors.New("go-jose/go-jose/jwt: expected string or array value to unmarshal to Audience")
	}
	return nil
}

// Claims are the registered JWT claims.
type Claims struct {
	Issuer    string       `json:"iss,omitempty"`
	Subject   string       `json:"sub,omitempty"`
	Audience  Audience     `json:"aud,omitempty"`
	Expiry    *NumericDate `json:"exp,omitempty"`
	NotBefore *NumericDate `json:"nbf,omitempty"`
	IssuedAt  *NumericDate `json:"iat,omitempty"`
	ID        string       `json:"jti,omitempty"`
}

var (
	errExpired           = errors.New("service account token has expired")
	errNotValidYet       = errors.New("service account token is not valid yet")
	errIssuedInTheFuture = errors.New("service account token is issued in the future")
	errInvalidated       = errors.New("service account token has been invalidated")
)

// validateTimes checks exp, nbf and iat against now with a minute of leeway,
// in go-jose's order.
func (c *Claims) validateTimes(now time.Time) error {
	if c.NotBefore != nil && now.Add(leeway).Before(c.NotBefore.Time()) {
		return errNotValidYet
	}
	if c.Expiry != nil && now.Add(-leeway).After(c.Expiry.Time()) {
		return errExpired
	}
	if c.IssuedAt != nil && now.Add(leeway).Before(c.IssuedAt.Time()) {
		return errIssuedInTheFuture
	}
	return nil
}

// PrivateClaims are the "kubernetes.io" claims of a bound token.
type PrivateClaims struct {
	Kubernetes KubernetesClaims `json:"kubernetes.io,omitempty"`
}

// KubernetesClaims name the service account and the object the token is
// bound to.
type KubernetesClaims struct {
	Namespace string       `json:"namespace,omitempty"`
	Svcacct   Ref          `json:"serviceaccount,omitempty"`
	Pod       *Ref         `json:"pod,omitempty"`
	Secret    *Ref         `json:"secret,omitempty"`
	Node      *Ref         `json:"node,omitempty"`
	WarnAfter *NumericDate `json:"warnafter,omitempty"`
}

// Ref names an object in a token.
type Ref struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

// BoundClaims are the claims of a token for sa issued at now, optionally
// bound to a pod (with the node it runs on, if known), a secret, or a node.
// A non-zero warnAfter (seconds) marks an extended token.
func BoundClaims(now time.Time, sa *corev1.ServiceAccount, pod *corev1.Pod, secret *corev1.Secret, node *corev1.Node, expirationSeconds, warnAfter int64, audiences []string) (*Claims, *PrivateClaims, error) {
	sc := &Claims{
		Subject:   apiserverserviceaccount.MakeUsername(sa.Namespace, sa.Name),
		Audience:  Audience(audiences),
		IssuedAt:  NewNumericDate(now),
		NotBefore: NewNumericDate(now),
		Expiry:    NewNumericDate(now.Add(time.Duration(expirationSeconds) * time.Second)),
		ID:        uuid.NewString(),
	}
	pc := &PrivateClaims{Kubernetes: KubernetesClaims{
		Namespace: sa.Namespace,
		Svcacct:   Ref{Name: sa.Name, UID: string(sa.UID)},
	}}
	if secret != nil && (node != nil || pod != nil) {
		return nil, nil, errors.New("internal error, token can only be bound to one object type")
	}
	switch {
	case pod != nil:
		pc.Kubernetes.Pod = &Ref{Name: pod.Name, UID: string(pod.UID)}
		if node != nil {
			pc.Kubernetes.Node = &Ref{Name: node.Name, UID: string(node.UID)}
		}
	case secret != nil:
		pc.Kubernetes.Secret = &Ref{Name: secret.Name, UID: string(secret.UID)}
	case node != nil:
		pc.Kubernetes.Node = &Ref{Name: node.Name, UID: string(node.UID)}
	}
	if warnAfter != 0 {
		pc.Kubernetes.WarnAfter = NewNumericDate(now.Add(time.Duration(warnAfter) * time.Second))
	}
	return sc, pc, nil
}

// Getter finds the objects a token names. Lookups should fall back to a live
// read when a cache misses, so a just-created object is found.
type Getter interface {
	GetServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	GetNode(ctx context.Context, name string) (*corev1.Node, error)
}

// validateBound checks a verified bound token's times and that the service
// account and bound objects it names still exist with the same UIDs.
func validateBound(ctx context.Context, getter Getter, now time.Time, public *Claims, private *PrivateClaims) (*apiserverserviceaccount.ServiceAccountInfo, error) {
	if err := public.validateTimes(now); err != nil {
		return nil, err
	}
	// Objects deleted more than the leeway ago no longer vouch for tokens.
	invalidIfDeletedBefore := now.Add(-leeway)
	k := private.Kubernetes
	namespace, saref := k.Namespace, k.Svcacct

	sa, err := getter.GetServiceAccount(ctx, namespace, saref.Name)
	if err != nil {
		klog.V(4).InfoS("Could not retrieve service account", "serviceAccount", klog.KRef(namespace, saref.Name), "err", err)
		return nil, err
	}
	if string(sa.UID) != saref.UID {
		klog.V(4).InfoS("Service account UID no longer matches", "serviceAccount", klog.KRef(namespace, saref.Name), "uid", sa.UID, "claim", saref.UID)
		return nil, fmt.Errorf("service account UID (%s) does not match claim (%s)", sa.UID, saref.UID)
	}
	if sa.DeletionTimestamp != nil && sa.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
		return nil, fmt.Errorf("service account %s/%s has been deleted", namespace, saref.Name)
	}

	if ref := k.Secret; ref != nil {
		secret, err := getter.GetSecret(ctx, namespace, ref.Name)
		if err != nil {
			klog.V(4).InfoS("Could not retrieve bound secret", "secret", klog.KRef(namespace, ref.Name), "serviceAccount", klog.KRef(namespace, saref.Name), "err", err)
			return nil, errInvalidated
		}
		if ref.UID != string(secret.UID) {
			return nil, fmt.Errorf("secret UID (%s) does not match service account secret ref claim (%s)", secret.UID, ref.UID)
		}
		if secret.DeletionTimestamp != nil && secret.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
			return nil, errInvalidated
		}
	}

	info := &apiserverserviceaccount.ServiceAccountInfo{Namespace: namespace, Name: saref.Name, UID: saref.UID}
	if ref := k.Pod; ref != nil {
		pod, err := getter.GetPod(ctx, namespace, ref.Name)
		if err != nil {
			klog.V(4).InfoS("Could not retrieve bound pod", "pod", klog.KRef(namespace, ref.Name), "serviceAccount", klog.KRef(namespace, saref.Name), "err", err)
			return nil, errInvalidated
		}
		if ref.UID != string(pod.UID) {
			return nil, fmt.Errorf("pod UID (%s) does not match service account pod ref claim (%s)", pod.UID, ref.UID)
		}
		if pod.DeletionTimestamp != nil && pod.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
			klog.V(4).InfoS("Bound pod is deleted and awaiting removal", "pod", klog.KRef(namespace, ref.Name), "serviceAccount", klog.KRef(namespace, saref.Name))
			return nil, errInvalidated
		}
		info.PodName, info.PodUID = ref.Name, ref.UID
	}

	if ref := k.Node; ref != nil {
		if k.Pod != nil {
			// A pod-bound token only reports the node it was issued on.
			info.NodeName, info.NodeUID = ref.Name, ref.UID
		} else {
			node, err := getter.GetNode(ctx, ref.Name)
			if err != nil {
				klog.V(4).InfoS("Could not retrieve node object", "node", ref.Name, "serviceAccount", klog.KRef(namespace, saref.Name), "err", err)
				return nil, errInvalidated
			}
			if ref.UID != string(node.UID) {
				return nil, fmt.Errorf("node UID (%s) does not match service account node ref claim (%s)", node.UID, ref.UID)
			}
			if node.DeletionTimestamp != nil && node.DeletionTimestamp.Time.Before(invalidIfDeletedBefore) {
				return nil, errInvalidated
			}
			info.NodeName, info.NodeUID = ref.Name, ref.UID
		}
	}

	if w := k.WarnAfter; w != nil && *w != 0 && now.After(w.Time()) {
		audit.AddAuditAnnotation(ctx, "authentication.k8s.io/stale-token",
			fmt.Sprintf("subject: %s, seconds after warning threshold: %d", public.Subject, now.Unix()-w.Time().Unix()))
	}
	info.CredentialID = authenticationtokenjwt.CredentialIDForJTI(public.ID)
	return info, nil
}
