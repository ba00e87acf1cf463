package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// webhookServer serves admission webhooks over TLS on loopback with a CA
// of its own, whose bundle it returns.
func webhookServer(t *testing.T, handler http.Handler) (url string, caBundle []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// reviewHandler answers AdmissionReviews with decide's response.
func reviewHandler(t *testing.T, decide func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var review admissionv1.AdmissionReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
			t.Errorf("webhook got an undecodable review: %v", err)
			http.Error(w, "bad review", http.StatusBadRequest)
			return
		}
		resp := decide(review.Request)
		resp.UID = review.Request.UID
		review.Response, review.Request = resp, nil
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&review)
	}
}

// onlyIn matches objects in namespace ns, so the test's admission
// configuration never touches other tests' objects.
func onlyIn(ns string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}
}

var configMapCreates = []admissionregistrationv1.RuleWithOperations{{
	Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
	Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
}}

// admissionLag bounds how long new admission configuration takes to come
// into force; upstream applies it from informers too, with a short lag.
const admissionLag = 30 * time.Second

func TestAdmissionWebhooks(t *testing.T) {
	ns := namespace(t)
	cs := clientset(t)
	ctx := t.Context()
	mux := http.NewServeMux()
	mux.Handle("/validate", reviewHandler(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		var cm corev1.ConfigMap
		if err := json.Unmarshal(req.Object.Raw, &cm); err != nil {
			return &admissionv1.AdmissionResponse{Result: &metav1.Status{Message: err.Error()}}
		}
		if cm.Data["forbidden"] != "" {
			return &admissionv1.AdmissionResponse{Result: &metav1.Status{Code: http.StatusForbidden, Message: "the key forbidden is not allowed"}}
		}
		return &admissionv1.AdmissionResponse{Allowed: true}
	}))
	mux.Handle("/mutate", reviewHandler(t, func(req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		patch := `[{"op":"add","path":"/metadata/labels","value":{"mutated-by":"webhook"}}]`
		return &admissionv1.AdmissionResponse{Allowed: true, Patch: []byte(patch), PatchType: ptr.To(admissionv1.PatchTypeJSONPatch)}
	}))
	url, ca := webhookServer(t, mux)

	sideEffects := admissionregistrationv1.SideEffectClassNone
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "deny.e2e.skiff.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + "/validate"), CABundle: ca},
			Rules:                   configMapCreates,
			NamespaceSelector:       onlyIn(ns),
			SideEffects:             &sideEffects,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, vwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), vwc.Name, metav1.DeleteOptions{})
	})
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "label.e2e.skiff.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(url + "/mutate"), CABundle: ca},
			Rules:                   configMapCreates,
			NamespaceSelector:       onlyIn(ns),
			SideEffects:             &sideEffects,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, mwc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(context.Background(), mwc.Name, metav1.DeleteOptions{})
	})

	var msg string
	eventually(t, admissionLag, "the admission configuration in force", func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "denied-"}, Data: map[string]string{"forbidden": "x"}}
		_, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
		if err == nil {
			return errors.New("created")
		}
		msg = err.Error()
		return nil
	})
	if want := `admission webhook "deny.e2e.skiff.dev" denied the request: the key forbidden is not allowed`; msg != want {
		t.Errorf("denial = %q, want %q", msg, want)
	}
	out := kubectlFails(t, "", "create", "configmap", "by-kubectl", "-n", ns, "--from-literal=forbidden=yes")
	mustContain(t, "kubectl create", out, `error: failed to create configmap: admission webhook "deny.e2e.skiff.dev" denied the request: the key forbidden is not allowed`)

	eventually(t, admissionLag, "the admission configuration in force", func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "allowed-"}, Data: map[string]string{"fine": "x"}}
		got, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if got.Labels["mutated-by"] != "webhook" {
			return fmt.Errorf("labels %v", got.Labels)
		}
		return nil
	})
}

func TestAdmissionPolicies(t *testing.T) {
	ns := namespace(t)
	cs := clientset(t)
	ctx := t.Context()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-max-keys"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: configMapCreates[0]}}},
			Validations: []admissionregistrationv1.Validation{
				{Expression: "!has(object.data) || object.data.size() <= 2"},
				{Expression: "object.metadata.name != 'reserved'", Message: "the name reserved is taken"},
			},
		},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-max-keys"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources:    &admissionregistrationv1.MatchResources{NamespaceSelector: onlyIn(ns)},
		},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mutating := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-stamp"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:      ptr.To(admissionregistrationv1.Fail),
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
			MatchConstraints:   &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: configMapCreates[0]}}},
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: `Object{metadata: Object.metadata{annotations: {"stamped-by": "policy"}}}`,
				},
			}},
		},
	}
	if _, err := cs.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, mutating, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mbinding := &admissionregistrationv1.MutatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-stamp"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
			PolicyName:     mutating.Name,
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: onlyIn(ns)},
		},
	}
	if _, err := cs.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Create(ctx, mbinding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		a := cs.AdmissionregistrationV1()
		_ = a.ValidatingAdmissionPolicyBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
		_ = a.ValidatingAdmissionPolicies().Delete(ctx, policy.Name, metav1.DeleteOptions{})
		_ = a.MutatingAdmissionPolicyBindings().Delete(ctx, mbinding.Name, metav1.DeleteOptions{})
		_ = a.MutatingAdmissionPolicies().Delete(ctx, mutating.Name, metav1.DeleteOptions{})
	})

	var msg string
	eventually(t, admissionLag, "the admission configuration in force", func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "big-"}, Data: map[string]string{"a": "1", "b": "2", "c": "3"}}
		_, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
		if err == nil {
			return errors.New("created")
		}
		msg = err.Error()
		return nil
	})
	want := `configmaps "big-" is forbidden: ValidatingAdmissionPolicy '` + policy.Name + `' with binding '` + binding.Name +
		`' denied request: failed expression: !has(object.data) || object.data.size() <= 2`
	if !strings.HasPrefix(msg, `configmaps "big-`) || !strings.Contains(msg, strings.TrimPrefix(want, `configmaps "big-" `)) {
		t.Errorf("denial = %q, want %q", msg, want)
	}
	out := kubectlFails(t, "", "create", "configmap", "reserved", "-n", ns)
	mustContain(t, "kubectl create", out, `error: failed to create configmap: configmaps "reserved" is forbidden: ValidatingAdmissionPolicy '`+policy.Name+`' with binding '`+binding.Name+`' denied request: the name reserved is taken`)

	eventually(t, admissionLag, "the admission configuration in force", func() error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "small-"}, Data: map[string]string{"a": "1"}}
		got, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), cm, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if got.Annotations["stamped-by"] != "policy" {
			return fmt.Errorf("annotations %v", got.Annotations)
		}
		return nil
	})
}
