// Package csr holds what the certificate controllers share about
// CertificateSigningRequests: reading their conditions and request, and
// Kubernetes' rules for what a kubelet may ask its signers for.
package csr

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Approval reports whether csr carries an Approved and a Denied condition,
// whatever their status, as upstream's controllers read them.
func Approval(status *certificatesv1.CertificateSigningRequestStatus) (approved, denied bool) {
	for _, c := range status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		}
	}
	return approved, denied
}

// IsApproved is approved and not denied.
func IsApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	approved, denied := Approval(&csr.Status)
	return approved && !denied
}

// HasTrueCondition reports a condition of type t whose status is True or
// unset.
func HasTrueCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && (c.Status == "" || c.Status == corev1.ConditionTrue) {
			return true
		}
	}
	return false
}

// Parse decodes the PEM certificate request of a CSR.
func Parse(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}

// Upstream's messages, word for word: they end up in the Failed condition.
var (
	errOrganizationNotSystemNodes = errors.New("subject organization is not system:nodes")
	errCommonNameNotSystemNode    = errors.New("subject common name does not begin with system:node:")
	errDNSOrIPSANRequired         = errors.New("DNS or IP subjectAltName is required")
	errDNSSANNotAllowed           = errors.New("DNS subjectAltNames are not allowed")
	errEmailSANNotAllowed         = errors.New("Email subjectAltNames are not allowed")
	errIPSANNotAllowed            = errors.New("IP subjectAltNames are not allowed")
	errURISANNotAllowed           = errors.New("URI subjectAltNames are not allowed")
)

// The usages a kubelet certificate must have exactly: with key
// encipherment for RSA keys, or without it.
var (
	kubeletServingUsages      = usageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth)
	kubeletServingUsagesNoRSA = usageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth)
	kubeletClientUsages       = usageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth)
	kubeletClientUsagesNoRSA  = usageSet(certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
)

func usageSet(usages ...certificatesv1.KeyUsage) sets.Set[string] {
	s := sets.New[string]()
	for _, u := range usages {
		s.Insert(string(u))
	}
	return s
}

// ValidateKubeletServing is what kubernetes.io/kubelet-serving signs: a
// node's serving certificate.
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal([]string{"system:nodes"}, req.Subject.Organization) {
		return errOrganizationNotSystemNodes
	}
	if len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		return errDNSOrIPSANRequired
	}
	if len(req.EmailAddresses) > 0 {
		return errEmailSANNotAllowed
	}
	if len(req.URIs) > 0 {
		return errURISANNotAllowed
	}
	if have := usageSet(usages...); !have.Equal(kubeletServingUsages) && !have.Equal(kubeletServingUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sets.List(kubeletServingUsages))
	}
	if !strings.HasPrefix(req.Subject.CommonName, "system:node:") {
		return errCommonNameNotSystemNode
	}
	return nil
}

// ValidateKubeletClient is what kubernetes.io/kube-apiserver-client-kubelet
// signs: a node's client certificate, system:node:<name> in system:nodes.
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !slices.Equal([]string{"system:nodes"}, req.Subject.Organization) {
		return errOrganizationNotSystemNodes
	}
	if len(req.DNSNames) > 0 {
		return errDNSSANNotAllowed
	}
	if len(req.EmailAddresses) > 0 {
		return errEmailSANNotAllowed
	}
	if len(req.IPAddresses) > 0 {
		return errIPSANNotAllowed
	}
	if len(req.URIs) > 0 {
		return errURISANNotAllowed
	}
	if !strings.HasPrefix(req.Subject.CommonName, "system:node:") {
		return errCommonNameNotSystemNode
	}
	if have := usageSet(usages...); !have.Equal(kubeletClientUsages) && !have.Equal(kubeletClientUsagesNoRSA) {
		return fmt.Errorf("usages did not match %v", sets.List(kubeletClientUsages))
	}
	return nil
}
