package validation

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// certificates.k8s.io/v1 CertificateSigningRequest, ported from
// pkg/apis/certificates/validation.

// legacyUnknownSignerName is only accepted through certificates/v1beta1,
// which skiff does not serve, so v1 rejects it unless already persisted.
const legacyUnknownSignerName = "kubernetes.io/legacy-unknown"

var (
	// Approved, Denied and Failed conditions may only ever be True.
	csrTrueConditionTypes = sets.New(certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed)
	csrTrueStatusOnly     = sets.New(string(corev1.ConditionTrue))
	csrAllStatusValues    = sets.New(string(corev1.ConditionTrue), string(corev1.ConditionFalse), string(corev1.ConditionUnknown))

	csrValidUsages = sets.New(
		certificatesv1.UsageSigning, certificatesv1.UsageDigitalSignature, certificatesv1.UsageContentCommitment,
		certificatesv1.UsageKeyEncipherment, certificatesv1.UsageKeyAgreement, certificatesv1.UsageDataEncipherment,
		certificatesv1.UsageCertSign, certificatesv1.UsageCRLSign, certificatesv1.UsageEncipherOnly,
		certificatesv1.UsageDecipherOnly, certificatesv1.UsageAny, certificatesv1.UsageServerAuth,
		certificatesv1.UsageClientAuth, certificatesv1.UsageCodeSigning, certificatesv1.UsageEmailProtection,
		certificatesv1.UsageSMIME, certificatesv1.UsageIPsecEndSystem, certificatesv1.UsageIPsecTunnel,
		certificatesv1.UsageIPsecUser, certificatesv1.UsageTimestamping, certificatesv1.UsageOCSPSigning,
		certificatesv1.UsageMicrosoftSGC, certificatesv1.UsageNetscapeSGC,
	)
)

// csrOptions relax checks either for a subresource that may change more, or
// to tolerate problems already present in the persisted object.
type csrOptions struct {
	allowSettingApprovalConditions bool
	allowSettingCertificate        bool
	allowBothApprovedAndDenied     bool
	allowLegacySignerName          bool
	allowDuplicateConditionTypes   bool
	allowEmptyConditionType        bool
	allowArbitraryCertificate      bool
	allowUnknownUsages             bool
	allowDuplicateUsages           bool
}

// csrOptionsFor derives the tolerance options from the persisted object;
// old is nil on create.
func csrOptionsFor(csr, old *certificatesv1.CertificateSigningRequest) csrOptions {
	if old == nil {
		return csrOptions{}
	}
	var approved, denied, emptyType, dupType bool
	seen := map[certificatesv1.RequestConditionType]bool{}
	for _, c := range old.Status.Conditions {
		approved = approved || c.Type == certificatesv1.CertificateApproved
		denied = denied || c.Type == certificatesv1.CertificateDenied
		emptyType = emptyType || c.Type == ""
		dupType = dupType || seen[c.Type]
		seen[c.Type] = true
	}
	var unknownUsage, dupUsage bool
	seenUsage := map[certificatesv1.KeyUsage]bool{}
	for _, u := range old.Spec.Usages {
		unknownUsage = unknownUsage || !csrValidUsages.Has(u)
		dupUsage = dupUsage || seenUsage[u]
		seenUsage[u] = true
	}
	return csrOptions{
		allowBothApprovedAndDenied:   approved && denied,
		allowLegacySignerName:        old.Spec.SignerName == legacyUnknownSignerName,
		allowDuplicateConditionTypes: dupType,
		allowEmptyConditionType:      emptyType,
		// Untouched or already-broken certificates are not re-checked.
		allowArbitraryCertificate: bytes.Equal(csr.Status.Certificate, old.Status.Certificate) || validatePEMCertificates(old.Status.Certificate) != nil,
		allowUnknownUsages:        unknownUsage,
		allowDuplicateUsages:      dupUsage,
	}
}

// parseCSR decodes the PEM-wrapped PKCS#10 request and checks its signature.
func parseCSR(pemBytes []byte) error {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return err
	}
	return csr.CheckSignature()
}

// validatePEMCertificates accepts empty data or one or more header-less
// CERTIFICATE PEM blocks that each parse.
func validatePEMCertificates(pemData []byte) error {
	if len(pemData) == 0 {
		return nil
	}
	blocks := 0
	for {
		block, rest := pem.Decode(pemData)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("only CERTIFICATE PEM blocks are allowed, found %q", block.Type)
		}
		if len(block.Headers) != 0 {
			return fmt.Errorf("no PEM block headers are permitted")
		}
		blocks++
		certs, err := x509.ParseCertificates(block.Bytes)
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			return fmt.Errorf("found CERTIFICATE PEM block containing 0 certificates")
		}
		pemData = rest
	}
	if blocks == 0 {
		return fmt.Errorf("must contain at least one CERTIFICATE PEM block")
	}
	return nil
}

// csrNameFunc: upstream does not care what certificate requests are called.
func csrNameFunc(string, bool) []string { return nil }

func validateCSRWithOpts(csr *certificatesv1.CertificateSigningRequest, opts csrOptions) field.ErrorList {
	allErrs := validateObjectMeta(&csr.ObjectMeta, false, csrNameFunc, field.NewPath("metadata"))
	p := specPath
	if err := parseCSR(csr.Spec.Request); err != nil {
		allErrs = append(allErrs, field.Invalid(p.Child("request"), csr.Spec.Request, err.Error()))
	}
	if len(csr.Spec.Usages) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("usages"), ""))
	}
	if !opts.allowUnknownUsages {
		for i, u := range csr.Spec.Usages {
			if !csrValidUsages.Has(u) {
				allErrs = append(allErrs, field.NotSupported(p.Child("usages").Index(i), u, sets.List(csrValidUsages)))
			}
		}
	}
	if !opts.allowDuplicateUsages {
		seen := map[certificatesv1.KeyUsage]bool{}
		for i, u := range csr.Spec.Usages {
			if seen[u] {
				allErrs = append(allErrs, field.Duplicate(p.Child("usages").Index(i), u))
			}
			seen[u] = true
		}
	}
	if !opts.allowLegacySignerName && csr.Spec.SignerName == legacyUnknownSignerName {
		allErrs = append(allErrs, field.Invalid(p.Child("signerName"), csr.Spec.SignerName, "the legacy signerName is not allowed via this API version"))
	} else {
		allErrs = append(allErrs, validateSignerName(p.Child("signerName"), csr.Spec.SignerName)...)
	}
	if e := csr.Spec.ExpirationSeconds; e != nil && *e < 600 {
		allErrs = append(allErrs, field.Invalid(p.Child("expirationSeconds"), *e, "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	allErrs = append(allErrs, validateCSRConditions(field.NewPath("status", "conditions"), csr, opts)...)
	if !opts.allowArbitraryCertificate {
		if err := validatePEMCertificates(csr.Status.Certificate); err != nil {
			allErrs = append(allErrs, field.Invalid(field.NewPath("status", "certificate"), "<certificate data>", err.Error()))
		}
	}
	return allErrs
}

func validateCSRConditions(fldPath *field.Path, csr *certificatesv1.CertificateSigningRequest, opts csrOptions) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[certificatesv1.RequestConditionType]bool{}
	var hasApproved, hasDenied bool
	for i, c := range csr.Status.Conditions {
		idx := fldPath.Index(i)
		if !opts.allowEmptyConditionType && c.Type == "" {
			allErrs = append(allErrs, field.Required(idx.Child("type"), ""))
		}
		allowed := csrAllStatusValues
		if csrTrueConditionTypes.Has(c.Type) {
			allowed = csrTrueStatusOnly
		}
		switch {
		case c.Status == "":
			allErrs = append(allErrs, field.Required(idx.Child("status"), ""))
		case !allowed.Has(string(c.Status)):
			allErrs = append(allErrs, field.NotSupported(idx.Child("status"), c.Status, sets.List(allowed)))
		}
		if !opts.allowBothApprovedAndDenied {
			conflict := false
			switch c.Type {
			case certificatesv1.CertificateApproved:
				hasApproved, conflict = true, hasDenied
			case certificatesv1.CertificateDenied:
				hasDenied, conflict = true, hasApproved
			}
			if conflict {
				allErrs = append(allErrs, field.Invalid(fldPath, c.Type, "Approved and Denied conditions are mutually exclusive").WithOrigin("zeroOrOneOf").MarkCoveredByDeclarative())
			}
		}
		if !opts.allowDuplicateConditionTypes {
			if seen[c.Type] {
				allErrs = append(allErrs, field.Duplicate(idx.Child("type"), c.Type))
			}
			seen[c.Type] = true
		}
	}
	return allErrs
}

func csrConditionsOfType(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	var out []certificatesv1.CertificateSigningRequestCondition
	for _, c := range csr.Status.Conditions {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

func validateCSRUpdateWithOpts(csr, old *certificatesv1.CertificateSigningRequest, opts csrOptions) field.ErrorList {
	allErrs := validateCSRWithOpts(csr, opts)
	condPath := field.NewPath("status", "conditions")
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed} {
		if len(csrConditionsOfType(csr, t)) < len(csrConditionsOfType(old, t)) {
			allErrs = append(allErrs, field.Forbidden(condPath, fmt.Sprintf("updates may not remove a condition of type %q", t)))
		}
	}
	if !opts.allowSettingApprovalConditions {
		for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateApproved, certificatesv1.CertificateDenied} {
			oldConds, newConds := csrConditionsOfType(old, t), csrConditionsOfType(csr, t)
			switch {
			case len(newConds) < len(oldConds):
				// reported above
			case len(newConds) > len(oldConds):
				allErrs = append(allErrs, field.Forbidden(condPath, fmt.Sprintf("updates may not add a condition of type %q", t)))
			case !apiequality.Semantic.DeepEqual(oldConds, newConds):
				allErrs = append(allErrs, field.Forbidden(condPath, fmt.Sprintf("updates may not modify a condition of type %q\n%v", t, diff.Diff(oldConds, newConds))))
			}
		}
	}
	if !bytes.Equal(csr.Status.Certificate, old.Status.Certificate) {
		if !opts.allowSettingCertificate {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not set certificate content"))
		} else if len(old.Status.Certificate) > 0 {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("status", "certificate"), "updates may not modify existing certificate content"))
		}
	}
	return append(allErrs, validateObjectMetaUpdate(&csr.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))...)
}

func validateCSRCreate(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRWithOpts(csr, csrOptionsFor(csr, nil))
}

func validateCSRUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	return validateCSRUpdateWithOpts(csr, old, csrOptionsFor(csr, old))
}

func validateCSRStatusUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	opts := csrOptionsFor(csr, old)
	opts.allowSettingCertificate = true
	return validateCSRUpdateWithOpts(csr, old, opts)
}

// ValidateCertificateSigningRequestApprovalUpdate validates an update through
// the /approval subresource, the only path that may add or change Approved
// and Denied conditions. It includes the declarative rules.
func ValidateCertificateSigningRequestApprovalUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	opts := csrOptionsFor(csr, old)
	opts.allowSettingApprovalConditions = true
	return withDeclarativeSubresource(validateCSRUpdateWithOpts(csr, old, opts), csr, old, "approval")
}

// ClusterTrustBundle.

const maxTrustBundleSize = 1 * 1024 * 1024

func validateClusterTrustBundleWithOpts(b *certificatesv1.ClusterTrustBundle, parseBundle bool) field.ErrorList {
	allErrs := validateObjectMeta(&b.ObjectMeta, false, clusterTrustBundleNameFunc(b.Spec.SignerName), metadataPath)
	if b.Spec.SignerName != "" {
		allErrs = append(allErrs, validateSignerName(field.NewPath("spec", "signerName"), b.Spec.SignerName)...)
	}
	if parseBundle {
		allErrs = append(allErrs, validateTrustBundle(field.NewPath("spec", "trustBundle"), b.Spec.TrustBundle)...)
	}
	return allErrs
}

func validateClusterTrustBundle(b *certificatesv1.ClusterTrustBundle) field.ErrorList {
	return validateClusterTrustBundleWithOpts(b, true)
}

// An unchanged bundle is not re-parsed so that changes in Go's PEM or X.509
// parsing cannot strand stored objects.
func validateClusterTrustBundleUpdate(b, old *certificatesv1.ClusterTrustBundle) field.ErrorList {
	allErrs := validateClusterTrustBundleWithOpts(b, b.Spec.TrustBundle != old.Spec.TrustBundle)
	allErrs = append(allErrs, validateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(allErrs, validateImmutableField(b.Spec.SignerName, old.Spec.SignerName, field.NewPath("spec", "signerName")).WithOrigin("immutable").MarkAlpha().MarkCoveredByDeclarative()...)
}

// validateTrustBundle requires one or more distinct, header-less CA
// certificates.
func validateTrustBundle(path *field.Path, in string) field.ErrorList {
	if len(in) > maxTrustBundleSize {
		return field.ErrorList{field.TooLong(path, "", maxTrustBundleSize)}
	}
	const omitted = "<value omitted>"
	var allErrs field.ErrorList
	seen := map[string][]int{}
	var order []string
	rest := []byte(in)
	for i := 0; ; i++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("entry %d has bad block type: %v", i, b.Type)))
			continue
		}
		if len(b.Headers) != 0 {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("entry %d has PEM block headers", i)))
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("entry %d does not parse as X.509", i)))
			continue
		}
		if !cert.IsCA {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("entry %d does not have the CA bit set", i)))
			continue
		}
		if !cert.BasicConstraintsValid {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("entry %d has invalid basic constraints", i)))
			continue
		}
		key := string(b.Bytes)
		if _, ok := seen[key]; !ok {
			order = append(order, key)
		}
		seen[key] = append(seen[key], i)
	}
	// A malformed block makes duplicate or missing-anchor errors redundant.
	if len(allErrs) != 0 {
		return allErrs
	}
	if len(seen) == 0 {
		return field.ErrorList{field.Invalid(path, omitted, "at least one trust anchor must be provided")}
	}
	for _, key := range order {
		if indices := seen[key]; len(indices) > 1 {
			allErrs = append(allErrs, field.Invalid(path, omitted, fmt.Sprintf("duplicate trust anchor (indices %v)", indices)))
		}
	}
	return allErrs
}
