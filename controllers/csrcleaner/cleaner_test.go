package csrcleaner

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
)

func certPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestClean checks upstream's windows: an hour for issued, denied and
// failed requests, a day for pending and approved-but-unissued ones, and
// at once for an issued certificate that has expired.
func TestClean(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	cond := func(typ certificatesv1.RequestConditionType, updated metav1.Time) []certificatesv1.CertificateSigningRequestCondition {
		return []certificatesv1.CertificateSigningRequestCondition{{Type: typ, Status: corev1.ConditionTrue, LastUpdateTime: updated}}
	}
	valid, expired := certPEM(t, now.Add(24*time.Hour)), certPEM(t, now.Add(-time.Minute))
	tests := []struct {
		name       string
		created    metav1.Time
		conditions []certificatesv1.CertificateSigningRequestCondition
		cert       []byte
		deleted    bool
	}{
		{name: "pending fresh", created: ago(23 * time.Hour)},
		{name: "pending a day", created: ago(25 * time.Hour), deleted: true},
		{name: "issued recently", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateApproved, ago(50*time.Minute)), cert: valid},
		{name: "issued an hour ago", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateApproved, ago(61*time.Minute)), cert: valid, deleted: true},
		{name: "issued and expired", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateApproved, ago(10*time.Minute)), cert: expired, deleted: true},
		{name: "approved unissued", created: ago(30 * time.Hour), conditions: cond(certificatesv1.CertificateApproved, ago(23*time.Hour))},
		{name: "approved unissued a day", created: ago(30 * time.Hour), conditions: cond(certificatesv1.CertificateApproved, ago(25*time.Hour)), deleted: true},
		{name: "denied recently", created: ago(30 * time.Hour), conditions: cond(certificatesv1.CertificateDenied, ago(59*time.Minute))},
		{name: "denied an hour ago", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateDenied, ago(61*time.Minute)), deleted: true},
		{name: "failed recently", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateFailed, ago(59*time.Minute))},
		{name: "failed an hour ago", created: ago(2 * time.Hour), conditions: cond(certificatesv1.CertificateFailed, ago(61*time.Minute)), deleted: true},
		// A condition without a time never ages.
		{name: "denied without a time", created: ago(100 * time.Hour), conditions: cond(certificatesv1.CertificateDenied, metav1.Time{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "csr", UID: "u", CreationTimestamp: tt.created},
				Status:     certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conditions, Certificate: tt.cert},
			}
			client := fake.NewClientset(csr)
			inf := informers.NewSharedInformerFactory(client, 0).Certificates().V1().CertificateSigningRequests()
			if err := inf.Informer().GetIndexer().Add(csr); err != nil {
				t.Fatal(err)
			}
			New(client, inf, clocktesting.NewFakePassiveClock(now)).CleanAll(t.Context())
			_, err := client.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "csr", metav1.GetOptions{})
			if gone := err != nil; gone != tt.deleted {
				t.Errorf("deleted %v, want %v", gone, tt.deleted)
			}
		})
	}
}
