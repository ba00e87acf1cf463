package v1

import "k8s.io/apimachinery/pkg/runtime"

// AddToScheme registers the defaulting functions and field-label conversions
// of certificates.k8s.io/v1. Its only defaults come from +default markers on
// the k8s.io/api types. The types themselves are registered by the apis
// package.
func AddToScheme(s *runtime.Scheme) error {
	if err := RegisterDefaults(s); err != nil {
		return err
	}
	return addFieldLabelConversions(s)
}
