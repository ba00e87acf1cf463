package registry

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
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
	resourcev1 "k8s.io/api/resource/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// newer returns a constructor of empty *T.
func newer[T any, PT interface {
	*T
	runtime.Object
}]() func() runtime.Object {
	return func() runtime.Object { return PT(new(T)) }
}

// res fills the constructors of a Resource from its Go types.
func res[T any, L any, PT interface {
	*T
	runtime.Object
}, PL interface {
	*L
	runtime.Object
}](r Resource) *Resource {
	r.New = newer[T, PT]()
	r.NewList = newer[L, PL]()
	return &r
}

// Resources returns every storage-backed built-in resource, with the
// short names, categories and scope upstream gives it.
func Resources() []*Resource {
	all := []string{"all"}
	return []*Resource{
		// core/v1
		res[corev1.Pod, corev1.PodList](Resource{Name: "pods", Singular: "pod", Kind: "Pod", Namespaced: true, Status: true, ShortNames: []string{"po"}, Categories: all, Hooks: podHooks()}),
		res[corev1.Service, corev1.ServiceList](Resource{Name: "services", Singular: "service", Kind: "Service", Namespaced: true, Status: true, ShortNames: []string{"svc"}, Categories: all}),
		res[corev1.Endpoints, corev1.EndpointsList](Resource{Name: "endpoints", Singular: "endpoints", Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"}, Hooks: Hooks{AllowCreateOnUpdate: true}}),
		res[corev1.Node, corev1.NodeList](Resource{Name: "nodes", Singular: "node", Kind: "Node", Status: true, ShortNames: []string{"no"}}),
		res[corev1.ConfigMap, corev1.ConfigMapList](Resource{Name: "configmaps", Singular: "configmap", Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"}}),
		res[corev1.Secret, corev1.SecretList](Resource{Name: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true, Hooks: secretHooks()}),
		res[corev1.Event, corev1.EventList](Resource{Name: "events", Singular: "event", Kind: "Event", Namespaced: true, ShortNames: []string{"ev"}, Hooks: Hooks{AllowCreateOnUpdate: true}}),
		res[corev1.ServiceAccount, corev1.ServiceAccountList](Resource{Name: "serviceaccounts", Singular: "serviceaccount", Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"}, Hooks: serviceAccountHooks()}),
		res[corev1.PersistentVolume, corev1.PersistentVolumeList](Resource{Name: "persistentvolumes", Singular: "persistentvolume", Kind: "PersistentVolume", Status: true, ShortNames: []string{"pv"}, Hooks: persistentVolumeHooks()}),
		res[corev1.PersistentVolumeClaim, corev1.PersistentVolumeClaimList](Resource{Name: "persistentvolumeclaims", Singular: "persistentvolumeclaim", Kind: "PersistentVolumeClaim", Namespaced: true, Status: true, ShortNames: []string{"pvc"}}),
		res[corev1.LimitRange, corev1.LimitRangeList](Resource{Name: "limitranges", Singular: "limitrange", Kind: "LimitRange", Namespaced: true, ShortNames: []string{"limits"}, Hooks: limitRangeHooks()}),
		res[corev1.ResourceQuota, corev1.ResourceQuotaList](Resource{Name: "resourcequotas", Singular: "resourcequota", Kind: "ResourceQuota", Namespaced: true, Status: true, ShortNames: []string{"quota"}}),
		res[corev1.ReplicationController, corev1.ReplicationControllerList](Resource{Name: "replicationcontrollers", Singular: "replicationcontroller", Kind: "ReplicationController", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"rc"}, Categories: all}),
		res[corev1.PodTemplate, corev1.PodTemplateList](Resource{Name: "podtemplates", Singular: "podtemplate", Generation: true, Kind: "PodTemplate", Namespaced: true}),

		// apps/v1
		res[appsv1.Deployment, appsv1.DeploymentList](Resource{Group: "apps", Name: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"deploy"}, Categories: all, Hooks: deploymentHooks()}),
		res[appsv1.ReplicaSet, appsv1.ReplicaSetList](Resource{Group: "apps", Name: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"rs"}, Categories: all}),
		res[appsv1.StatefulSet, appsv1.StatefulSetList](Resource{Group: "apps", Name: "statefulsets", Singular: "statefulset", Kind: "StatefulSet", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"sts"}, Categories: all}),
		res[appsv1.DaemonSet, appsv1.DaemonSetList](Resource{Group: "apps", Name: "daemonsets", Singular: "daemonset", Kind: "DaemonSet", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"ds"}, Categories: all, Hooks: daemonSetHooks()}),
		res[appsv1.ControllerRevision, appsv1.ControllerRevisionList](Resource{Group: "apps", Name: "controllerrevisions", Singular: "controllerrevision", Kind: "ControllerRevision", Namespaced: true}),

		// batch/v1
		res[batchv1.Job, batchv1.JobList](Resource{Group: "batch", Name: "jobs", Singular: "job", Kind: "Job", Namespaced: true, Status: true, Generation: true, Categories: all, Hooks: jobHooks()}),
		res[batchv1.CronJob, batchv1.CronJobList](Resource{Group: "batch", Name: "cronjobs", Singular: "cronjob", Kind: "CronJob", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"cj"}, Categories: all}),

		// autoscaling/v2 (also served as v1)
		res[autoscalingv2.HorizontalPodAutoscaler, autoscalingv2.HorizontalPodAutoscalerList](Resource{Group: "autoscaling", Name: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Kind: "HorizontalPodAutoscaler", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"hpa"}, Categories: all, Hooks: hpaHooks()}),

		// networking.k8s.io/v1
		res[networkingv1.Ingress, networkingv1.IngressList](Resource{Group: "networking.k8s.io", Name: "ingresses", Singular: "ingress", Kind: "Ingress", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"ing"}}),
		res[networkingv1.IngressClass, networkingv1.IngressClassList](Resource{Group: "networking.k8s.io", Name: "ingressclasses", Singular: "ingressclass", Generation: true, Kind: "IngressClass"}),
		res[networkingv1.NetworkPolicy, networkingv1.NetworkPolicyList](Resource{Group: "networking.k8s.io", Name: "networkpolicies", Singular: "networkpolicy", Kind: "NetworkPolicy", Namespaced: true, Generation: true, ShortNames: []string{"netpol"}}),
		res[networkingv1.ServiceCIDR, networkingv1.ServiceCIDRList](Resource{Group: "networking.k8s.io", Name: "servicecidrs", Singular: "servicecidr", Kind: "ServiceCIDR", Status: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[networkingv1.IPAddress, networkingv1.IPAddressList](Resource{Group: "networking.k8s.io", Name: "ipaddresses", Singular: "ipaddress", Kind: "IPAddress", ShortNames: []string{"ip"}}),

		// discovery.k8s.io/v1
		res[discoveryv1.EndpointSlice, discoveryv1.EndpointSliceList](Resource{Group: "discovery.k8s.io", Name: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice", Namespaced: true, Generation: true, Hooks: endpointSliceHooks()}),

		// coordination.k8s.io/v1
		res[coordinationv1.Lease, coordinationv1.LeaseList](Resource{Group: "coordination.k8s.io", Name: "leases", Singular: "lease", Kind: "Lease", Namespaced: true}),

		// events.k8s.io/v1: stored with, and as, core events.
		res[corev1.Event, corev1.EventList](Resource{Group: "events.k8s.io", Name: "events", Singular: "event", Kind: "Event", Namespaced: true, ShortNames: []string{"ev"}, Hooks: Hooks{AllowCreateOnUpdate: true}}),

		// policy/v1
		res[policyv1.PodDisruptionBudget, policyv1.PodDisruptionBudgetList](Resource{Group: "policy", Name: "poddisruptionbudgets", Singular: "poddisruptionbudget", Kind: "PodDisruptionBudget", Namespaced: true, Status: true, Generation: true, ShortNames: []string{"pdb"}}),

		// rbac.authorization.k8s.io/v1
		res[rbacv1.Role, rbacv1.RoleList](Resource{Group: "rbac.authorization.k8s.io", Name: "roles", Singular: "role", Kind: "Role", Namespaced: true}),
		res[rbacv1.RoleBinding, rbacv1.RoleBindingList](Resource{Group: "rbac.authorization.k8s.io", Name: "rolebindings", Singular: "rolebinding", Kind: "RoleBinding", Namespaced: true}),
		res[rbacv1.ClusterRole, rbacv1.ClusterRoleList](Resource{Group: "rbac.authorization.k8s.io", Name: "clusterroles", Singular: "clusterrole", Kind: "ClusterRole"}),
		res[rbacv1.ClusterRoleBinding, rbacv1.ClusterRoleBindingList](Resource{Group: "rbac.authorization.k8s.io", Name: "clusterrolebindings", Singular: "clusterrolebinding", Kind: "ClusterRoleBinding"}),

		// storage.k8s.io/v1
		res[storagev1.StorageClass, storagev1.StorageClassList](Resource{Group: "storage.k8s.io", Name: "storageclasses", Singular: "storageclass", Kind: "StorageClass", ShortNames: []string{"sc"}}),
		res[storagev1.CSIDriver, storagev1.CSIDriverList](Resource{Group: "storage.k8s.io", Name: "csidrivers", Singular: "csidriver", Kind: "CSIDriver"}),
		res[storagev1.CSINode, storagev1.CSINodeList](Resource{Group: "storage.k8s.io", Name: "csinodes", Singular: "csinode", Kind: "CSINode", Status: true, StatusResetFields: [][]string{{"metadata"}, {"spec"}}, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[storagev1.VolumeAttachment, storagev1.VolumeAttachmentList](Resource{Group: "storage.k8s.io", Name: "volumeattachments", Singular: "volumeattachment", Kind: "VolumeAttachment", Status: true}),
		res[storagev1.CSIStorageCapacity, storagev1.CSIStorageCapacityList](Resource{Group: "storage.k8s.io", Name: "csistoragecapacities", Singular: "csistoragecapacity", Kind: "CSIStorageCapacity", Namespaced: true}),
		res[storagev1.VolumeAttributesClass, storagev1.VolumeAttributesClassList](Resource{Group: "storage.k8s.io", Name: "volumeattributesclasses", Singular: "volumeattributesclass", Kind: "VolumeAttributesClass", ShortNames: []string{"vac"}}),

		// scheduling.k8s.io/v1
		res[schedulingv1.PriorityClass, schedulingv1.PriorityClassList](Resource{Group: "scheduling.k8s.io", Name: "priorityclasses", Singular: "priorityclass", Kind: "PriorityClass", ShortNames: []string{"pc"}}),

		// node.k8s.io/v1
		res[nodev1.RuntimeClass, nodev1.RuntimeClassList](Resource{Group: "node.k8s.io", Name: "runtimeclasses", Singular: "runtimeclass", Kind: "RuntimeClass"}),

		// admissionregistration.k8s.io/v1
		res[admissionregistrationv1.MutatingWebhookConfiguration, admissionregistrationv1.MutatingWebhookConfigurationList](Resource{Group: "admissionregistration.k8s.io", Name: "mutatingwebhookconfigurations", Singular: "mutatingwebhookconfiguration", Generation: true, Kind: "MutatingWebhookConfiguration", Categories: []string{"api-extensions"}}),
		res[admissionregistrationv1.ValidatingWebhookConfiguration, admissionregistrationv1.ValidatingWebhookConfigurationList](Resource{Group: "admissionregistration.k8s.io", Name: "validatingwebhookconfigurations", Singular: "validatingwebhookconfiguration", Generation: true, Kind: "ValidatingWebhookConfiguration", Categories: []string{"api-extensions"}}),
		res[admissionregistrationv1.ValidatingAdmissionPolicy, admissionregistrationv1.ValidatingAdmissionPolicyList](Resource{Group: "admissionregistration.k8s.io", Name: "validatingadmissionpolicies", Singular: "validatingadmissionpolicy", Kind: "ValidatingAdmissionPolicy", Status: true, Generation: true, Categories: []string{"api-extensions"}, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[admissionregistrationv1.ValidatingAdmissionPolicyBinding, admissionregistrationv1.ValidatingAdmissionPolicyBindingList](Resource{Group: "admissionregistration.k8s.io", Name: "validatingadmissionpolicybindings", Singular: "validatingadmissionpolicybinding", Generation: true, Kind: "ValidatingAdmissionPolicyBinding", Categories: []string{"api-extensions"}}),
		res[admissionregistrationv1.MutatingAdmissionPolicy, admissionregistrationv1.MutatingAdmissionPolicyList](Resource{Group: "admissionregistration.k8s.io", Name: "mutatingadmissionpolicies", Singular: "mutatingadmissionpolicy", Kind: "MutatingAdmissionPolicy", Generation: true, Categories: []string{"api-extensions"}}),
		res[admissionregistrationv1.MutatingAdmissionPolicyBinding, admissionregistrationv1.MutatingAdmissionPolicyBindingList](Resource{Group: "admissionregistration.k8s.io", Name: "mutatingadmissionpolicybindings", Singular: "mutatingadmissionpolicybinding", Generation: true, Kind: "MutatingAdmissionPolicyBinding", Categories: []string{"api-extensions"}}),

		// certificates.k8s.io/v1
		res[certificatesv1.CertificateSigningRequest, certificatesv1.CertificateSigningRequestList](Resource{Group: "certificates.k8s.io", Name: "certificatesigningrequests", Singular: "certificatesigningrequest", Kind: "CertificateSigningRequest", Status: true, ShortNames: []string{"csr"}, Hooks: csrHooks(), ResetFields: [][]string{{"spec"}, {"status"}}, Subresources: []*Subresource{csrApproval()}}),

		res[certificatesv1.ClusterTrustBundle, certificatesv1.ClusterTrustBundleList](Resource{Group: "certificates.k8s.io", Name: "clustertrustbundles", Singular: "clustertrustbundle", Kind: "ClusterTrustBundle"}),
		res[certificatesv1.PodCertificateRequest, certificatesv1.PodCertificateRequestList](Resource{Group: "certificates.k8s.io", Name: "podcertificaterequests", Singular: "podcertificaterequest", Kind: "PodCertificateRequest", Namespaced: true, Status: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),

		// resource.k8s.io/v1
		res[resourcev1.DeviceClass, resourcev1.DeviceClassList](Resource{Group: "resource.k8s.io", Name: "deviceclasses", Singular: "deviceclass", Kind: "DeviceClass", Generation: true}),
		res[resourcev1.DeviceTaintRule, resourcev1.DeviceTaintRuleList](Resource{Group: "resource.k8s.io", Name: "devicetaintrules", Singular: "devicetaintrule", Kind: "DeviceTaintRule", Status: true, Generation: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[resourcev1.ResourceClaim, resourcev1.ResourceClaimList](Resource{Group: "resource.k8s.io", Name: "resourceclaims", Singular: "resourceclaim", Kind: "ResourceClaim", Namespaced: true, Status: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[resourcev1.ResourceClaimTemplate, resourcev1.ResourceClaimTemplateList](Resource{Group: "resource.k8s.io", Name: "resourceclaimtemplates", Singular: "resourceclaimtemplate", Kind: "ResourceClaimTemplate", Namespaced: true}),
		res[resourcev1.ResourceSlice, resourcev1.ResourceSliceList](Resource{Group: "resource.k8s.io", Name: "resourceslices", Singular: "resourceslice", Kind: "ResourceSlice", Generation: true}),

		// storagemigration.k8s.io/v1
		res[storagemigrationv1.StorageVersionMigration, storagemigrationv1.StorageVersionMigrationList](Resource{Group: "storagemigration.k8s.io", Name: "storageversionmigrations", Singular: "storageversionmigration", Kind: "StorageVersionMigration", Status: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),

		// flowcontrol.apiserver.k8s.io/v1
		res[flowcontrolv1.FlowSchema, flowcontrolv1.FlowSchemaList](Resource{Group: "flowcontrol.apiserver.k8s.io", Name: "flowschemas", Singular: "flowschema", Kind: "FlowSchema", Status: true, Generation: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
		res[flowcontrolv1.PriorityLevelConfiguration, flowcontrolv1.PriorityLevelConfigurationList](Resource{Group: "flowcontrol.apiserver.k8s.io", Name: "prioritylevelconfigurations", Singular: "prioritylevelconfiguration", Kind: "PriorityLevelConfiguration", Status: true, Generation: true, Hooks: Hooks{PrepareForStatusUpdate: resetMetaForStatus}}),
	}
}
