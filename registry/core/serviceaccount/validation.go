package serviceaccount

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MinTokenAgeSec is the shortest lifetime a token may be requested with.
const MinTokenAgeSec = 10 * 60

// attestationAdmissionReviewAPIGroups is the one attestation a
// webhook-bound request may carry.
const attestationAdmissionReviewAPIGroups = "admissionReviewAPIGroups"

// ValidateTokenRequest checks a TokenRequest as Kubernetes 1.37 does.
func ValidateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	var exp int64
	if tr.Spec.ExpirationSeconds != nil {
		exp = *tr.Spec.ExpirationSeconds
	}
	if exp < MinTokenAgeSec {
		allErrs = append(allErrs, field.Invalid(specPath.Child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
	}
	if exp > 1<<32 {
		allErrs = append(allErrs, field.Invalid(specPath.Child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
	}
	if isWebhookRef(tr.Spec.BoundObjectRef) {
		if len(tr.Spec.Audiences) != 1 {
			allErrs = append(allErrs, field.Invalid(specPath.Child("audiences"), tr.Spec.Audiences, "must be length 1 when bound to a webhook config"))
		}
		allErrs = append(allErrs, validateWebhookAttestations(tr.Spec.Attestations, specPath.Child("attestations"))...)
	} else if len(tr.Spec.Attestations) != 0 {
		return field.ErrorList{field.Invalid(specPath.Child("attestations"), tr.Spec.Attestations, "attestations may only be specified with a webhook bound object reference")}
	}
	return allErrs
}

func validateWebhookAttestations(attestations map[string]authenticationv1.AttestationValue, path *field.Path) field.ErrorList {
	if len(attestations) != 1 {
		return field.ErrorList{field.Invalid(path, attestations, "webhook bound requests require exactly one admissionReviewAPIGroups attestation")}
	}
	var errs field.ErrorList
	for key, values := range attestations {
		p := path.Key(key)
		if key != attestationAdmissionReviewAPIGroups {
			errs = append(errs, field.NotSupported(p, key, []string{attestationAdmissionReviewAPIGroups}))
			continue
		}
		if len(values) != 1 {
			errs = append(errs, field.Invalid(p, values, "must specify a single value"))
			continue
		}
		group := values[0]
		switch {
		case group == "":
			errs = append(errs, field.Invalid(p.Index(0), group, "may not be an empty string"))
		case group == "*":
		default:
			for _, reason := range validation.IsDNS1123Subdomain(group) {
				errs = append(errs, field.Invalid(p.Index(0), group, "must specify a valid API Group: "+reason))
			}
		}
	}
	return errs
}

func isWebhookRef(ref *authenticationv1.BoundObjectReference) bool {
	if ref == nil {
		return false
	}
	switch ref.Kind {
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		return ref.APIVersion == admissionregistrationv1.SchemeGroupVersion.String()
	}
	return false
}
