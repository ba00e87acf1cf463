package admission

import (
	"context"
	"fmt"
	"io"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/klog/v2"
)

// ClusterTrustBundleAttestPluginName is the name kube-apiserver registers
// the ClusterTrustBundleAttest admission plugin under.
const ClusterTrustBundleAttestPluginName = "ClusterTrustBundleAttest"

var clusterTrustBundlesResource = certificatesv1.Resource("clustertrustbundles")

func registerClusterTrustBundleAttest(plugins *admission.Plugins) {
	plugins.Register(ClusterTrustBundleAttestPluginName, func(io.Reader) (admission.Interface, error) {
		return &ctbAttest{withAuthorizer: newWithAuthorizer(ClusterTrustBundleAttestPluginName, admission.Create, admission.Update)}, nil
	})
}

// ctbAttest lets only users with "attest" on a bundle's signer write a
// ClusterTrustBundle that names a signer, since consumers trust such a
// bundle as that signer's. The ClusterTrustBundle gate is GA and on in
// 1.37, so the plugin is always active.
type ctbAttest struct {
	withAuthorizer
}

var (
	_ admission.ValidationInterface                     = &ctbAttest{}
	_ admission.InitializationValidator                 = &ctbAttest{}
	_ genericadmissioninit.WantsUnconditionalAuthorizer = &ctbAttest{}
)

func (p *ctbAttest) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != clusterTrustBundlesResource {
		return nil
	}
	bundle, ok := a.GetObject().(*certificatesv1.ClusterTrustBundle)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type ClusterTrustBundle, got: %T", a.GetOldObject()))
	}
	if bundle.Spec.SignerName == "" {
		return nil
	}
	// The garbage collector must be able to update owner references and
	// finalizers of a bundle without attest permission.
	if a.GetOperation() == admission.Update {
		if old, ok := a.GetOldObject().(*certificatesv1.ClusterTrustBundle); ok && onlyGCFieldsChanged(bundle, old) {
			return nil
		}
	}
	if !authorizedForSigner(ctx, p.authz, a.GetUserInfo(), "attest", bundle.Spec.SignerName) {
		klog.V(4).InfoS("User not permitted to attest ClusterTrustBundle", "clusterTrustBundle", bundle.Name, "signerName", bundle.Spec.SignerName)
		return admission.NewForbidden(a, fmt.Errorf("user not permitted to attest for signerName %q", bundle.Spec.SignerName))
	}
	return nil
}

func onlyGCFieldsChanged(bundle, old *certificatesv1.ClusterTrustBundle) bool {
	c := bundle.DeepCopy()
	c.OwnerReferences = old.OwnerReferences
	c.Finalizers = old.Finalizers
	c.SelfLink = old.SelfLink //nolint:staticcheck // compared as upstream does
	c.ManagedFields = old.ManagedFields
	return apiequality.Semantic.DeepEqual(c, old)
}
