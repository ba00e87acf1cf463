package validation

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// lookup returns the hand-written validation of obj's kind.
func lookup(obj runtime.Object) (validator, bool) {
	switch obj.(type) {
	// core/v1
	case *corev1.Pod:
		return typed(validatePodCreate, validatePodUpdate, validatePodStatusUpdate), true
	case *corev1.PodTemplate:
		return typed(validatePodTemplate, validatePodTemplateUpdate, nil), true
	case *corev1.Namespace:
		return typed(validateNamespace, validateNamespaceUpdate, validateNamespaceStatusUpdate), true
	case *corev1.Service:
		return typed(validateServiceCreate, validateServiceUpdate, validateServiceStatusUpdate), true
	case *corev1.Endpoints:
		return typed(validateEndpointsCreate, validateEndpointsUpdate, nil), true
	case *corev1.ReplicationController:
		return typed(validateReplicationController, validateReplicationControllerUpdate, validateReplicationControllerStatusUpdate), true
	case *corev1.ConfigMap:
		return typed(validateConfigMap, validateConfigMapUpdate, nil), true
	case *corev1.Secret:
		return typed(validateSecret, validateSecretUpdate, nil), true
	case *corev1.ServiceAccount:
		return typed(validateServiceAccount, validateServiceAccountUpdate, nil), true
	case *corev1.LimitRange:
		return typed(validateLimitRange, validateLimitRangeUpdate, nil), true
	case *corev1.ResourceQuota:
		return typed(validateResourceQuota, validateResourceQuotaUpdate, validateResourceQuotaStatusUpdate), true
	case *corev1.PersistentVolume:
		return typed(validatePersistentVolume, validatePersistentVolumeUpdate, validatePersistentVolumeStatusUpdate), true
	case *corev1.Node:
		return typed(validateNode, validateNodeUpdate, validateNodeUpdateOnly), true
	case *corev1.Event:
		return typed(validateCoreEventCreate, validateCoreEventUpdate, nil), true
	case *corev1.PersistentVolumeClaim:
		return typed(validatePersistentVolumeClaim, validatePersistentVolumeClaimUpdate, validatePersistentVolumeClaimStatusUpdate), true

	// apps/v1
	case *appsv1.Deployment:
		return typed(validateDeployment, validateDeploymentUpdate, validateDeploymentStatusUpdate), true
	case *appsv1.ReplicaSet:
		return typed(validateReplicaSet, validateReplicaSetUpdate, validateReplicaSetStatusUpdate), true
	case *appsv1.StatefulSet:
		return typed(validateStatefulSet, validateStatefulSetUpdate, validateStatefulSetStatusUpdate), true
	case *appsv1.DaemonSet:
		return typed(validateDaemonSet, validateDaemonSetUpdate, validateDaemonSetStatusUpdate), true
	case *appsv1.ControllerRevision:
		return typed(validateControllerRevision, validateControllerRevisionUpdate, nil), true

	// batch/v1
	case *batchv1.Job:
		return typed(validateJob, validateJobUpdate, validateJobStatusUpdate), true
	case *batchv1.CronJob:
		return typed(validateCronJob, validateCronJobUpdate, validateCronJobStatusUpdate), true

	// networking.k8s.io/v1
	case *networkingv1.NetworkPolicy:
		return typed(validateNetworkPolicy, validateNetworkPolicyUpdate, nil), true
	case *networkingv1.Ingress:
		return typed(validateIngress, validateIngressUpdate, validateIngressStatusUpdate), true
	case *networkingv1.IngressClass:
		return typed(validateIngressClass, validateIngressClassUpdate, nil), true
	case *networkingv1.IPAddress:
		return typed(validateIPAddress, validateIPAddressUpdate, nil), true
	case *networkingv1.ServiceCIDR:
		return typed(validateServiceCIDR, validateServiceCIDRUpdate, validateServiceCIDRStatusUpdate), true

	// autoscaling
	case *autoscalingv2.HorizontalPodAutoscaler:
		return typed(validateHPA, validateHPAUpdate, validateHPAStatusUpdate), true
	case *autoscalingv1.Scale:
		return typed(validateScale, validateScaleUpdate, nil), true

	// policy/v1
	case *policyv1.PodDisruptionBudget:
		return typed(validatePDB, validatePDBUpdate, validatePDBStatusUpdate), true

	// rbac.authorization.k8s.io/v1
	case *rbacv1.Role:
		return typed(validateRole, validateRoleUpdate, nil), true
	case *rbacv1.ClusterRole:
		return typed(validateClusterRole, validateClusterRoleUpdate, nil), true
	case *rbacv1.RoleBinding:
		return typed(validateRoleBinding, validateRoleBindingUpdate, nil), true
	case *rbacv1.ClusterRoleBinding:
		return typed(validateClusterRoleBinding, validateClusterRoleBindingUpdate, nil), true

	// scheduling.k8s.io/v1, node.k8s.io/v1, coordination.k8s.io/v1
	case *schedulingv1.PriorityClass:
		return typed(validatePriorityClass, validatePriorityClassUpdate, nil), true
	case *nodev1.RuntimeClass:
		return typed(validateRuntimeClass, validateRuntimeClassUpdate, nil), true
	case *coordinationv1.Lease:
		return typed(validateLease, validateLeaseUpdate, nil), true

	// storage.k8s.io/v1
	case *storagev1.StorageClass:
		return typed(validateStorageClass, validateStorageClassUpdate, nil), true
	case *storagev1.VolumeAttachment:
		return typed(validateVolumeAttachment, validateVolumeAttachmentUpdate, nil), true
	case *storagev1.CSIDriver:
		return typed(validateCSIDriver, validateCSIDriverUpdate, nil), true
	case *storagev1.CSINode:
		return typed(validateCSINode, validateCSINodeUpdate, nil), true
	case *storagev1.CSIStorageCapacity:
		return typed(validateCSIStorageCapacity, validateCSIStorageCapacityUpdate, nil), true
	case *storagev1.VolumeAttributesClass:
		return typed(validateVolumeAttributesClass, validateVolumeAttributesClassUpdate, nil), true

	// certificates.k8s.io/v1
	case *certificatesv1.CertificateSigningRequest:
		return typed(validateCSRCreate, validateCSRUpdate, validateCSRStatusUpdate), true
	case *certificatesv1.ClusterTrustBundle:
		return typed(validateClusterTrustBundle, validateClusterTrustBundleUpdate, nil), true

	// admissionregistration.k8s.io/v1
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return typed(validateValidatingWebhookConfiguration, validateValidatingWebhookConfigurationUpdate, nil), true
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return typed(validateMutatingWebhookConfiguration, validateMutatingWebhookConfigurationUpdate, nil), true
	case *admissionregistrationv1.ValidatingAdmissionPolicy:
		return typed(validateValidatingAdmissionPolicy, validateValidatingAdmissionPolicyUpdate, validateValidatingAdmissionPolicyStatusUpdate), true
	case *admissionregistrationv1.ValidatingAdmissionPolicyBinding:
		return typed(validateValidatingAdmissionPolicyBinding, validateValidatingAdmissionPolicyBindingUpdate, nil), true
	case *admissionregistrationv1.MutatingAdmissionPolicy:
		return typed(validateMutatingAdmissionPolicy, validateMutatingAdmissionPolicyUpdate, nil), true
	case *admissionregistrationv1.MutatingAdmissionPolicyBinding:
		return typed(validateMutatingAdmissionPolicyBinding, validateMutatingAdmissionPolicyBindingUpdate, nil), true

	// flowcontrol.apiserver.k8s.io/v1
	case *flowcontrolv1.FlowSchema:
		return typed(validateFlowSchema, validateFlowSchemaUpdate, validateFlowSchemaStatusUpdate), true
	case *flowcontrolv1.PriorityLevelConfiguration:
		return typed(validatePriorityLevelConfiguration, validatePriorityLevelConfigurationUpdate, validatePriorityLevelConfigurationStatusUpdate), true

	// discovery.k8s.io/v1
	case *discoveryv1.EndpointSlice:
		return typed(validateEndpointSliceCreate, validateEndpointSliceUpdate, nil), true
	}
	return validator{}, false
}
