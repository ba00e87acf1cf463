package printers

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestHorizontalPodAutoscalers(t *testing.T) {
	gr := schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}
	q := func(s string) *resource.Quantity { return ptr.To(resource.MustParse(s)) }
	cpu := func(target *int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: target}}}
	}
	cpuNow := func(v int32) autoscalingv2.MetricStatus {
		return autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To(v)}}}
	}
	memory := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: q("500Mi")}}}
	pods := autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Target: autoscalingv2.MetricTarget{AverageValue: q("100")}}}
	external := autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Target: autoscalingv2.MetricTarget{Value: q("10")}}}
	objectAvg := autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		Target: autoscalingv2.MetricTarget{AverageValue: q("2k")}}}
	container := autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
		Name: corev1.ResourceCPU, Container: "app", Target: autoscalingv2.MetricTarget{AverageUtilization: ptr.To[int32](60)}}}

	tests := []struct {
		name     string
		metrics  []autoscalingv2.MetricSpec
		statuses []autoscalingv2.MetricStatus
		want     string
	}{
		{name: "no metrics", want: "<none>"},
		{name: "cpu utilisation not measured yet", metrics: []autoscalingv2.MetricSpec{cpu(ptr.To[int32](80))}, want: "cpu: <unknown>/80%"},
		{name: "cpu utilisation", metrics: []autoscalingv2.MetricSpec{cpu(ptr.To[int32](80))}, statuses: []autoscalingv2.MetricStatus{cpuNow(50)}, want: "cpu: 50%/80%"},
		{name: "utilisation without target", metrics: []autoscalingv2.MetricSpec{cpu(nil)}, want: "cpu: <unknown>/<auto>"},
		{name: "average value", metrics: []autoscalingv2.MetricSpec{memory}, statuses: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: corev1.ResourceMemory, Current: autoscalingv2.MetricValueStatus{AverageValue: q("300Mi")}}}},
			want: "memory: 300Mi/500Mi"},
		{name: "pods metric", metrics: []autoscalingv2.MetricSpec{pods}, want: "<unknown>/100"},
		{name: "external value", metrics: []autoscalingv2.MetricSpec{external}, statuses: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ExternalMetricSourceType,
			External: &autoscalingv2.ExternalMetricStatus{Current: autoscalingv2.MetricValueStatus{Value: q("7")}}}}, want: "7/10"},
		{name: "object average", metrics: []autoscalingv2.MetricSpec{objectAvg}, want: "<unknown>/2k (avg)"},
		{name: "container resource", metrics: []autoscalingv2.MetricSpec{container}, want: "cpu: <unknown>/60%"},
		{name: "more than two", metrics: []autoscalingv2.MetricSpec{cpu(ptr.To[int32](80)), memory, pods, external},
			statuses: []autoscalingv2.MetricStatus{cpuNow(95)}, want: "cpu: 95%/80%, memory: <unknown>/500Mi + 2 more..."},
		{name: "unknown type", metrics: []autoscalingv2.MetricSpec{{Type: "Bogus"}}, want: "<unknown type>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hpa := &autoscalingv2.HorizontalPodAutoscaler{
				ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Minute)},
				Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
					MinReplicas: ptr.To[int32](2), MaxReplicas: 10, Metrics: tt.metrics},
				Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, CurrentMetrics: tt.statuses},
			}
			expectCells(t, serverCells(t, gr, hpa), []any{"web", "Deployment/web", tt.want, "2", int64(10), int64(3), "60s"})
		})
	}

	t.Run("autoscaling/v1 object", func(t *testing.T) {
		hpa := &autoscalingv1.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: autoscalingv1.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
				MaxReplicas: 4, TargetCPUUtilizationPercentage: ptr.To[int32](70)},
			Status: autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 1, CurrentCPUUtilizationPercentage: ptr.To[int32](12)},
		}
		expectCells(t, serverCells(t, gr, hpa), []any{"web", "Deployment/web", "cpu: 12%/70%", "<unset>", int64(4), int64(1), "<unknown>"})
	})
}

func TestClusterObjects(t *testing.T) {
	created := ago(5 * time.Hour)
	meta := metav1.ObjectMeta{Name: "x", CreationTimestamp: created}
	core := func(r string) schema.GroupResource { return schema.GroupResource{Resource: r} }
	group := func(g, r string) schema.GroupResource { return schema.GroupResource{Group: g, Resource: r} }
	storage := func(r string) schema.GroupResource { return group("storage.k8s.io", r) }
	filesystem := corev1.PersistentVolumeFilesystem
	retain := corev1.PersistentVolumeReclaimRetain
	waitForConsumer := storagev1.VolumeBindingWaitForFirstConsumer
	deleted := ago(time.Second)

	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want []any
	}{
		{
			name: "namespace",
			gr:   core("namespaces"),
			obj:  &corev1.Namespace{ObjectMeta: meta, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			want: []any{"x", "Terminating", "5h"},
		},
		{
			name: "secret",
			gr:   core("secrets"),
			obj:  &corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			want: []any{"x", "kubernetes.io/tls", int64(2), "5h"},
		},
		{
			name: "config map counts binary data too",
			gr:   core("configmaps"),
			obj:  &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}},
			want: []any{"x", int64(2), "5h"},
		},
		{
			name: "service account",
			gr:   core("serviceaccounts"),
			obj:  &corev1.ServiceAccount{ObjectMeta: meta},
			want: []any{"x", "5h"},
		},
		{
			name: "bound persistent volume",
			gr:   core("persistentvolumes"),
			obj: &corev1.PersistentVolume{ObjectMeta: meta, Spec: corev1.PersistentVolumeSpec{
				Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadWriteOnce, corev1.ReadWriteOnce, corev1.ReadOnlyMany},
				ClaimRef:    &corev1.ObjectReference{Namespace: "default", Name: "data"}, PersistentVolumeReclaimPolicy: retain,
				StorageClassName: "local-path", VolumeMode: &filesystem},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound}},
			want: []any{"x", "10Gi", "RWO,ROX,RWOP", "Retain", "Bound", "default/data", "local-path", "<unset>", "", "5h", "Filesystem"},
		},
		{
			name: "persistent volume being deleted, class from the beta annotation",
			gr:   core("persistentvolumes"),
			obj: &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "x", CreationTimestamp: created, DeletionTimestamp: &deleted,
				Annotations: map[string]string{corev1.BetaStorageClassAnnotation: "old"}},
				Spec:   corev1.PersistentVolumeSpec{StorageClassName: "new", VolumeAttributesClassName: ptr.To("gold")},
				Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeFailed, Reason: "Recycler failed"}},
			want: []any{"x", "0", "", "", "Terminating", "", "old", "gold", "Recycler failed", "5h", "<unset>"},
		},
		{
			name: "bound claim shows the volume's capacity and modes",
			gr:   core("persistentvolumeclaims"),
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: meta,
				Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: ptr.To("local-path"), VolumeMode: &filesystem,
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
				Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
					Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}}},
			want: []any{"x", "Bound", "pv-1", "2Gi", "RWX", "local-path", "<unset>", "5h", "Filesystem"},
		},
		{
			name: "pending claim",
			gr:   core("persistentvolumeclaims"),
			obj: &corev1.PersistentVolumeClaim{ObjectMeta: meta, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}},
			want: []any{"x", "Pending", "", "", "", "", "<unset>", "5h", "<unset>"},
		},
		{
			name: "resource quota",
			gr:   core("resourcequotas"),
			obj: &corev1.ResourceQuota{ObjectMeta: meta, Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("4"), "limits.memory": resource.MustParse("8Gi"), "limits.cpu": resource.MustParse("8")},
				Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m"), "limits.cpu": resource.MustParse("1")}}},
			want: []any{"x", "pods: 3/10, requests.cpu: 500m/4", "limits.cpu: 1/8, limits.memory: 0/8Gi", "5h"},
		},
		{
			name: "component status",
			gr:   core("componentstatuses"),
			obj: &corev1.ComponentStatus{ObjectMeta: meta, Conditions: []corev1.ComponentCondition{
				{Type: corev1.ComponentHealthy, Status: corev1.ConditionFalse, Message: "m", Error: "connection refused"}}},
			want: []any{"x", "Unhealthy", "m", "connection refused"},
		},
		{
			name: "pod disruption budget",
			gr:   group("policy", "poddisruptionbudgets"),
			obj: &policyv1.PodDisruptionBudget{ObjectMeta: meta, Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("50%"))},
				Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1}},
			want: []any{"x", "50%", "N/A", int64(1), "5h"},
		},
		{
			name: "role binding",
			gr:   group("rbac.authorization.k8s.io", "rolebindings"),
			obj: &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}, Subjects: []rbacv1.Subject{
				{Kind: "User", Name: "alice"}, {Kind: "User", Name: "bob"}, {Kind: "Group", Name: "devs"},
				{Kind: "ServiceAccount", Namespace: "ci", Name: "builder"}, {Kind: "Robot", Name: "r2"}}},
			want: []any{"x", "ClusterRole/edit", "5h", "alice, bob", "devs", "ci/builder"},
		},
		{
			name: "cluster role binding without subjects",
			gr:   group("rbac.authorization.k8s.io", "clusterrolebindings"),
			obj:  &rbacv1.ClusterRoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}},
			want: []any{"x", "ClusterRole/view", "5h", "", "", ""},
		},
		{
			name: "approved and issued CSR",
			gr:   group("certificates.k8s.io", "certificatesigningrequests"),
			obj: &certificatesv1.CertificateSigningRequest{ObjectMeta: meta,
				Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "kubernetes.io/kubelet-serving", Username: "system:node:n1", ExpirationSeconds: ptr.To[int32](86400)},
				Status: certificatesv1.CertificateSigningRequestStatus{Certificate: []byte("pem"),
					Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved}}}},
			want: []any{"x", "5h", "kubernetes.io/kubelet-serving", "system:node:n1", "24h", "Approved,Issued"},
		},
		{
			name: "denied and failed CSR",
			gr:   group("certificates.k8s.io", "certificatesigningrequests"),
			obj: &certificatesv1.CertificateSigningRequest{ObjectMeta: meta, Status: certificatesv1.CertificateSigningRequestStatus{
				Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved}, {Type: certificatesv1.CertificateDenied}, {Type: certificatesv1.CertificateFailed}}}},
			want: []any{"x", "5h", "<none>", "", "<none>", "Denied,Failed"},
		},
		{
			name: "pending pod certificate request",
			gr:   group("certificates.k8s.io", "podcertificaterequests"),
			obj: &certificatesv1.PodCertificateRequest{ObjectMeta: meta, Spec: certificatesv1.PodCertificateRequestSpec{
				PodName: "p", ServiceAccountName: "sa", NodeName: "n1", SignerName: "example.com/s", UnverifiedUserAnnotations: map[string]string{"a": "b"}}},
			want: []any{"x", "p", "sa", "n1", "example.com/s", "Pending", "a=b"},
		},
		{
			name: "lease",
			gr:   group("coordination.k8s.io", "leases"),
			obj:  &coordinationv1.Lease{ObjectMeta: meta, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("n1")}},
			want: []any{"x", "n1", "5h"},
		},
		{
			name: "priority class",
			gr:   group("scheduling.k8s.io", "priorityclasses"),
			obj:  &schedulingv1.PriorityClass{ObjectMeta: meta, Value: 2000001000, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)},
			want: []any{"x", int64(2000001000), false, "5h", "PreemptLowerPriority"},
		},
		{
			name: "runtime class",
			gr:   group("node.k8s.io", "runtimeclasses"),
			obj:  &nodev1.RuntimeClass{ObjectMeta: meta, Handler: "runc"},
			want: []any{"x", "runc", "5h"},
		},
		{
			name: "flow schema",
			gr:   group("flowcontrol.apiserver.k8s.io", "flowschemas"),
			obj: &flowcontrolv1.FlowSchema{ObjectMeta: meta, Spec: flowcontrolv1.FlowSchemaSpec{
				PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-low"}, MatchingPrecedence: 9000,
				DistinguisherMethod: &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType}},
				Status: flowcontrolv1.FlowSchemaStatus{Conditions: []flowcontrolv1.FlowSchemaCondition{{Type: flowcontrolv1.FlowSchemaConditionDangling, Status: "False"}}}},
			want: []any{"x", "workload-low", int64(9000), "ByUser", "5h", "False"},
		},
		{
			name: "limited priority level",
			gr:   group("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
			obj: &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: meta, Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
				Type: flowcontrolv1.PriorityLevelEnablementLimited, Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
					NominalConcurrencyShares: ptr.To[int32](100), LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue,
						Queuing: &flowcontrolv1.QueuingConfiguration{Queues: 128, HandSize: 6, QueueLengthLimit: 50}}}}},
			want: []any{"x", "Limited", int64(100), int64(128), int64(6), int64(50), "5h"},
		},
		{
			name: "exempt priority level",
			gr:   group("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
			obj: &flowcontrolv1.PriorityLevelConfiguration{ObjectMeta: meta, Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
				Type: flowcontrolv1.PriorityLevelEnablementExempt}},
			want: []any{"x", "Exempt", "<none>", "<none>", "<none>", "<none>", "5h"},
		},
		{
			name: "validating admission policy",
			gr:   group("admissionregistration.k8s.io", "validatingadmissionpolicies"),
			obj: &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: meta, Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
				ParamKind: &admissionregistrationv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}, Validations: make([]admissionregistrationv1.Validation, 2)}},
			want: []any{"x", int64(2), "v1/ConfigMap", "5h"},
		},
		{
			name: "policy binding with a namespaced param",
			gr:   group("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
			obj: &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: meta, Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
				PolicyName: "p", ParamRef: &admissionregistrationv1.ParamRef{Namespace: "ns", Name: "cm"}}},
			want: []any{"x", "p", "ns/cm", "5h"},
		},
		{
			name: "mutating policy binding with a param of any namespace",
			gr:   group("admissionregistration.k8s.io", "mutatingadmissionpolicybindings"),
			obj: &admissionregistrationv1.MutatingAdmissionPolicyBinding{ObjectMeta: meta, Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{
				PolicyName: "p", ParamRef: &admissionregistrationv1.ParamRef{Name: "cm"}}},
			want: []any{"x", "p", "*/cm", "5h"},
		},
		{
			name: "webhook configuration",
			gr:   group("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
			obj:  &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: meta, Webhooks: make([]admissionregistrationv1.MutatingWebhook, 3)},
			want: []any{"x", int64(3), "5h"},
		},
		{
			name: "storage class",
			gr:   storage("storageclasses"),
			obj: &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path", CreationTimestamp: created,
				Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
				Provisioner: "skiff.dev/local-path", VolumeBindingMode: &waitForConsumer, AllowVolumeExpansion: ptr.To(true)},
			want: []any{"local-path", "skiff.dev/local-path", "Delete", "WaitForFirstConsumer", true, "5h"},
		},
		{
			name: "CSI driver defaults",
			gr:   storage("csidrivers"),
			obj:  &storagev1.CSIDriver{ObjectMeta: meta},
			want: []any{"x", true, false, false, "<unset>", false, "<none>", "5h"},
		},
		{
			name: "CSI driver",
			gr:   storage("csidrivers"),
			obj: &storagev1.CSIDriver{ObjectMeta: meta, Spec: storagev1.CSIDriverSpec{AttachRequired: ptr.To(false), PodInfoOnMount: ptr.To(true),
				TokenRequests: []storagev1.TokenRequest{{Audience: "a"}, {Audience: "b"}}, RequiresRepublish: ptr.To(true),
				VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}}},
			want: []any{"x", false, true, false, "a,b", true, "Persistent,Ephemeral", "5h"},
		},
		{
			name: "volume attachment",
			gr:   storage("volumeattachments"),
			obj: &storagev1.VolumeAttachment{ObjectMeta: meta, Spec: storagev1.VolumeAttachmentSpec{Attacher: "csi.example.com", NodeName: "n1",
				Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-1")}}, Status: storagev1.VolumeAttachmentStatus{Attached: true}},
			want: []any{"x", "csi.example.com", "pv-1", "n1", true, "5h"},
		},
		{
			name: "CSI node",
			gr:   storage("csinodes"),
			obj:  &storagev1.CSINode{ObjectMeta: meta, Spec: storagev1.CSINodeSpec{Drivers: make([]storagev1.CSINodeDriver, 2)}},
			want: []any{"x", int64(2), "5h"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, tt.gr, tt.obj), tt.want)
		})
	}
}

func TestListsWithOwnOrder(t *testing.T) {
	t.Run("the newest default storage class is the effective default", func(t *testing.T) {
		class := func(name string, created time.Time, isDefault string) storagev1.StorageClass {
			return storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created),
				Annotations: map[string]string{"storageclass.beta.kubernetes.io/is-default-class": isDefault}}}
		}
		t0 := time.Now().Add(-10 * time.Hour)
		list := &storagev1.StorageClassList{Items: []storagev1.StorageClass{
			class("old-default", t0, "true"), class("b-default", t0.Add(time.Hour), "true"), class("a-default", t0.Add(time.Hour), "true"),
			class("newest-not-default", t0.Add(2*time.Hour), "false"),
		}}
		table, err := NewTableConvertor(schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}).ConvertToTable(context.Background(), list, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []any
		for i, row := range table.Rows {
			names = append(names, row.Cells[0])
			if row.Object.Object != &list.Items[i] {
				t.Errorf("row %d does not carry its item", i)
			}
		}
		expectCells(t, names, []any{"old-default", "b-default", "a-default (default)", "newest-not-default"})
	})

	t.Run("flow schemas in matching order", func(t *testing.T) {
		fs := func(name string, precedence int32) flowcontrolv1.FlowSchema {
			return flowcontrolv1.FlowSchema{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: flowcontrolv1.FlowSchemaSpec{MatchingPrecedence: precedence}}
		}
		list := &flowcontrolv1.FlowSchemaList{Items: []flowcontrolv1.FlowSchema{fs("global-default", 9900), fs("exempt", 1), fs("system-nodes", 500), fs("probes", 2), fs("catch-all", 10000), fs("b", 500)}}
		table, err := NewTableConvertor(schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}).ConvertToTable(context.Background(), list, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []any
		for _, row := range table.Rows {
			names = append(names, row.Cells[0])
			if row.Object.Object.(*flowcontrolv1.FlowSchema).Name != row.Cells[0] {
				t.Errorf("row %q carries another object", row.Cells[0])
			}
		}
		expectCells(t, names, []any{"exempt", "probes", "b", "system-nodes", "global-default", "catch-all"})
	})
}

func TestScaleAndStatus(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(5 * time.Hour)},
		Spec: autoscalingv1.ScaleSpec{Replicas: 3}, Status: autoscalingv1.ScaleStatus{Replicas: 2}}
	expectCells(t, serverCells(t, gr, scale), []any{"web", int64(3), int64(2), "5h"})
	status := &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Message: "not found"}
	expectCells(t, serverCells(t, gr, status), []any{"Failure", "NotFound", "not found"})
}
