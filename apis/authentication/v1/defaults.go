package v1

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/utils/ptr"
)

// SetDefaults_TokenRequestSpec asks for tokens valid for one hour.
func SetDefaults_TokenRequestSpec(obj *authenticationv1.TokenRequestSpec) {
	if obj.ExpirationSeconds == nil {
		obj.ExpirationSeconds = ptr.To[int64](60 * 60)
	}
}
