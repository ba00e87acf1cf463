package csrsigning_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/server/bootstraptoken"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s }))
}

func adminClient(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request is a fresh key and a PEM certificate request for tmpl.
func request(t *testing.T, tmpl *x509.CertificateRequest) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func createCSR(t *testing.T, client kubernetes.Interface, name, signer string, req []byte, usages []certificatesv1.KeyUsage, expirationSeconds *int32) {
	t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: req, SignerName: signer, Usages: usages, ExpirationSeconds: expirationSeconds,
		},
	}
	// A requester's credentials and bindings reach the server's caches a
	// moment after they are made.
	var err error
	_ = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err = client.CertificatesV1().CertificateSigningRequests().Create(ctx, csr, metav1.CreateOptions{})
		return !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adminClient(t).CertificatesV1().CertificateSigningRequests().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// waitFor polls the CSR named name until done says so.
func waitFor(t *testing.T, name string, done func(*certificatesv1.CertificateSigningRequest) bool) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var last *certificatesv1.CertificateSigningRequest
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		csr, err := adminClient(t).CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = csr
		return done(csr), nil
	})
	if err != nil {
		t.Fatalf("waiting for csr %s: %v; last seen status: %+v", name, err, last.Status)
	}
	return last
}

func issued(csr *certificatesv1.CertificateSigningRequest) bool {
	return len(csr.Status.Certificate) > 0
}

func certificate(t *testing.T, csr *certificatesv1.CertificateSigningRequest) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(csr.Status.Certificate)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("status.certificate is not a PEM certificate: %q", csr.Status.Certificate)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func condition(csr *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == typ {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

// TestClientCertificate is the way a user gets a credential: a CSR for the
// kube-apiserver-client signer, `kubectl certificate approve`, and the
// issued certificate then authenticates as the requested user.
func TestClientCertificate(t *testing.T) {
	key, req := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice", Organization: []string{"devs", "qa"}}})
	createCSR(t, adminClient(t), "alice", certificatesv1.KubeAPIServerClientSignerName, req, []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, nil)
	if _, _, err := server.Kubectl(t, "certificate", "approve", "alice"); err != nil {
		t.Fatal(err)
	}
	csr := waitFor(t, "alice", issued)
	cert := certificate(t, csr)
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || cert.IsCA {
		t.Errorf("usages %v, CA %v; want client auth only, not a CA", cert.ExtKeyUsage, cert.IsCA)
	}
	// A year less the five minutes of backdating either end.
	if got, want := cert.NotAfter.Sub(cert.NotBefore), 365*24*time.Hour; got != want {
		t.Errorf("validity %v, want %v", got, want)
	}

	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(server.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	kc := clientcmdapi.NewConfig()
	for name, c := range admin.Clusters {
		kc.Clusters[name] = c
		kc.Contexts["alice"] = &clientcmdapi.Context{Cluster: name, AuthInfo: "alice"}
	}
	kc.AuthInfos["alice"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: csr.Status.Certificate,
		ClientKeyData:         pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	kc.CurrentContext = "alice"
	path := filepath.Join(t.TempDir(), "alice.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	out, _, err := server.Kubectl(t, "--kubeconfig", path, "auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var review authenticationv1.SelfSubjectReview
	if err := json.Unmarshal([]byte(out), &review); err != nil {
		t.Fatal(err)
	}
	ui := review.Status.UserInfo
	if ui.Username != "alice" || !slices.Contains(ui.Groups, "devs") || !slices.Contains(ui.Groups, "qa") || !slices.Contains(ui.Groups, "system:authenticated") {
		t.Errorf("whoami: %+v, want alice in devs, qa and system:authenticated", ui)
	}
}

// TestExpirationSeconds: a requested lifetime is honoured between ten
// minutes and the signing duration; short certificates are backdated at
// the start only.
func TestExpirationSeconds(t *testing.T) {
	tests := []struct {
		name    string
		seconds *int32
		want    time.Duration
	}{
		{"one hour", ptr.To[int32](3600), time.Hour + 5*time.Minute},
		{"below the minimum", ptr.To[int32](600), 15 * time.Minute},
		{"a day", ptr.To[int32](86400), 24 * time.Hour},
		{"beyond the signing duration", ptr.To[int32](2 * 365 * 86400), 365 * 24 * time.Hour},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("expiry-%d", i)
			_, req := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}})
			createCSR(t, adminClient(t), name, certificatesv1.KubeAPIServerClientSignerName, req,
				[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, tt.seconds)
			if _, _, err := server.Kubectl(t, "certificate", "approve", name); err != nil {
				t.Fatal(err)
			}
			cert := certificate(t, waitFor(t, name, issued))
			if got := cert.NotAfter.Sub(cert.NotBefore); got != tt.want {
				t.Errorf("validity %v, want %v", got, tt.want)
			}
			if since := time.Since(cert.NotBefore); since < 4*time.Minute || since > 6*time.Minute {
				t.Errorf("NotBefore %v is not backdated five minutes", cert.NotBefore)
			}
		})
	}
}

// TestInvalidRequests: an approved request its signer's rules refuse
// fails with upstream's reason and message, and gets no certificate.
func TestInvalidRequests(t *testing.T) {
	nodeSubject := pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}
	tests := []struct {
		name    string
		signer  string
		tmpl    *x509.CertificateRequest
		usages  []certificatesv1.KeyUsage
		message string
	}{
		{"client with server auth", certificatesv1.KubeAPIServerClientSignerName,
			&x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob"}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth},
			"invalid usage for client certificate: server auth"},
		{"client without client auth", certificatesv1.KubeAPIServerClientSignerName,
			&x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob"}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature},
			"missing required usage for client certificate: client auth"},
		{"kubelet client not a node", certificatesv1.KubeAPIServerClientKubeletSignerName,
			&x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob", Organization: []string{"system:nodes"}}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			"subject common name does not begin with system:node:"},
		{"kubelet client other group", certificatesv1.KubeAPIServerClientKubeletSignerName,
			&x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:masters"}}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			"subject organization is not system:nodes"},
		{"kubelet client with a DNS name", certificatesv1.KubeAPIServerClientKubeletSignerName,
			&x509.CertificateRequest{Subject: nodeSubject, DNSNames: []string{"n1"}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			"DNS subjectAltNames are not allowed"},
		{"kubelet client wrong usages", certificatesv1.KubeAPIServerClientKubeletSignerName,
			&x509.CertificateRequest{Subject: nodeSubject},
			[]certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			"usages did not match [client auth digital signature key encipherment]"},
		{"kubelet serving without names", certificatesv1.KubeletServingSignerName,
			&x509.CertificateRequest{Subject: nodeSubject},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
			"DNS or IP subjectAltName is required"},
		{"kubelet serving with an email", certificatesv1.KubeletServingSignerName,
			&x509.CertificateRequest{Subject: nodeSubject, DNSNames: []string{"n1"}, EmailAddresses: []string{"n1@example.com"}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
			"Email subjectAltNames are not allowed"},
		{"kubelet serving client usages", certificatesv1.KubeletServingSignerName,
			&x509.CertificateRequest{Subject: nodeSubject, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			"usages did not match [digital signature key encipherment server auth]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("invalid-%d", i)
			_, req := request(t, tt.tmpl)
			createCSR(t, adminClient(t), name, tt.signer, req, tt.usages, nil)
			if _, _, err := server.Kubectl(t, "certificate", "approve", name); err != nil {
				t.Fatal(err)
			}
			csr := waitFor(t, name, func(csr *certificatesv1.CertificateSigningRequest) bool {
				return condition(csr, certificatesv1.CertificateFailed) != nil || issued(csr)
			})
			c := condition(csr, certificatesv1.CertificateFailed)
			if c == nil || issued(csr) {
				t.Fatalf("got a certificate, want a Failed condition: %+v", csr.Status.Conditions)
			}
			if c.Status != corev1.ConditionTrue || c.Reason != "SignerValidationFailure" || c.Message != tt.message {
				t.Errorf("Failed condition %+v, want True, SignerValidationFailure, %q", c, tt.message)
			}
		})
	}
	// kubectl shows it as upstream's would.
	out, _, err := server.Kubectl(t, "get", "csr", "invalid-0", "--no-headers")
	if err == nil && !strings.Contains(out, "Approved,Failed") {
		t.Errorf("kubectl get csr: %q, want condition Approved,Failed", out)
	}
}

// TestKubeletServing: a node's serving certificate, with its names.
func TestKubeletServing(t *testing.T) {
	_, req := request(t, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}},
		DNSNames: []string{"n1.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.7")},
	})
	createCSR(t, adminClient(t), "serving-n1", certificatesv1.KubeletServingSignerName, req,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}, nil)
	if _, _, err := server.Kubectl(t, "certificate", "approve", "serving-n1"); err != nil {
		t.Fatal(err)
	}
	cert := certificate(t, waitFor(t, "serving-n1", issued))
	if !slices.Equal(cert.DNSNames, []string{"n1.example.com"}) || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) {
		t.Errorf("names %v %v", cert.DNSNames, cert.IPAddresses)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("usages %v %v, want server auth and digital signature", cert.ExtKeyUsage, cert.KeyUsage)
	}
}

// TestDeniedAndForeignSigners: nothing is signed without approval, after
// denial, or for a signer that is not Kubernetes' own.
func TestDeniedAndForeignSigners(t *testing.T) {
	_, req := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "carol"}})
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}
	createCSR(t, adminClient(t), "denied", certificatesv1.KubeAPIServerClientSignerName, req, usages, nil)
	createCSR(t, adminClient(t), "foreign", "example.com/signer", req, usages, nil)
	if _, _, err := server.Kubectl(t, "certificate", "deny", "denied"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Kubectl(t, "certificate", "approve", "foreign"); err != nil {
		t.Fatal(err)
	}
	// The approvals above reached the controllers after each other; a
	// client certificate signed after both shows they have been looked at.
	_, req2 := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dave"}})
	createCSR(t, adminClient(t), "marker", certificatesv1.KubeAPIServerClientSignerName, req2, usages, nil)
	if _, _, err := server.Kubectl(t, "certificate", "approve", "marker"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "marker", issued)
	time.Sleep(500 * time.Millisecond)
	for _, name := range []string{"denied", "foreign"} {
		csr, err := adminClient(t).CertificatesV1().CertificateSigningRequests().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if issued(csr) || condition(csr, certificatesv1.CertificateFailed) != nil {
			t.Errorf("%s: signed or failed: %+v", name, csr.Status)
		}
	}
}

// TestKubeletBootstrap is a node joining: with a bootstrap token it asks
// for its client certificate, which is approved automatically (the token's
// group may create nodeclient requests) and signed; a user without that
// permission gets no automatic approval.
func TestKubeletBootstrap(t *testing.T) {
	admin := adminClient(t)
	tok, err := bootstraptoken.Create(t.Context(), admin, bootstraptoken.Options{
		TTL: time.Hour, Usages: bootstraptoken.DefaultUsages, Groups: []string{bootstraptoken.DefaultGroup},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := server.TokenConfig(tok.String())
	if err != nil {
		t.Fatal(err)
	}
	node, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	_, req := request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:joiner", Organization: []string{"system:nodes"}}})
	// The server learns of a new token from its informer; until then the
	// token is refused.
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := node.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for the bootstrap token to authenticate: %v", err)
	}
	createCSR(t, node, "node-csr-joiner", certificatesv1.KubeAPIServerClientKubeletSignerName, req, usages, nil)
	csr := waitFor(t, "node-csr-joiner", issued)
	c := condition(csr, certificatesv1.CertificateApproved)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "AutoApproved" || c.Message != "Auto approving kubelet client certificate after SubjectAccessReview." {
		t.Errorf("approval %+v", c)
	}
	if cert := certificate(t, csr); cert.Subject.CommonName != "system:node:joiner" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject %v", cert.Subject)
	}

	// A user allowed to create CSRs but not bound to nodeclient.
	_, _, err = server.Kubectl(t, "create", "clusterrolebinding", "csr-test-creator", "--clusterrole=system:node-bootstrapper", "--user=mallory")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _, _ = server.Kubectl(t, "delete", "clusterrolebinding", "csr-test-creator") })
	mallory, err := server.UserClientset("mallory")
	if err != nil {
		t.Fatal(err)
	}
	_, req = request(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:mallory", Organization: []string{"system:nodes"}}})
	createCSR(t, mallory, "node-csr-mallory", certificatesv1.KubeAPIServerClientKubeletSignerName, req, usages, nil)
	time.Sleep(2 * time.Second)
	got, err := admin.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "node-csr-mallory", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Conditions) != 0 || issued(got) {
		t.Errorf("a request without nodeclient permission was acted on: %+v", got.Status)
	}
}
