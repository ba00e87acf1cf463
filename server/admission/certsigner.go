package admission

import (
	"context"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"
)

// authorizedForSigner asks whether the user may perform verb (approve,
// sign, attest) on the signer: certificates.k8s.io "signers" named after
// the signer, or after its domain with a "/*" wildcard.
func authorizedForSigner(ctx context.Context, authz authorizer.UnconditionalAuthorizer, u user.Info, verb, signerName string) bool {
	domain, _, _ := strings.Cut(signerName, "/")
	for _, name := range []string{signerName, domain + "/*"} {
		attr := authorizer.AttributesRecord{
			User:            u,
			Verb:            verb,
			Name:            name,
			APIGroup:        "certificates.k8s.io",
			APIVersion:      "*",
			Resource:        "signers",
			ResourceRequest: true,
		}
		decision, reason, err := authz.Authorize(ctx, attr)
		switch {
		case err != nil:
			klog.V(3).InfoS("Cannot authorize signer", "verb", verb, "signer", name, "reason", reason, "err", err)
		case decision == authorizer.DecisionAllow:
			return true
		}
	}
	return false
}
