package csrsigning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func newCA(t *testing.T, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: notAfter.Add(-10 * 365 * 24 * time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func csrPEM(t *testing.T, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestSync drives Sync over requests in each state, checking what it
// writes.
func TestSync(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	approved := []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	client := []certificatesv1.KeyUsage{certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth, certificatesv1.UsageDigitalSignature}
	good := csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u"}})
	// A request whose signature no longer matches its content.
	tampered := func() []byte {
		block, _ := pem.Decode(csrPEM(t, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u"}}))
		block.Bytes[len(block.Bytes)-3] ^= 0xff
		return pem.EncodeToMemory(block)
	}()
	tests := []struct {
		name       string
		caNotAfter time.Time
		signer     string
		request    []byte
		conditions []certificatesv1.CertificateSigningRequestCondition
		// wantNotAfter is the certificate's end; zero means no certificate.
		wantNotAfter time.Time
		wantErr      string
		wantFailed   string
	}{
		{name: "pending", signer: certificatesv1.KubeAPIServerClientSignerName, request: good},
		{name: "denied too", signer: certificatesv1.KubeAPIServerClientSignerName, request: good,
			conditions: append([]certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}}, approved...)},
		{name: "other signer", signer: "example.com/x", request: good, conditions: approved},
		{name: "signed", signer: certificatesv1.KubeAPIServerClientSignerName, request: good, conditions: approved,
			wantNotAfter: now.Add(DefaultDuration - backdate)},
		{name: "legacy unknown takes anything", signer: certificatesv1beta1LegacyUnknown, request: good, conditions: approved,
			wantNotAfter: now.Add(DefaultDuration - backdate)},
		{name: "clamped to the CA", caNotAfter: now.Add(time.Hour), signer: certificatesv1.KubeAPIServerClientSignerName, request: good, conditions: approved,
			wantNotAfter: now.Add(time.Hour)},
		{name: "CA expired", caNotAfter: now.Add(-time.Hour), signer: certificatesv1.KubeAPIServerClientSignerName, request: good, conditions: approved,
			wantErr: "the signer has expired"},
		{name: "bad signature", signer: certificatesv1.KubeAPIServerClientSignerName, request: tampered, conditions: approved,
			wantErr: "unable to verify certificate request signature"},
		{name: "not PEM", signer: certificatesv1.KubeAPIServerClientSignerName, request: []byte("junk"), conditions: approved,
			wantErr: "PEM block type must be CERTIFICATE REQUEST"},
		{name: "refused by the signer", signer: certificatesv1.KubeletServingSignerName, request: good, conditions: approved,
			wantFailed: "subject organization is not system:nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.caNotAfter.IsZero() {
				tt.caNotAfter = now.Add(5 * 365 * 24 * time.Hour)
			}
			caCert, caKey := newCA(t, tt.caNotAfter)
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "r"},
				Spec:       certificatesv1.CertificateSigningRequestSpec{Request: tt.request, SignerName: tt.signer, Usages: client},
				Status:     certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conditions},
			}
			cs := fake.NewClientset(csr)
			inf := informers.NewSharedInformerFactory(cs, 0).Certificates().V1().CertificateSigningRequests()
			c, err := New(cs, inf, caCert, caKey, DefaultDuration)
			if err != nil {
				t.Fatal(err)
			}
			c.now = func() time.Time { return now }
			if err := inf.Informer().GetIndexer().Add(csr); err != nil {
				t.Fatal(err)
			}
			err = c.Sync(t.Context(), "r")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, err := cs.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "r", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			failed := ""
			for _, cond := range got.Status.Conditions {
				if cond.Type == certificatesv1.CertificateFailed {
					failed = cond.Message
				}
			}
			if failed != tt.wantFailed {
				t.Errorf("Failed message %q, want %q", failed, tt.wantFailed)
			}
			if tt.wantNotAfter.IsZero() {
				if len(got.Status.Certificate) != 0 {
					t.Errorf("signed, want no certificate")
				}
				return
			}
			block, _ := pem.Decode(got.Status.Certificate)
			if block == nil {
				t.Fatal("no certificate")
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.CheckSignatureFrom(caCert); err != nil {
				t.Errorf("not signed by the CA: %v", err)
			}
			if !cert.NotAfter.Equal(tt.wantNotAfter) || !cert.NotBefore.Equal(now.Add(-backdate)) {
				t.Errorf("valid %v to %v, want %v to %v", cert.NotBefore, cert.NotAfter, now.Add(-backdate), tt.wantNotAfter)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment || len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("usages %v %v", cert.KeyUsage, cert.ExtKeyUsage)
			}
		})
	}
}

const certificatesv1beta1LegacyUnknown = "kubernetes.io/legacy-unknown"

// TestLifetime: a requested lifetime between ten minutes and the signing
// duration is kept, others are brought within it.
func TestLifetime(t *testing.T) {
	c := &Controller{duration: 24 * time.Hour}
	for _, tt := range []struct {
		seconds *int32
		want    time.Duration
	}{
		{nil, 24 * time.Hour},
		{ptr(60), 10 * time.Minute},
		{ptr(600), 10 * time.Minute},
		{ptr(3600), time.Hour},
		{ptr(2 * 86400), 24 * time.Hour},
	} {
		if got := c.lifetime(tt.seconds); got != tt.want {
			t.Errorf("lifetime(%v) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}

func ptr(i int32) *int32 { return &i }

// TestKeyUsages: unknown usages are refused with upstream's message;
// extended usages come out sorted and once.
func TestKeyUsages(t *testing.T) {
	_, ext, err := keyUsages([]certificatesv1.KeyUsage{certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth})
	if err != nil || len(ext) != 2 || ext[0] != x509.ExtKeyUsageServerAuth || ext[1] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ext %v, %v", ext, err)
	}
	_, _, err = keyUsages([]certificatesv1.KeyUsage{"flying"})
	if err == nil || err.Error() != `unrecognized usage values: ["flying"]` {
		t.Errorf("error %v", err)
	}
}
