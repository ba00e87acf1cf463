package admission

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/klog/v2"
)

// CertificateSubjectRestrictionPluginName is the name kube-apiserver
// registers the CertificateSubjectRestriction admission plugin under.
const CertificateSubjectRestrictionPluginName = "CertificateSubjectRestriction"

func registerCertificateSubjectRestriction(plugins *admission.Plugins) {
	plugins.Register(CertificateSubjectRestrictionPluginName, func(io.Reader) (admission.Interface, error) {
		return &certificateSubjectRestriction{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// certificateSubjectRestriction refuses requests for API server client
// certificates in the system:masters group, which no authorizer can limit.
type certificateSubjectRestriction struct {
	*admission.Handler
}

var _ admission.ValidationInterface = &certificateSubjectRestriction{}

func (p *certificateSubjectRestriction) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != csrsResource || a.GetSubresource() != "" {
		return nil
	}
	csr, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	req, err := parseCertificateRequest(csr.Spec.Request)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to parse CSR: %v", err))
	}
	for _, group := range req.Subject.Organization {
		if group == "system:masters" {
			klog.V(4).InfoS("CSR rejected for requesting system:masters", "csr", csr.Name, "plugin", CertificateSubjectRestrictionPluginName, "signerName", certificatesv1.KubeAPIServerClientSignerName)
			return admission.NewForbidden(a, fmt.Errorf("use of %s signer with system:masters group is not allowed", certificatesv1.KubeAPIServerClientSignerName))
		}
	}
	return nil
}

func parseCertificateRequest(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
