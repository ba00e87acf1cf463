package v1

import "k8s.io/apimachinery/pkg/runtime"

// AddToScheme registers the conversions between events.k8s.io/v1 and core/v1
// Events and the events.k8s.io field labels. The types themselves come from
// k8s.io/api and are registered by the apis package.
func AddToScheme(s *runtime.Scheme) error {
	if err := addConversions(s); err != nil {
		return err
	}
	return addFieldLabelConversions(s)
}
