package v1

import (
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apis/internal/fieldlabel"
)

func addFieldLabelConversions(s *runtime.Scheme) error {
	for kind, fn := range map[string]runtime.FieldLabelConversionFunc{
		"CertificateSigningRequest": fieldlabel.Accepting("metadata.name", "spec.signerName"),
		"ClusterTrustBundle":        fieldlabel.Accepting("metadata.name", "spec.signerName"),
		"PodCertificateRequest": fieldlabel.Accepting(
			"metadata.name", "spec.signerName", "spec.podName", "spec.nodeName"),
	} {
		if err := fieldlabel.Register(s, certificatesv1.SchemeGroupVersion.WithKind(kind), fn); err != nil {
			return err
		}
	}
	return nil
}

// CertificateSigningRequestSelectableFields is the field set a field
// selector on certificate signing requests matches.
func CertificateSigningRequestSelectableFields(csr *certificatesv1.CertificateSigningRequest) fields.Set {
	return fieldlabel.With(&csr.ObjectMeta, false, fields.Set{
		"spec.signerName": csr.Spec.SignerName,
	})
}

// ClusterTrustBundleSelectableFields is the field set a field selector on
// cluster trust bundles matches.
func ClusterTrustBundleSelectableFields(bundle *certificatesv1.ClusterTrustBundle) fields.Set {
	return fieldlabel.With(&bundle.ObjectMeta, false, fields.Set{
		"spec.signerName": bundle.Spec.SignerName,
	})
}

// PodCertificateRequestSelectableFields is the field set a field selector on
// pod certificate requests matches. metadata.namespace is in the set but,
// as in Kubernetes, not an accepted label.
func PodCertificateRequestSelectableFields(req *certificatesv1.PodCertificateRequest) fields.Set {
	return fieldlabel.With(&req.ObjectMeta, true, fields.Set{
		"spec.signerName": req.Spec.SignerName,
		"spec.podName":    req.Spec.PodName,
		"spec.nodeName":   string(req.Spec.NodeName),
	})
}
