package csrapproving

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func csrPEM(t *testing.T, cn string, org ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: org}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestSync: which reviews are asked for which request, and what an
// allowed one writes.
func TestSync(t *testing.T) {
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	tests := []struct {
		name       string
		username   string
		request    []byte
		signer     string
		conditions []certificatesv1.CertificateSigningRequestCondition
		allowed    map[string]bool // subresource -> allowed
		wantAsked  []string
		wantMsg    string
		wantErr    bool
	}{
		{name: "bootstrap", username: "system:bootstrap:abcdef", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, allowed: map[string]bool{"nodeclient": true},
			wantAsked: []string{"nodeclient"}, wantMsg: "Auto approving kubelet client certificate after SubjectAccessReview."},
		{name: "renewal", username: "system:node:n1", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, allowed: map[string]bool{"selfnodeclient": true},
			wantAsked: []string{"selfnodeclient"}, wantMsg: "Auto approving self kubelet client certificate after SubjectAccessReview."},
		{name: "renewal without selfnodeclient", username: "system:node:n1", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, allowed: map[string]bool{"nodeclient": true},
			wantAsked: []string{"selfnodeclient", "nodeclient"}, wantMsg: "Auto approving kubelet client certificate after SubjectAccessReview."},
		{name: "refused", username: "mallory", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, wantAsked: []string{"nodeclient"}, wantErr: true},
		{name: "not a node certificate", username: "system:bootstrap:abcdef", request: csrPEM(t, "alice"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, allowed: map[string]bool{"nodeclient": true}},
		{name: "another signer", username: "system:bootstrap:abcdef", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientSignerName, allowed: map[string]bool{"nodeclient": true}},
		{name: "already denied", username: "system:bootstrap:abcdef", request: csrPEM(t, "system:node:n1", "system:nodes"),
			signer: certificatesv1.KubeAPIServerClientKubeletSignerName, allowed: map[string]bool{"nodeclient": true},
			conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "r"},
				Spec: certificatesv1.CertificateSigningRequestSpec{Request: tt.request, SignerName: tt.signer, Usages: usages,
					Username: tt.username, Groups: []string{"g"}},
				Status: certificatesv1.CertificateSigningRequestStatus{Conditions: tt.conditions},
			}
			client := fake.NewClientset(csr)
			var asked []string
			client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
				sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
				if sar.Spec.User != tt.username || len(sar.Spec.Groups) != 1 {
					t.Errorf("review for %q %v", sar.Spec.User, sar.Spec.Groups)
				}
				sub := sar.Spec.ResourceAttributes.Subresource
				asked = append(asked, sub)
				sar.Status.Allowed = tt.allowed[sub]
				return true, sar, nil
			})
			inf := informers.NewSharedInformerFactory(client, 0).Certificates().V1().CertificateSigningRequests()
			c, err := New(client, inf)
			if err != nil {
				t.Fatal(err)
			}
			if err := inf.Informer().GetIndexer().Add(csr); err != nil {
				t.Fatal(err)
			}
			err = c.Sync(t.Context(), "r")
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want one: %v", err, tt.wantErr)
			}
			if len(asked) != len(tt.wantAsked) || (len(asked) > 0 && asked[0] != tt.wantAsked[0]) {
				t.Errorf("asked %v, want %v", asked, tt.wantAsked)
			}
			got, err := client.CertificatesV1().CertificateSigningRequests().Get(t.Context(), "r", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			msg := ""
			for _, cond := range got.Status.Conditions {
				if cond.Type == certificatesv1.CertificateApproved {
					if cond.Reason != "AutoApproved" || cond.Status != corev1.ConditionTrue {
						t.Errorf("approval %+v", cond)
					}
					msg = cond.Message
				}
			}
			if msg != tt.wantMsg {
				t.Errorf("approval message %q, want %q", msg, tt.wantMsg)
			}
		})
	}
}
