package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apis/validation/declarative/admissionregistrationv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/appsv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/authorizationv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/autoscalingv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/autoscalingv2"
	"github.com/skiff-dev/skiff/apis/validation/declarative/batchv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/certificatesv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/coordinationv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/corev1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/discoveryv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/flowcontrolv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/networkingv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/nodev1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/policyv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/rbacv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/resourcev1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/schedulingv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/storagemigrationv1"
	"github.com/skiff-dev/skiff/apis/validation/declarative/storagev1"
)

// declarativeScheme holds only the generated declarative validation
// functions, keyed by Go type; it is never used for encoding.
var declarativeScheme = newDeclarativeScheme()

func newDeclarativeScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	builder := runtime.NewSchemeBuilder(
		admissionregistrationv1.AddToScheme,
		appsv1.AddToScheme,
		authorizationv1.AddToScheme,
		autoscalingv1.AddToScheme,
		autoscalingv2.AddToScheme,
		batchv1.AddToScheme,
		certificatesv1.AddToScheme,
		coordinationv1.AddToScheme,
		corev1.AddToScheme,
		discoveryv1.AddToScheme,
		flowcontrolv1.AddToScheme,
		networkingv1.AddToScheme,
		nodev1.AddToScheme,
		policyv1.AddToScheme,
		rbacv1.AddToScheme,
		resourcev1.AddToScheme,
		schedulingv1.AddToScheme,
		storagemigrationv1.AddToScheme,
		storagev1.AddToScheme,
	)
	if err := builder.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("skiff: registering declarative validation: %v", err))
	}
	return s
}

func errMismatchedTypes(obj, old runtime.Object) error {
	return fmt.Errorf("cannot validate an update of %T to %T", old, obj)
}
