package admission

import (
	"context"
	"fmt"
	"io"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/klog/v2"
)

// CertificateApprovalPluginName is the name kube-apiserver registers the
// CertificateApproval admission plugin under.
const CertificateApprovalPluginName = "CertificateApproval"

var csrsResource = certificatesv1.Resource("certificatesigningrequests")

func registerCertificateApproval(plugins *admission.Plugins) {
	plugins.Register(CertificateApprovalPluginName, func(io.Reader) (admission.Interface, error) {
		return &certificateApproval{withAuthorizer: newWithAuthorizer(CertificateApprovalPluginName, admission.Update)}, nil
	})
}

// certificateApproval lets only users with "approve" on the request's
// signer approve or deny it.
type certificateApproval struct {
	withAuthorizer
}

var (
	_ admission.ValidationInterface                     = &certificateApproval{}
	_ admission.InitializationValidator                 = &certificateApproval{}
	_ genericadmissioninit.WantsUnconditionalAuthorizer = &certificateApproval{}
)

func (p *certificateApproval) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "approval" || a.GetResource().GroupResource() != csrsResource {
		return nil
	}
	// The signer is taken from the stored request: the update may not
	// change it, and the caller must not pick the one it is judged by.
	csr, ok := a.GetOldObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetOldObject()))
	}
	if !authorizedForSigner(ctx, p.authz, a.GetUserInfo(), "approve", csr.Spec.SignerName) {
		klog.V(4).InfoS("User not permitted to approve CertificateSigningRequest", "csr", csr.Name, "signerName", csr.Spec.SignerName)
		return admission.NewForbidden(a, fmt.Errorf("user not permitted to approve requests with signerName %q", csr.Spec.SignerName))
	}
	return nil
}
