package serviceaccount_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/server/serviceaccount"
)

const issuer = "https://kubernetes.default.svc.cluster.local"

// TestServiceAccountTokens runs stock kubectl against one real server. The
// outputs expected are a stock kube-apiserver 1.37's for the same requests.
func TestServiceAccountTokens(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	waitFor(t, "the default ServiceAccount", func() bool {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	sa, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createToken := func(t *testing.T, args ...string) string {
		t.Helper()
		out, _, err := s.Kubectl(t, append([]string{"create", "token", "default"}, args...)...)
		if err != nil {
			t.Fatalf("kubectl create token: %v", err)
		}
		return strings.TrimSpace(out)
	}
	plain := createToken(t)

	t.Run("discovery", func(t *testing.T) {
		out, _, err := s.Kubectl(t, "get", "--raw", "/api/v1")
		if err != nil {
			t.Fatal(err)
		}
		var list metav1.APIResourceList
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		want := metav1.APIResource{Name: "serviceaccounts/token", Namespaced: true, Group: "authentication.k8s.io",
			Version: "v1", Kind: "TokenRequest", Verbs: metav1.Verbs{"create"}}
		i := slices.IndexFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == want.Name })
		if i < 0 {
			t.Fatal("serviceaccounts/token is not in /api/v1")
		}
		got := list.APIResources[i]
		if got.Name != want.Name || got.Namespaced != want.Namespaced || got.Group != want.Group || got.Version != want.Version ||
			got.Kind != want.Kind || !slices.Equal(got.Verbs, want.Verbs) || got.SingularName != "" {
			t.Errorf("discovery = %+v, want %+v", got, want)
		}
	})

	t.Run("whoami", func(t *testing.T) {
		out, err := tokenKubectl(t, s, plain, "auth", "whoami", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var review struct {
			Status struct {
				UserInfo struct {
					Username string              `json:"username"`
					UID      string              `json:"uid"`
					Groups   []string            `json:"groups"`
					Extra    map[string][]string `json:"extra"`
				} `json:"userInfo"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(out), &review); err != nil {
			t.Fatal(err)
		}
		u := review.Status.UserInfo
		claims := payload(t, plain)
		wantGroups := []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}
		if u.Username != "system:serviceaccount:default:default" || u.UID != string(sa.UID) || !slices.Equal(u.Groups, wantGroups) {
			t.Errorf("user = %+v", u)
		}
		wantExtra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=" + claims["jti"].(string)}}
		if !equalExtra(u.Extra, wantExtra) {
			t.Errorf("extra = %v, want %v", u.Extra, wantExtra)
		}
		if claims["iss"] != issuer || claims["sub"] != "system:serviceaccount:default:default" {
			t.Errorf("claims = %v", claims)
		}
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 3600 {
			t.Errorf("default lifetime = %v s, want 3600", exp-iat)
		}
	})

	t.Run("rejected", func(t *testing.T) {
		expiredish := strings.Split(plain, ".")
		expiredish[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + issuer + `","exp":1,"sub":"system:serviceaccount:default:default"}`))
		for name, token := range map[string]string{
			"wrong audience":   createToken(t, "--audience", "foo"),
			"garbage":          "garbage",
			"forged claims":    strings.Join(expiredish, "."),
			"another audience": createToken(t, "--audience", "https://example.com", "--audience", "bar"),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := tokenKubectl(t, s, token, "auth", "whoami")
				if err == nil || !strings.Contains(err.Error(), "You must be logged in to the server (Unauthorized)") {
					t.Errorf("got %v, want Unauthorized", err)
				}
			})
		}
		// A bad credential is refused even where anonymous callers are let in.
		for token, want := range map[string]int{"garbage": http.StatusUnauthorized, "": http.StatusOK} {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/healthz", nil)
			if err != nil {
				t.Fatal(err)
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := anonymousHTTPClient(t, s).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET /healthz with token %q: %d, want %d", token, resp.StatusCode, want)
			}
		}
		// A token for several audiences, one of them the API's, is good.
		if _, err := tokenKubectl(t, s, createToken(t, "--audience", "foo", "--audience", issuer), "auth", "whoami"); err != nil {
			t.Errorf("token with the API among its audiences: %v", err)
		}
	})

	t.Run("duration", func(t *testing.T) {
		_, stderr, err := s.Kubectl(t, "create", "token", "default", "--duration", "5m")
		want := `error: failed to create token: TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes`
		if err == nil || strings.TrimSpace(stderr) != want {
			t.Errorf("got %v %q, want %q", err, stderr, want)
		}
		claims := payload(t, createToken(t, "--duration", "2h"))
		if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 7200 {
			t.Errorf("lifetime = %v s, want 7200", exp-iat)
		}
	})

	t.Run("pod bound", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "default"},
			Spec: corev1.PodSpec{ServiceAccountName: "default",
				Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		pod, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		token := createToken(t, "--bound-object-kind", "Pod", "--bound-object-name", "bound")
		out, err := tokenKubectl(t, s, token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.extra}")
		if err != nil {
			t.Fatal(err)
		}
		var extra map[string][]string
		if err := json.Unmarshal([]byte(out), &extra); err != nil {
			t.Fatal(err)
		}
		if got := extra["authentication.kubernetes.io/pod-name"]; !slices.Equal(got, []string{"bound"}) {
			t.Errorf("pod-name = %v", got)
		}
		if got := extra["authentication.kubernetes.io/pod-uid"]; !slices.Equal(got, []string{string(pod.UID)}) {
			t.Errorf("pod-uid = %v, want %s", got, pod.UID)
		}

		// The kubelet's request: 3607 s for the API audience becomes a year
		// with a warnafter, while the status reports the 3607 s.
		body := `{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":3607,"boundObjectRef":{"apiVersion":"v1","kind":"Pod","name":"bound"}}}`
		before := time.Now().Truncate(time.Second)
		r := s.KubectlWith(t, testserver.KubectlOptions{Stdin: body}, "create", "--raw", "/api/v1/namespaces/default/serviceaccounts/default/token", "-f", "-")
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		var tr struct {
			Status struct {
				Token               string    `json:"token"`
				ExpirationTimestamp time.Time `json:"expirationTimestamp"`
			} `json:"status"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &tr); err != nil {
			t.Fatal(err)
		}
		claims := payload(t, tr.Status.Token)
		k8s := claims["kubernetes.io"].(map[string]any)
		iat := claims["iat"].(float64)
		if exp := claims["exp"].(float64); exp-iat != serviceaccount.ExpirationExtensionSeconds {
			t.Errorf("extended lifetime = %v s, want %d", exp-iat, serviceaccount.ExpirationExtensionSeconds)
		}
		if w, _ := k8s["warnafter"].(float64); w-iat != 3607 {
			t.Errorf("warnafter - iat = %v, want 3607", w-iat)
		}
		if d := tr.Status.ExpirationTimestamp.Sub(before); d < 3607*time.Second || d > 3620*time.Second {
			t.Errorf("status.expirationTimestamp is %s after the request, want 3607s", d)
		}

		// Deleting the pod revokes its tokens (within the 10 s the
		// authenticator caches a success, as kube-apiserver's does).
		if err := client.CoreV1().Pods("default").Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the pod's token to stop working", func() bool {
			_, err := tokenKubectl(t, s, token, "auth", "whoami")
			return err != nil && strings.Contains(err.Error(), "Unauthorized")
		})
	})

	t.Run("oidc discovery", func(t *testing.T) {
		hc := tokenHTTPClient(t, s, plain)
		get := func(path string) (http.Header, []byte) {
			resp, err := hc.Get(s.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s %s", path, resp.Status, body)
			}
			return resp.Header, body
		}
		h, body := get("/.well-known/openid-configuration")
		if h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("config headers = %v", h)
		}
		var cfg struct {
			Issuer  string   `json:"issuer"`
			JWKSURI string   `json:"jwks_uri"`
			Algs    []string `json:"id_token_signing_alg_values_supported"`
		}
		if err := json.Unmarshal(body, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Issuer != issuer || !strings.HasSuffix(cfg.JWKSURI, "/openid/v1/jwks") || !strings.HasPrefix(cfg.JWKSURI, "https://") || !slices.Equal(cfg.Algs, []string{"RS256"}) {
			t.Errorf("config = %s", body)
		}
		h, body = get("/openid/v1/jwks")
		if h.Get("Content-Type") != "application/jwk-set+json" || h.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("jwks headers = %v", h)
		}
		var set struct {
			Keys []struct{ Kid, Kty, Alg, Use, N, E string } `json:"keys"`
		}
		if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
			t.Fatalf("jwks = %s (%v)", body, err)
		}
		k := set.Keys[0]
		parts := strings.Split(plain, ".")
		var header struct{ Alg, Kid string }
		raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
		if err := json.Unmarshal(raw, &header); err != nil {
			t.Fatal(err)
		}
		if header.Kid != k.Kid || header.Alg != "RS256" || k.Alg != "RS256" || k.Kty != "RSA" || k.Use != "sig" {
			t.Errorf("token header %+v, key %+v", header, k)
		}
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Errorf("the published key does not verify the token: %v", err)
		}
	})

	t.Run("legacy token secret", func(t *testing.T) {
		if _, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "legacy-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "legacy"}},
			Type:       corev1.SecretTypeServiceAccountToken,
		}
		if _, err := client.CoreV1().Secrets("default").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the token secret to be filled", func() bool {
			secret, err = client.CoreV1().Secrets("default").Get(ctx, "legacy-token", metav1.GetOptions{})
			return err == nil && len(secret.Data[corev1.ServiceAccountTokenKey]) > 0
		})
		caPEM, err := os.ReadFile(filepath.Join(s.DataDir(), "server", "tls", "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(secret.Data[corev1.ServiceAccountRootCAKey], caPEM) {
			t.Error("ca.crt is not the cluster CA")
		}
		if string(secret.Data[corev1.ServiceAccountNamespaceKey]) != "default" {
			t.Errorf("namespace = %q", secret.Data[corev1.ServiceAccountNamespaceKey])
		}
		legacySA, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "legacy", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := secret.Annotations[corev1.ServiceAccountUIDKey]; got != string(legacySA.UID) {
			t.Errorf("uid annotation = %q, want %s", got, legacySA.UID)
		}
		token := string(secret.Data[corev1.ServiceAccountTokenKey])
		if claims := payload(t, token); claims["iss"] != "kubernetes/serviceaccount" || claims["kubernetes.io/serviceaccount/secret.name"] != "legacy-token" {
			t.Errorf("legacy claims = %v", claims)
		}
		out, err := tokenKubectl(t, s, token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil || out != "system:serviceaccount:default:legacy" {
			t.Errorf("whoami = %q, %v", out, err)
		}
		waitFor(t, "the last-used label", func() bool {
			secret, err = client.CoreV1().Secrets("default").Get(ctx, "legacy-token", metav1.GetOptions{})
			return err == nil && secret.Labels[serviceaccount.LastUsedLabelKey] == time.Now().UTC().Format("2006-01-02")
		})

		// The tokens controller deletes the secret with its ServiceAccount.
		if err := client.CoreV1().ServiceAccounts("default").Delete(ctx, "legacy", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the token secret to go with its ServiceAccount", func() bool {
			_, err := client.CoreV1().Secrets("default").Get(ctx, "legacy-token", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		waitFor(t, "the legacy token to stop working", func() bool {
			_, err := tokenKubectl(t, s, token, "auth", "whoami")
			return err != nil && strings.Contains(err.Error(), "Unauthorized")
		})
	})

	t.Run("restart keeps the key", func(t *testing.T) {
		keyPath := filepath.Join(s.DataDir(), "server", "cred", serviceaccount.KeyFileName)
		before, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		after, err := os.ReadFile(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) || fi.Mode().Perm() != 0o600 {
			t.Errorf("key changed across the restart (mode %o)", fi.Mode().Perm())
		}
		out, err := tokenKubectl(t, s, plain, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil || out != "system:serviceaccount:default:default" {
			t.Errorf("token from before the restart: %q, %v", out, err)
		}
	})
}

// tokenKubectl runs stock kubectl with nothing but token for credentials; an
// error carries kubectl's stderr.
func tokenKubectl(t *testing.T, s *testserver.Server, token string, args ...string) (string, error) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "token.kubeconfig")
	cfg, err := clientcmd.LoadFromFile(s.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range cfg.AuthInfos {
		ai.ClientCertificate, ai.ClientCertificateData, ai.ClientKey, ai.ClientKeyData = "", nil, "", nil
		ai.Token = token
	}
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(s.DataDir(), "kubectl-cache"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), &kubectlError{err: err, stderr: errOut.String()}
	}
	return out.String(), nil
}

type kubectlError struct {
	err    error
	stderr string
}

func (e *kubectlError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

func tokenHTTPClient(t *testing.T, s *testserver.Server, token string) *http.Client {
	t.Helper()
	cfg, err := s.TokenConfig(token)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

func anonymousHTTPClient(t *testing.T, s *testserver.Server) *http.Client {
	t.Helper()
	admin, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(rest.AnonymousClientConfig(admin))
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
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

func equalExtra(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
