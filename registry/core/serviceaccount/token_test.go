package serviceaccount

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	satokens "github.com/skiff-dev/skiff/server/serviceaccount"
)

const apiAudience = "https://kubernetes.default.svc.cluster.local"

// getter serves objects by name; absent ones are NotFound.
type getter struct {
	resource string
	objs     map[string]runtime.Object
}

func (g getter) Get(_ context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if o, ok := g.objs[name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: g.resource}, name)
}

func TestTokenRESTCreate(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := satokens.NewWithKey(key, apiAudience, authenticator.Audiences{apiAudience})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	r := &TokenREST{
		tokens:  tokens,
		opts:    DefaultOptions(),
		auds:    []string{apiAudience},
		now:     func() time.Time { return now },
		audsSet: sets.New(apiAudience),
		svcaccts: getter{"serviceaccounts", map[string]runtime.Object{
			"default": &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default", UID: "sa-uid"}},
		}},
		pods: getter{"pods", map[string]runtime.Object{
			"p": &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid"},
				Spec: corev1.PodSpec{ServiceAccountName: "default", NodeName: "n1"}},
			"other": &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "other", UID: "o-uid"},
				Spec: corev1.PodSpec{ServiceAccountName: "other"}},
		}},
		secrets: getter{"secrets", map[string]runtime.Object{
			"s": &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "secret-uid"}},
		}},
		nodes: getter{"nodes", map[string]runtime.Object{}},
	}
	seconds := func(s int64) *int64 { return &s }
	ref := func(apiVersion, kind, name, uid string) *authenticationv1.BoundObjectReference {
		return &authenticationv1.BoundObjectReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid)}
	}
	tests := []struct {
		name    string
		sa      string
		req     authenticationv1.TokenRequest
		wantErr string
		// check looks at the decoded claims of a token that was issued.
		check func(t *testing.T, out *authenticationv1.TokenRequest, claims map[string]any)
	}{
		{
			name: "defaults",
			req:  authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600)}},
			check: func(t *testing.T, out *authenticationv1.TokenRequest, claims map[string]any) {
				if out.Name != "default" || out.Namespace != "ns" || out.UID != "sa-uid" || len(out.Spec.Audiences) != 1 || out.Spec.Audiences[0] != apiAudience {
					t.Errorf("request filled as %+v", out.ObjectMeta)
				}
				if !out.Status.ExpirationTimestamp.Time.Equal(now.Add(time.Hour)) {
					t.Errorf("expirationTimestamp = %v", out.Status.ExpirationTimestamp)
				}
				if claims["exp"].(float64)-claims["iat"].(float64) != 3600 {
					t.Errorf("claims = %v", claims)
				}
			},
		},
		{
			name:    "too short",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(599)}},
			wantErr: `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes`,
		},
		{
			name:    "too long",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(1<<32 + 1)}},
			wantErr: `TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds`,
		},
		{
			name:    "no such service account",
			sa:      "nope",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600)}},
			wantErr: `serviceaccounts "nope" not found`,
		},
		{
			name:    "name mismatch",
			req:     authenticationv1.TokenRequest{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600)}},
			wantErr: `TokenRequest.authentication.k8s.io "default" is invalid: metadata.name: Invalid value: "x": must match the service account name if specified`,
		},
		{
			name:    "uid mismatch",
			req:     authenticationv1.TokenRequest{ObjectMeta: metav1.ObjectMeta{UID: "abc"}, Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600)}},
			wantErr: `Operation cannot be fulfilled on TokenRequest.authentication.k8s.io "default": the UID in the token request (abc) does not match the UID of the service account (sa-uid)`,
		},
		{
			name:    "pod of another service account",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), BoundObjectRef: ref("v1", "Pod", "other", "")}},
			wantErr: `cannot bind token for serviceaccount "default" to pod running with different serviceaccount name.`,
		},
		{
			name:    "pod uid mismatch",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), BoundObjectRef: ref("v1", "Pod", "p", "123")}},
			wantErr: `Operation cannot be fulfilled on Pod "p": the UID in the bound object reference (123) does not match the UID in record. The object might have been deleted and then recreated`,
		},
		{
			name:    "missing pod",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), BoundObjectRef: ref("v1", "Pod", "gone", "")}},
			wantErr: `pods "gone" not found`,
		},
		{
			name:    "unsupported kind",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), BoundObjectRef: ref("v1", "ConfigMap", "c", "")}},
			wantErr: `cannot bind token to object of type /v1, Kind=ConfigMap`,
		},
		{
			name:    "attestations without a webhook",
			req:     authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), Attestations: map[string]authenticationv1.AttestationValue{"a": {"b"}}}},
			wantErr: `TokenRequest.authentication.k8s.io "" is invalid: spec.attestations: Invalid value: {"a":["b"]}: attestations may only be specified with a webhook bound object reference`,
		},
		{
			name: "webhook bound",
			req: authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), Audiences: []string{"x"},
				Attestations:   map[string]authenticationv1.AttestationValue{"admissionReviewAPIGroups": {"*"}},
				BoundObjectRef: ref("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "w", "")}},
			wantErr: `cannot bind token to object of type admissionregistration.k8s.io/v1, Kind=ValidatingWebhookConfiguration (feature gate APIServerWebhookAuthenticationToken is disabled)`,
		},
		{
			name: "secret bound",
			req:  authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3600), BoundObjectRef: ref("v1", "Secret", "s", "secret-uid")}},
			check: func(t *testing.T, _ *authenticationv1.TokenRequest, claims map[string]any) {
				k := claims["kubernetes.io"].(map[string]any)
				if s, _ := k["secret"].(map[string]any); s["name"] != "s" || s["uid"] != "secret-uid" {
					t.Errorf("claims = %v", k)
				}
			},
		},
		{
			name: "kubelet's pod-bound request is extended",
			req:  authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3607), BoundObjectRef: ref("v1", "Pod", "p", "pod-uid")}},
			check: func(t *testing.T, out *authenticationv1.TokenRequest, claims map[string]any) {
				k := claims["kubernetes.io"].(map[string]any)
				iat := claims["iat"].(float64)
				if claims["exp"].(float64)-iat != satokens.ExpirationExtensionSeconds || k["warnafter"].(float64)-iat != 3607 {
					t.Errorf("claims = %v", claims)
				}
				// A node that cannot be found still lends its name.
				if n, _ := k["node"].(map[string]any); n["name"] != "n1" || n["uid"] != nil {
					t.Errorf("node claim = %v", k["node"])
				}
				if !out.Status.ExpirationTimestamp.Time.Equal(now.Add(3607 * time.Second)) {
					t.Errorf("expirationTimestamp = %v, want the requested 3607 s", out.Status.ExpirationTimestamp)
				}
			},
		},
		{
			name: "other audiences are not extended",
			req: authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: seconds(3607), Audiences: []string{"vault"},
				BoundObjectRef: ref("v1", "Pod", "p", "")}},
			check: func(t *testing.T, _ *authenticationv1.TokenRequest, claims map[string]any) {
				k := claims["kubernetes.io"].(map[string]any)
				if claims["exp"].(float64)-claims["iat"].(float64) != 3607 || k["warnafter"] != nil {
					t.Errorf("claims = %v", claims)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := tt.sa
			if sa == "" {
				sa = "default"
			}
			ctx := genericapirequest.WithNamespace(context.Background(), "ns")
			obj, err := r.Create(ctx, sa, tt.req.DeepCopy(), nil, &metav1.CreateOptions{})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := obj.(*authenticationv1.TokenRequest)
			parts := strings.Split(out.Status.Token, ".")
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			if err := json.Unmarshal(raw, &claims); err != nil {
				t.Fatal(err)
			}
			tt.check(t, out, claims)
		})
	}
}
