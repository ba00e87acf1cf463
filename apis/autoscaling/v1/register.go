package v1

import "k8s.io/apimachinery/pkg/runtime"

// AddToScheme registers the defaulting functions of autoscaling/v1 and its
// conversions to and from autoscaling/v2, the group's internal version. The
// types themselves come from k8s.io/api and are registered by the apis
// package.
func AddToScheme(s *runtime.Scheme) error {
	if err := RegisterDefaults(s); err != nil {
		return err
	}
	return addConversions(s)
}
