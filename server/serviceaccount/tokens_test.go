package serviceaccount

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

const testIssuer = "https://kubernetes.default.svc.cluster.local"

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
)

// sharedKey saves generating a 2048-bit key per test.
func sharedKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	testKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cred", KeyFileName)
	first, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.N.BitLen(); got != 2048 {
		t.Errorf("key size = %d bits, want 2048", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Equal(again) {
		t.Error("second load made a new key; want the stored one")
	}
	if err := os.WriteFile(path, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Error("a corrupt key file loaded without error")
	}
}

// fakeGetter serves objects from maps; absent ones are NotFound.
type fakeGetter struct {
	accounts map[string]*corev1.ServiceAccount
	pods     map[string]*corev1.Pod
	secrets  map[string]*corev1.Secret
	nodes    map[string]*corev1.Node
}

func (f *fakeGetter) GetServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	if o, ok := f.accounts[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), name)
}

func (f *fakeGetter) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	if o, ok := f.pods[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
}

func (f *fakeGetter) GetSecret(_ context.Context, ns, name string) (*corev1.Secret, error) {
	if o, ok := f.secrets[ns+"/"+name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("secrets"), name)
}

func (f *fakeGetter) GetNode(_ context.Context, name string) (*corev1.Node, error) {
	if o, ok := f.nodes[name]; ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("nodes"), name)
}

func meta(ns, name, uid string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid)}
}

func decodePayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenShape(t *testing.T) {
	tokens, err := NewWithKey(sharedKey(t), testIssuer, authenticator.Audiences{testIssuer})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	sa := &corev1.ServiceAccount{ObjectMeta: meta("ns", "sa", "sa-uid")}
	pod := &corev1.Pod{ObjectMeta: meta("ns", "p", "pod-uid")}
	node := &corev1.Node{ObjectMeta: meta("", "n1", "node-uid")}
	sc, pc, err := BoundClaims(now, sa, pod, nil, node, 3600, 3607, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := tokens.GenerateToken(sc, pc)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	kid, _ := keyID(&sharedKey(t).PublicKey)
	if want := `{"alg":"RS256","kid":"` + kid + `"}`; string(header) != want {
		t.Errorf("header = %s, want %s", header, want)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	// Keys sorted at every level, as go-jose writes upstream's tokens.
	want := `{"aud":["a","b"],"exp":1700003600,"iat":1700000000,"iss":"` + testIssuer + `","jti":"` + sc.ID +
		`","kubernetes.io":{"namespace":"ns","node":{"name":"n1","uid":"node-uid"},"pod":{"name":"p","uid":"pod-uid"},` +
		`"serviceaccount":{"name":"sa","uid":"sa-uid"},"warnafter":1700003607},"nbf":1700000000,"sub":"system:serviceaccount:ns:sa"}`
	if string(payload) != want {
		t.Errorf("payload =\n%s\nwant\n%s", payload, want)
	}

	legacy, err := tokens.GenerateLegacyToken(sa, &corev1.Secret{ObjectMeta: meta("ns", "tok", "s-uid")})
	if err != nil {
		t.Fatal(err)
	}
	got := decodePayload(t, legacy)
	wantLegacy := map[string]any{
		"iss": LegacyIssuer, "sub": "system:serviceaccount:ns:sa",
		"kubernetes.io/serviceaccount/namespace":            "ns",
		"kubernetes.io/serviceaccount/secret.name":          "tok",
		"kubernetes.io/serviceaccount/service-account.name": "sa",
		"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid",
	}
	if !reflect.DeepEqual(got, wantLegacy) {
		t.Errorf("legacy claims = %v, want %v", got, wantLegacy)
	}
}

func TestAuthenticateToken(t *testing.T) {
	key := sharedKey(t)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	sa := &corev1.ServiceAccount{ObjectMeta: meta("ns", "sa", "sa-uid")}
	pod := &corev1.Pod{ObjectMeta: meta("ns", "p", "pod-uid")}
	node := &corev1.Node{ObjectMeta: meta("", "n1", "node-uid")}
	secret := &corev1.Secret{ObjectMeta: meta("ns", "s", "secret-uid")}
	deletedAt := func(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }

	type issued struct {
		pod     *corev1.Pod
		secret  *corev1.Secret
		node    *corev1.Node
		auds    []string
		issueAt time.Time
		exp     int64
	}
	tests := []struct {
		name   string
		token  func(tok *Tokens) string
		objs   fakeGetter
		reqAud authenticator.Audiences
		// wantUser is empty when the token must be rejected; wantErr says
		// whether rejection comes with an error (it does for every token
		// of ours, not for foreign ones).
		wantUser  *user.DefaultInfo
		wantErr   string
		wantAuds  authenticator.Audiences
		notHandle bool
	}{
		{
			name:     "valid",
			objs:     fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:    "wrong audience",
			token:   bound(now, sa, issuedOpts{auds: []string{"foo"}}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: `token audiences ["foo"] is invalid for the target audiences ["` + testIssuer + `"]`,
		},
		{
			name:     "requested audience",
			token:    bound(now, sa, issuedOpts{auds: []string{"foo", "bar"}}),
			objs:     fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			reqAud:   authenticator.Audiences{"bar", "baz"},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}},
			wantAuds: authenticator.Audiences{"bar"},
		},
		{
			name:    "expired beyond leeway",
			token:   bound(now.Add(-time.Hour-61*time.Second), sa, issuedOpts{exp: 3600}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "service account token has expired",
		},
		{
			name:     "expired within leeway",
			token:    bound(now.Add(-time.Hour-30*time.Second), sa, issuedOpts{exp: 3600}),
			objs:     fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:    "not valid yet",
			token:   bound(now.Add(2*time.Minute), sa, issuedOpts{}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "service account token is not valid yet",
		},
		{
			name:    "service account gone",
			wantErr: `serviceaccounts "sa" not found`,
		},
		{
			name:    "service account recreated",
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": {ObjectMeta: meta("ns", "sa", "new-uid")}}},
			wantErr: "service account UID (new-uid) does not match claim (sa-uid)",
		},
		{
			name:  "pod bound",
			token: bound(now, sa, issuedOpts{pod: pod, node: node}),
			objs:  fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, pods: map[string]*corev1.Pod{"ns/p": pod}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"},
				Extra: map[string][]string{
					"authentication.kubernetes.io/pod-name": {"p"}, "authentication.kubernetes.io/pod-uid": {"pod-uid"},
					"authentication.kubernetes.io/node-name": {"n1"}, "authentication.kubernetes.io/node-uid": {"node-uid"},
				}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:    "pod gone",
			token:   bound(now, sa, issuedOpts{pod: pod}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "service account token has been invalidated",
		},
		{
			name:    "pod recreated",
			token:   bound(now, sa, issuedOpts{pod: pod}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, pods: map[string]*corev1.Pod{"ns/p": {ObjectMeta: meta("ns", "p", "new")}}},
			wantErr: "pod UID (new) does not match service account pod ref claim (pod-uid)",
		},
		{
			name:  "pod deleting for longer than the leeway",
			token: bound(now, sa, issuedOpts{pod: pod}),
			objs: fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, pods: map[string]*corev1.Pod{"ns/p": {
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid", DeletionTimestamp: deletedAt(2 * time.Minute)}}}},
			wantErr: "service account token has been invalidated",
		},
		{
			name:  "pod deleting within the leeway",
			token: bound(now, sa, issuedOpts{pod: pod}),
			objs: fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, pods: map[string]*corev1.Pod{"ns/p": {
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "pod-uid", DeletionTimestamp: deletedAt(30 * time.Second)}}}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"},
				Extra: map[string][]string{"authentication.kubernetes.io/pod-name": {"p"}, "authentication.kubernetes.io/pod-uid": {"pod-uid"}}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:    "secret gone",
			token:   bound(now, sa, issuedOpts{secret: secret}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "service account token has been invalidated",
		},
		{
			name:  "node bound",
			token: bound(now, sa, issuedOpts{node: node}),
			objs:  fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, nodes: map[string]*corev1.Node{"n1": node}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"},
				Extra: map[string][]string{"authentication.kubernetes.io/node-name": {"n1"}, "authentication.kubernetes.io/node-uid": {"node-uid"}}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:    "node gone",
			token:   bound(now, sa, issuedOpts{node: node}),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "service account token has been invalidated",
		},
		{
			name: "signed by another key",
			token: func(*Tokens) string {
				o, _ := NewWithKey(other, testIssuer, nil)
				o.keyID = mustKeyID(&key.PublicKey)
				return bound(now, sa, issuedOpts{})(o)
			},
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "go-jose/go-jose: error in cryptographic primitive",
		},
		{
			name: "unknown key id",
			token: func(*Tokens) string {
				o, _ := NewWithKey(other, testIssuer, nil)
				return bound(now, sa, issuedOpts{})(o)
			},
			wantErr: "invalid signature, no keys found",
		},
		{
			name: "tampered payload",
			token: func(tok *Tokens) string {
				parts := strings.Split(bound(now, sa, issuedOpts{})(tok), ".")
				parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + testIssuer + `","sub":"system:serviceaccount:kube-system:admin"}`))
				return strings.Join(parts, ".")
			},
			wantErr: "go-jose/go-jose: error in cryptographic primitive",
		},
		{
			name:      "garbage",
			token:     func(*Tokens) string { return "not-a-jwt" },
			notHandle: true,
		},
		{
			name: "another issuer",
			token: func(*Tokens) string {
				o, _ := NewWithKey(key, "https://example.com", nil)
				return bound(now, sa, issuedOpts{})(o)
			},
			notHandle: true,
		},
		{
			name:  "legacy",
			token: legacyToken(sa, secret),
			objs: fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, secrets: map[string]*corev1.Secret{"ns/s": {
				ObjectMeta: secret.ObjectMeta, Data: map[string][]byte{"token": []byte(legacyToken(sa, secret)(mustTokens(key)))}}}},
			wantUser: &user.DefaultInfo{Name: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns"}},
			wantAuds: authenticator.Audiences{testIssuer},
		},
		{
			name:  "legacy, secret holds another token",
			token: legacyToken(sa, secret),
			objs: fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, secrets: map[string]*corev1.Secret{"ns/s": {
				ObjectMeta: secret.ObjectMeta, Data: map[string][]byte{"token": []byte("other")}}}},
			wantErr: "Token does not match server's copy",
		},
		{
			name:    "legacy, secret gone",
			token:   legacyToken(sa, secret),
			objs:    fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}},
			wantErr: "Token has been invalidated",
		},
		{
			name:  "legacy, marked invalid",
			token: legacyToken(sa, secret),
			objs: fakeGetter{accounts: map[string]*corev1.ServiceAccount{"ns/sa": sa}, secrets: map[string]*corev1.Secret{"ns/s": {
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", UID: "secret-uid", Labels: map[string]string{InvalidSinceLabelKey: "2024-01-01"}},
				Data:       map[string][]byte{"token": []byte(legacyToken(sa, secret)(mustTokens(key)))}}}},
			wantErr: "the token in secret ns/s for service account ns/sa has been marked invalid. Use tokens from the TokenRequest API or manually created secret-based tokens, or remove the 'kubernetes.io/legacy-token-invalid-since' label from the secret to temporarily allow use of this token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := mustTokens(key)
			tokens.now = func() time.Time { return now }
			objs := tt.objs
			tokens.UseGetter(&objs, nil)
			mk := tt.token
			if mk == nil {
				mk = bound(now, sa, issuedOpts{})
			}
			ctx := context.Background()
			if tt.reqAud != nil {
				ctx = authenticator.WithAudiences(ctx, tt.reqAud)
			}
			resp, ok, err := tokens.AuthenticateToken(ctx, mk(tokens))
			if tt.notHandle {
				if ok || err != nil {
					t.Fatalf("got ok=%v err=%v, want the token left to other authenticators", ok, err)
				}
				return
			}
			if tt.wantUser == nil {
				if ok || err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got ok=%v err=%v, want error %q", ok, err, tt.wantErr)
				}
				return
			}
			if !ok || err != nil {
				t.Fatalf("got ok=%v err=%v, want success", ok, err)
			}
			got := resp.User.(*user.DefaultInfo)
			jti := got.Extra["authentication.kubernetes.io/credential-id"]
			delete(got.Extra, "authentication.kubernetes.io/credential-id")
			if len(got.Extra) == 0 {
				got.Extra = nil
			}
			if !reflect.DeepEqual(got, tt.wantUser) {
				t.Errorf("user = %+v, want %+v", got, tt.wantUser)
			}
			isLegacy := strings.HasPrefix(tt.name, "legacy")
			if !isLegacy && (len(jti) != 1 || !strings.HasPrefix(jti[0], "JTI=")) {
				t.Errorf("credential-id = %v, want JTI=<jti>", jti)
			}
			if isLegacy && jti != nil {
				t.Errorf("legacy token has credential-id %v", jti)
			}
			if !reflect.DeepEqual(resp.Audiences, tt.wantAuds) {
				t.Errorf("audiences = %v, want %v", resp.Audiences, tt.wantAuds)
			}
		})
	}
}

type issuedOpts struct {
	pod    *corev1.Pod
	secret *corev1.Secret
	node   *corev1.Node
	auds   []string
	exp    int64
}

func bound(at time.Time, sa *corev1.ServiceAccount, o issuedOpts) func(*Tokens) string {
	return func(tok *Tokens) string {
		auds := o.auds
		if auds == nil {
			auds = []string{testIssuer}
		}
		exp := o.exp
		if exp == 0 {
			exp = 3600
		}
		sc, pc, err := BoundClaims(at, sa, o.pod, o.secret, o.node, exp, 0, auds)
		if err != nil {
			panic(err)
		}
		s, err := tok.GenerateToken(sc, pc)
		if err != nil {
			panic(err)
		}
		return s
	}
}

func legacyToken(sa *corev1.ServiceAccount, secret *corev1.Secret) func(*Tokens) string {
	return func(tok *Tokens) string {
		s, err := tok.GenerateLegacyToken(sa, secret)
		if err != nil {
			panic(err)
		}
		return s
	}
}

func mustTokens(key *rsa.PrivateKey) *Tokens {
	tok, err := NewWithKey(key, testIssuer, authenticator.Audiences{testIssuer})
	if err != nil {
		panic(err)
	}
	return tok
}

func mustKeyID(pub *rsa.PublicKey) string {
	id, err := keyID(pub)
	if err != nil {
		panic(err)
	}
	return id
}

func TestDiscoveryDocuments(t *testing.T) {
	tokens := mustTokens(sharedKey(t))
	config, keys, err := tokens.DiscoveryDocuments("", "10.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	wantConfig := `{"issuer":"` + testIssuer + `","jwks_uri":"https://10.0.0.1:6443/openid/v1/jwks","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256"]}`
	if string(config) != wantConfig {
		t.Errorf("config =\n%s\nwant\n%s", config, wantConfig)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(keys, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["use"] != "sig" || k["kty"] != "RSA" || k["alg"] != "RS256" || k["e"] != "AQAB" || k["kid"] != tokens.keyID {
		t.Errorf("key = %v", k)
	}
	if !strings.HasPrefix(string(keys), `{"keys":[{"use":"sig","kty":"RSA","kid":`) {
		t.Errorf("key set fields out of go-jose's order: %s", keys)
	}
	n, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	token := bound(time.Now(), &corev1.ServiceAccount{ObjectMeta: meta("ns", "sa", "u")}, issuedOpts{})(tokens)
	jws, err := parseJWS(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := jws.verify(pub); err != nil {
		t.Errorf("the published key does not verify a token: %v", err)
	}
	if _, _, err := mustTokens(sharedKey(t)).DiscoveryDocuments("", ""); err == nil {
		t.Error("no jwks_uri and no external address: want an error")
	}
}
