package autoscalingv2

import "k8s.io/apimachinery/pkg/runtime"

// localSchemeBuilder collects the generated RegisterValidations.
var localSchemeBuilder runtime.SchemeBuilder

// AddToScheme registers this group version's declarative validation with s.
var AddToScheme = localSchemeBuilder.AddToScheme
