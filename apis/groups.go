package apis

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// externalTypes registers the k8s.io/api types of every served group
// version, and only those: a version that is not served must not appear in
// discovery or OpenAPI.
var externalTypes = runtime.NewSchemeBuilder(
	corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
	autoscalingv2.AddToScheme, autoscalingv1.AddToScheme, networkingv1.AddToScheme,
	discoveryv1.AddToScheme, coordinationv1.AddToScheme, eventsv1.AddToScheme,
	policyv1.AddToScheme, rbacv1.AddToScheme, storagev1.AddToScheme,
	schedulingv1.AddToScheme, nodev1.AddToScheme, admissionregistrationv1.AddToScheme,
	certificatesv1.AddToScheme, flowcontrolv1.AddToScheme, authenticationv1.AddToScheme,
	authorizationv1.AddToScheme, resourcev1.AddToScheme, storagemigrationv1.AddToScheme,
)

// ServedGroupVersions lists the built-in group versions skiff serves, the
// preferred version of each group first.
var ServedGroupVersions = []schema.GroupVersion{
	{Group: "", Version: "v1"},
	{Group: "apps", Version: "v1"},
	{Group: "batch", Version: "v1"},
	{Group: "autoscaling", Version: "v2"},
	{Group: "autoscaling", Version: "v1"},
	{Group: "networking.k8s.io", Version: "v1"},
	{Group: "discovery.k8s.io", Version: "v1"},
	{Group: "coordination.k8s.io", Version: "v1"},
	{Group: "events.k8s.io", Version: "v1"},
	{Group: "policy", Version: "v1"},
	{Group: "rbac.authorization.k8s.io", Version: "v1"},
	{Group: "storage.k8s.io", Version: "v1"},
	{Group: "scheduling.k8s.io", Version: "v1"},
	{Group: "node.k8s.io", Version: "v1"},
	{Group: "admissionregistration.k8s.io", Version: "v1"},
	{Group: "certificates.k8s.io", Version: "v1"},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"},
	{Group: "authentication.k8s.io", Version: "v1"},
	{Group: "authorization.k8s.io", Version: "v1"},
	{Group: "resource.k8s.io", Version: "v1"},
	{Group: "storagemigration.k8s.io", Version: "v1"},
}

// PreferredVersion is the storage and preferred version of a served group.
func PreferredVersion(group string) string {
	for _, gv := range ServedGroupVersions {
		if gv.Group == group {
			return gv.Version
		}
	}
	return ""
}

func servedGroups() []string {
	var groups []string
	seen := map[string]bool{}
	for _, gv := range ServedGroupVersions {
		if !seen[gv.Group] {
			seen[gv.Group] = true
			groups = append(groups, gv.Group)
		}
	}
	return groups
}
