package validation

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func validIngress() *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: networkingv1.IngressSpec{
			Rules: []networkingv1.IngressRule{{
				Host: "example.com",
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{
						Path:     "/",
						PathType: &prefix,
						Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80},
						}},
					}},
				}},
			}},
		},
	}
}

func TestValidateIngress(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string
	}{
		{"valid", func(*networkingv1.Ingress) {}, nil},
		{"pathType required", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].PathType = nil }, []string{
			"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
		}},
		{"relative path", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Path = "api" }, []string{
			`spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path`,
		}},
		{"host may not be an IP", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }, []string{
			`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`,
		}},
		{"backend port required", func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port = networkingv1.ServiceBackendPort{}
		}, []string{"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"}},
		{"backend service name", func(i *networkingv1.Ingress) {
			i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = ""
		}, []string{"spec.rules[0].http.paths[0].backend.service.name: Required value"}},
		{"rules or default backend", func(i *networkingv1.Ingress) { i.Spec.Rules = nil }, []string{
			"spec: Invalid value: null: either `defaultBackend` or `rules` must be specified",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ing := validIngress()
			tc.mutate(ing)
			expectErrors(t, ValidateObject(ing), tc.want...)
		})
	}
}

func TestValidateNetworkPolicy(t *testing.T) {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny", Namespace: "default"},
		Spec: networkingv1.NetworkPolicySpec{
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(intstr.FromInt32(80))}},
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
			}},
		},
	}
	expectErrors(t, ValidateObject(np))

	bad := np.DeepCopy()
	bad.Spec.Ingress[0].Ports[0].Port = ptr.To(intstr.FromInt32(70000))
	bad.Spec.Ingress[0].From[0].IPBlock.Except = []string{"192.168.0.0/16"}
	bad.Spec.PolicyTypes = []networkingv1.PolicyType{"Sideways"}
	expectErrors(t, ValidateObject(bad),
		"spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
		`spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "192.168.0.0/16": must be a strict subset of `+"`cidr`",
		`spec.policyTypes[0]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"`,
	)
}

func TestValidateHPA(t *testing.T) {
	valid := func() *autoscalingv2.HorizontalPodAutoscaler {
		return &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web", APIVersion: "apps/v1"},
				MinReplicas:    ptr.To[int32](1),
				MaxReplicas:    5,
				Metrics: []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.ResourceMetricSourceType,
					Resource: &autoscalingv2.ResourceMetricSource{
						Name:   corev1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
					},
				}},
			},
		}
	}
	expectErrors(t, ValidateObject(valid()))

	h := valid()
	h.Spec.MinReplicas = ptr.To[int32](6)
	expectErrors(t, ValidateObject(h), "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`")

	// Replica bounds are declarative (beta) in 1.37; HPAScaleToZero lets
	// minReplicas be 0.
	h = valid()
	h.Spec.MinReplicas = ptr.To[int32](0)
	expectErrors(t, ValidateObject(h), "spec.metrics: Forbidden: must specify at least one Object or External metric to support scaling to zero replicas")
	h.Spec.MinReplicas = ptr.To[int32](-1)
	h.Spec.MaxReplicas = 0
	expectErrors(t, ValidateObject(h),
		"spec.minReplicas: Invalid value: -1: must be greater than or equal to 0",
		"spec.maxReplicas: Required value")

	h = valid()
	h.Spec.Metrics[0].Resource.Target.AverageUtilization = ptr.To[int32](0)
	expectErrors(t, ValidateObject(h), "spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0")

	h = valid()
	h.Spec.Metrics[0].Type = "Custom"
	// Upstream checks the type twice; the declarative merge drops the
	// identical second message.
	expectErrors(t, ValidateObject(h),
		`spec.metrics[0].type: Unsupported value: "Custom": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"`)

	// A second source next to the one the type names is forbidden.
	h = valid()
	h.Spec.Metrics[0].Pods = &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: "qps"},
		Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(mustQuantity("10"))},
	}
	expectErrors(t, ValidateObject(h), "spec.metrics[0].pods: Forbidden: must populate the given metric source only")
}

func TestValidatePodDisruptionBudget(t *testing.T) {
	two := intstr.FromInt32(2)
	pct := intstr.FromString("150%")
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &two, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
	}
	expectErrors(t, ValidateObject(pdb))
	pdb.Spec.MaxUnavailable = &pct
	expectErrors(t, ValidateObject(pdb),
		"spec: Invalid value: {\"minAvailable\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"maxUnavailable\":\"150%\"}: minAvailable and maxUnavailable cannot be both set",
		`spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%`)
}

func TestValidateRBAC(t *testing.T) {
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: "default"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}},
	}
	expectErrors(t, ValidateObject(role))
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, NonResourceURLs: []string{"/healthz"}})
	// The missing verbs are reported by the declarative rule, after the
	// hand-written errors.
	expectErrors(t, ValidateObject(role),
		"rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: namespaced rules cannot apply to non-resource URLs",
		"rules[1].nonResourceURLs: Invalid value: [\"/healthz\"]: rules cannot apply to both regular resources and non-resource URLs",
		"rules[1].verbs: Required value",
	)

	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:reader"},
		Rules:      []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}, Resources: []string{"pods"}}},
	}
	expectErrors(t, ValidateObject(cr), "rules[0].nonResourceURLs: Invalid value: [\"/healthz\"]: rules cannot apply to both regular resources and non-resource URLs")

	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read", Namespace: "default"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default"}},
	}
	expectErrors(t, ValidateObject(rb))
	bad := rb.DeepCopy()
	bad.Subjects = append(bad.Subjects, rbacv1.Subject{Kind: "Robot", Name: "r2"})
	bad.RoleRef.Kind = "Deployment"
	expectErrors(t, ValidateObject(bad),
		`roleRef.kind: Unsupported value: "Deployment": supported values: "Role", "ClusterRole"`,
		`subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`,
	)

	changed := rb.DeepCopy()
	changed.ResourceVersion = "1"
	old := changed.DeepCopy()
	changed.RoleRef.Name = "writer"
	expectErrors(t, ValidateObjectUpdate(changed, old),
		`roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"writer"}: field is immutable`)
}

func TestValidatePriorityClass(t *testing.T) {
	pc := &schedulingv1.PriorityClass{
		ObjectMeta:       metav1.ObjectMeta{Name: "high"},
		Value:            1000,
		PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority),
	}
	expectErrors(t, ValidateObject(pc))
	pc.Value = 2000000000
	expectErrors(t, ValidateObject(pc), "value: Forbidden: maximum allowed value of a user defined priority is 1000000000")

	pc.Value = 10
	pc.ResourceVersion = "1"
	old := pc.DeepCopy()
	pc.Value = 11
	expectErrors(t, ValidateObjectUpdate(pc, old), "value: Forbidden: may not be changed in an update.")
}

func TestValidateLeaseAndRuntimeClass(t *testing.T) {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: "kube-system"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a"), LeaseDurationSeconds: ptr.To[int32](15)},
	}
	expectErrors(t, ValidateObject(lease))
	lease.Spec.LeaseDurationSeconds = ptr.To[int32](0)
	lease.Spec.LeaseTransitions = ptr.To[int32](-1)
	expectErrors(t, ValidateObject(lease),
		"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
		"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0")

	rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc"}
	expectErrors(t, ValidateObject(rc))
	rc.Handler = "Run_SC"
	expectErrorPrefixes(t, ValidateObject(rc), `handler: Invalid value: "Run_SC": a lowercase RFC 1123 label must consist of`)
}

func TestValidateStorageClass(t *testing.T) {
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "fast"},
		Provisioner:       "example.com/fast",
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate),
	}
	expectErrors(t, ValidateObject(sc))
	sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle)
	expectErrors(t, ValidateObject(sc), `reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"`)

	sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
	sc.ResourceVersion = "1"
	old := sc.DeepCopy()
	sc.Provisioner = "example.com/slow"
	expectErrors(t, ValidateObjectUpdate(sc, old), "provisioner: Invalid value: null: field is immutable")
}

func TestValidateEndpointSlice(t *testing.T) {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Namespace: "default"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](80), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	expectErrors(t, ValidateObject(es))
	bad := es.DeepCopy()
	bad.Endpoints[0].Addresses = []string{"not-an-ip"}
	expectErrorPrefixes(t, ValidateObject(bad), `endpoints[0].addresses[0]: Invalid value: "not-an-ip": must be a valid IP address`)

	es.ResourceVersion = "1"
	upd := es.DeepCopy()
	upd.AddressType = discoveryv1.AddressTypeIPv6
	upd.Endpoints[0].Addresses = []string{"fd00::1"}
	expectErrors(t, ValidateObjectUpdate(upd, es), "addressType: Invalid value: null: field is immutable")
}

func TestValidateEvent(t *testing.T) {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:         "Started",
		Type:           corev1.EventTypeNormal,
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	expectErrors(t, ValidateObject(ev))
	bad := ev.DeepCopy()
	bad.InvolvedObject.Namespace = "other"
	expectErrors(t, ValidateObject(bad), `involvedObject.namespace: Invalid value: "other": does not match event.namespace`)
}

func TestValidateNode(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Spec: corev1.NodeSpec{
			PodCIDRs: []string{"10.244.0.0/24"},
			PodCIDR:  "10.244.0.0/24",
			Taints:   []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	expectErrors(t, ValidateObject(node))
	bad := node.DeepCopy()
	bad.Spec.Taints = append(bad.Spec.Taints, corev1.Taint{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule})
	// Upstream reports spec taints under metadata.
	expectErrors(t, ValidateObject(bad), `metadata.taints[1]: Duplicate value: {"key":"dedicated","value":"x","effect":"NoSchedule"}: taints must be unique by key and effect pair`)

	node.ResourceVersion = "1"
	upd := node.DeepCopy()
	upd.Spec.PodCIDRs = []string{"10.245.0.0/24"}
	upd.Spec.PodCIDR = "10.245.0.0/24"
	expectErrors(t, ValidateObjectUpdate(upd, node), "spec.podCIDRs: Forbidden: node updates may not change podCIDR except from \"\" to valid")
}

func TestValidateServiceAccountLimitRangeQuota(t *testing.T) {
	sa := &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "default"},
		Secrets:    []corev1.ObjectReference{{Name: "token"}},
	}
	expectErrors(t, ValidateObject(sa))

	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "default"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:    corev1.LimitTypeContainer,
			Max:     corev1.ResourceList{corev1.ResourceCPU: mustQuantity("1")},
			Default: corev1.ResourceList{corev1.ResourceCPU: mustQuantity("2")},
		}}},
	}
	// Upstream reports the max as the bad value.
	expectErrors(t, ValidateObject(lr), `spec.limits[0].default[cpu]: Invalid value: "1": default value 2 is greater than max value 1`)

	rq := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "quota", Namespace: "default"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: mustQuantity("10")}},
	}
	expectErrors(t, ValidateObject(rq))
	rq.Spec.Hard[corev1.ResourcePods] = mustQuantity("-1")
	expectErrors(t, ValidateObject(rq), `spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0`)
}
