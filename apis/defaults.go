package apis

import (
	"k8s.io/apimachinery/pkg/runtime"

	admissionregistrationv1 "github.com/skiff-dev/skiff/apis/admissionregistration/v1"
	appsv1 "github.com/skiff-dev/skiff/apis/apps/v1"
	authenticationv1 "github.com/skiff-dev/skiff/apis/authentication/v1"
	autoscalingv1 "github.com/skiff-dev/skiff/apis/autoscaling/v1"
	autoscalingv2 "github.com/skiff-dev/skiff/apis/autoscaling/v2"
	batchv1 "github.com/skiff-dev/skiff/apis/batch/v1"
	certificatesv1 "github.com/skiff-dev/skiff/apis/certificates/v1"
	corev1 "github.com/skiff-dev/skiff/apis/core/v1"
	discoveryv1 "github.com/skiff-dev/skiff/apis/discovery/v1"
	eventsv1 "github.com/skiff-dev/skiff/apis/events/v1"
	flowcontrolv1 "github.com/skiff-dev/skiff/apis/flowcontrol/v1"
	networkingv1 "github.com/skiff-dev/skiff/apis/networking/v1"
	rbacv1 "github.com/skiff-dev/skiff/apis/rbac/v1"
	schedulingv1 "github.com/skiff-dev/skiff/apis/scheduling/v1"
	storagev1 "github.com/skiff-dev/skiff/apis/storage/v1"
)

// addDefaultsAndConversions registers every group's defaulting functions,
// field-label conversions and query-parameter conversions. Groups missing
// here (coordination, policy, node, authorization) have no defaults and
// accept only the default field labels in Kubernetes 1.37 either.
func addDefaultsAndConversions(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme,
		appsv1.AddToScheme,
		batchv1.AddToScheme,
		autoscalingv1.AddToScheme,
		autoscalingv2.AddToScheme,
		networkingv1.AddToScheme,
		discoveryv1.AddToScheme,
		eventsv1.AddToScheme,
		rbacv1.AddToScheme,
		storagev1.AddToScheme,
		schedulingv1.AddToScheme,
		admissionregistrationv1.AddToScheme,
		certificatesv1.AddToScheme,
		flowcontrolv1.AddToScheme,
		authenticationv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}
