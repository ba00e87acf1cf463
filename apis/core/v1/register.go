package v1

import "k8s.io/apimachinery/pkg/runtime"

// AddToScheme registers the defaulting functions, field-label conversions and
// query-parameter conversions of core/v1. The types themselves come from
// k8s.io/api and are registered by the apis package.
func AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		RegisterDefaults,
		addFieldLabelConversions,
		addQueryConversions,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
