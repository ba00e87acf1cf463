package admission

import (
	"bytes"
	"context"
	"fmt"
	"io"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/klog/v2"
)

// CertificateSigningPluginName is the name kube-apiserver registers the
// CertificateSigning admission plugin under.
const CertificateSigningPluginName = "CertificateSigning"

func registerCertificateSigning(plugins *admission.Plugins) {
	plugins.Register(CertificateSigningPluginName, func(io.Reader) (admission.Interface, error) {
		return &certificateSigning{withAuthorizer: newWithAuthorizer(CertificateSigningPluginName, admission.Update)}, nil
	})
}

// certificateSigning lets only users with "sign" on the request's signer
// set its certificate or change its status conditions.
type certificateSigning struct {
	withAuthorizer
}

var (
	_ admission.ValidationInterface                     = &certificateSigning{}
	_ admission.InitializationValidator                 = &certificateSigning{}
	_ genericadmissioninit.WantsUnconditionalAuthorizer = &certificateSigning{}
)

func (p *certificateSigning) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "status" || a.GetResource().GroupResource() != csrsResource {
		return nil
	}
	old, ok := a.GetOldObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetOldObject()))
	}
	csr, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	// A status update that leaves certificate and conditions alone needs
	// no signer permission.
	if bytes.Equal(old.Status.Certificate, csr.Status.Certificate) && (old.Status.Certificate == nil) == (csr.Status.Certificate == nil) &&
		apiequality.Semantic.DeepEqual(old.Status.Conditions, csr.Status.Conditions) {
		return nil
	}
	if !authorizedForSigner(ctx, p.authz, a.GetUserInfo(), "sign", old.Spec.SignerName) {
		klog.V(4).InfoS("User not permitted to sign CertificateSigningRequest", "csr", old.Name, "signerName", old.Spec.SignerName)
		return admission.NewForbidden(a, fmt.Errorf("user not permitted to sign requests with signerName %q", old.Spec.SignerName))
	}
	return nil
}
