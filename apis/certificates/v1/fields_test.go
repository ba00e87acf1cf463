package v1

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func TestCertificateFieldLabels(t *testing.T) {
	s := runtime.NewScheme()
	if err := addFieldLabelConversions(s); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kind, label string
		ok          bool
	}{
		{"CertificateSigningRequest", "spec.signerName", true},
		{"CertificateSigningRequest", "metadata.namespace", false},
		{"ClusterTrustBundle", "spec.signerName", true},
		{"PodCertificateRequest", "spec.nodeName", true},
		{"PodCertificateRequest", "spec.podName", true},
		{"PodCertificateRequest", "metadata.namespace", false},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.label, func(t *testing.T) {
			_, _, err := s.ConvertFieldLabel(certificatesv1.SchemeGroupVersion.WithKind(tt.kind), tt.label, "x")
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want accepted=%v", err, tt.ok)
			}
		})
	}
	req := &certificatesv1.PodCertificateRequest{Spec: certificatesv1.PodCertificateRequestSpec{SignerName: "s", PodName: "p", NodeName: types.NodeName("n")}}
	if set := PodCertificateRequestSelectableFields(req); set["spec.nodeName"] != "n" || set["spec.podName"] != "p" || set["spec.signerName"] != "s" {
		t.Errorf("field set %v", set)
	}
}
