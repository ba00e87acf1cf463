package v1

import "k8s.io/apimachinery/pkg/runtime"

// AddToScheme registers the defaulting functions of rbac.authorization.k8s.io/v1. The types themselves
// come from k8s.io/api and are registered by the apis package.
func AddToScheme(s *runtime.Scheme) error {
	return RegisterDefaults(s)
}
