package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/utils/ptr"
)

func service(typ corev1.ServiceType, nodePorts ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Spec: corev1.ServiceSpec{Type: typ}}
	for _, np := range nodePorts {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{NodePort: np})
	}
	return svc
}

func TestServiceUsage(t *testing.T) {
	noAlloc := service(corev1.ServiceTypeLoadBalancer, 0, 30001, 0)
	noAlloc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	tests := []struct {
		name string
		svc  *corev1.Service
		want corev1.ResourceList
	}{
		{"ClusterIP", service(corev1.ServiceTypeClusterIP, 0, 0),
			corev1.ResourceList{"count/services": q("1"), "services": q("1"), "services.nodeports": q("0"), "services.loadbalancers": q("0")}},
		{"NodePort counts each port", service(corev1.ServiceTypeNodePort, 30000, 0),
			corev1.ResourceList{"count/services": q("1"), "services": q("1"), "services.nodeports": q("2"), "services.loadbalancers": q("0")}},
		{"LoadBalancer", service(corev1.ServiceTypeLoadBalancer, 0, 0, 0),
			corev1.ResourceList{"count/services": q("1"), "services": q("1"), "services.nodeports": q("3"), "services.loadbalancers": q("1")}},
		{"LoadBalancer without node port allocation counts explicit ports", noAlloc,
			corev1.ResourceList{"count/services": q("1"), "services": q("1"), "services.nodeports": q("1"), "services.loadbalancers": q("1")}},
		{"ExternalName", service(corev1.ServiceTypeExternalName),
			corev1.ResourceList{"count/services": q("1"), "services": q("1"), "services.nodeports": q("0"), "services.loadbalancers": q("0")}},
	}
	e := NewServiceEvaluator(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Usage(tc.svc)
			if err != nil {
				t.Fatal(err)
			}
			if !quota.Equals(got, tc.want) {
				t.Errorf("usage %v, want %v", got, tc.want)
			}
		})
	}
	got := e.MatchingResources([]corev1.ResourceName{"services", "services.nodeports", "count/services", "services.loadbalancers", "pods", "count/pods"})
	if len(got) != 4 {
		t.Errorf("MatchingResources = %v, want the four service resources", got)
	}
}

func pvc(class *string, request string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: class}}
	if request != "" {
		c.Spec.Resources.Requests = corev1.ResourceList{"storage": q(request)}
	}
	return c
}

func TestPVCUsage(t *testing.T) {
	allocated := pvc(ptr.To("gold"), "1Gi")
	allocated.Status.AllocatedResources = corev1.ResourceList{"storage": q("2Gi")}
	smallerAllocated := pvc(nil, "1Gi")
	smallerAllocated.Status.AllocatedResources = corev1.ResourceList{"storage": q("512Mi")}
	legacyClass := pvc(nil, "1Gi")
	legacyClass.Annotations = map[string]string{corev1.BetaStorageClassAnnotation: "silver"}
	tests := []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want corev1.ResourceList
	}{
		{"no class", pvc(nil, "1Gi"),
			corev1.ResourceList{"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("1Gi")}},
		{"class", pvc(ptr.To("gold"), "10G"), corev1.ResourceList{
			"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("10G"),
			"gold.storageclass.storage.k8s.io/persistentvolumeclaims": q("1"), "gold.storageclass.storage.k8s.io/requests.storage": q("10G"),
		}},
		{"class from the beta annotation", legacyClass, corev1.ResourceList{
			"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("1Gi"),
			"silver.storageclass.storage.k8s.io/persistentvolumeclaims": q("1"), "silver.storageclass.storage.k8s.io/requests.storage": q("1Gi"),
		}},
		{"fractions round up", pvc(nil, "1500m"),
			corev1.ResourceList{"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("2")}},
		{"larger allocation counts", allocated, corev1.ResourceList{
			"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("2Gi"),
			"gold.storageclass.storage.k8s.io/persistentvolumeclaims": q("1"), "gold.storageclass.storage.k8s.io/requests.storage": q("2Gi"),
		}},
		{"smaller allocation does not", smallerAllocated,
			corev1.ResourceList{"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("1Gi")}},
		{"no request", pvc(nil, ""),
			corev1.ResourceList{"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1")}},
	}
	e := NewPersistentVolumeClaimEvaluator(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Usage(tc.pvc)
			if err != nil {
				t.Fatal(err)
			}
			if !quota.Equals(got, tc.want) {
				t.Errorf("usage %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPVCMatchingResources(t *testing.T) {
	input := []corev1.ResourceName{
		"persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage",
		"gold.storageclass.storage.k8s.io/requests.storage", "gold.storageclass.storage.k8s.io/persistentvolumeclaims",
		"pods", "requests.cpu", "gold.storageclass.storage.k8s.io/limits.storage",
	}
	got := NewPersistentVolumeClaimEvaluator(nil).MatchingResources(input)
	if want := input[:5]; !quota.Equals(quotaList(got), quotaList(want)) {
		t.Errorf("MatchingResources = %v, want %v", got, want)
	}
}

func quotaList(names []corev1.ResourceName) corev1.ResourceList {
	l := corev1.ResourceList{}
	for _, n := range names {
		l[n] = q("1")
	}
	return l
}

func TestPVCMatchesScope(t *testing.T) {
	withVAC := func(spec, current, target string) *corev1.PersistentVolumeClaim {
		c := pvc(nil, "1Gi")
		if spec != "" {
			c.Spec.VolumeAttributesClassName = ptr.To(spec)
		}
		if current != "" {
			c.Status.CurrentVolumeAttributesClassName = ptr.To(current)
		}
		if target != "" {
			c.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: target}
		}
		return c
	}
	sel := func(op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopeVolumeAttributesClass, Operator: op, Values: values}
	}
	tests := []struct {
		name  string
		scope corev1.ScopedResourceSelectorRequirement
		pvc   *corev1.PersistentVolumeClaim
		want  bool
	}{
		{"Exists, none", sel(corev1.ScopeSelectorOpExists), withVAC("", "", ""), false},
		{"Exists, in spec", sel(corev1.ScopeSelectorOpExists), withVAC("fast", "", ""), true},
		{"In, spec", sel(corev1.ScopeSelectorOpIn, "fast"), withVAC("fast", "", ""), true},
		{"In, current status", sel(corev1.ScopeSelectorOpIn, "slow"), withVAC("fast", "slow", ""), true},
		{"In, modification target", sel(corev1.ScopeSelectorOpIn, "next"), withVAC("fast", "slow", "next"), true},
		{"In, none", sel(corev1.ScopeSelectorOpIn, "fast"), withVAC("", "", ""), false},
		{"NotIn, none", sel(corev1.ScopeSelectorOpNotIn, "fast"), withVAC("", "", ""), true},
		{"NotIn, other class", sel(corev1.ScopeSelectorOpNotIn, "fast"), withVAC("slow", "", ""), true},
		{"NotIn, listed", sel(corev1.ScopeSelectorOpNotIn, "fast"), withVAC("fast", "", ""), false},
		{"a pod scope never matches", corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopeBestEffort, Operator: corev1.ScopeSelectorOpExists}, withVAC("fast", "", ""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pvcMatchesScope(tc.scope, tc.pvc)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("match %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPVCHandles(t *testing.T) {
	plain := pvc(nil, "1Gi")
	resized := plain.DeepCopy()
	resized.Status.AllocatedResources = corev1.ResourceList{"storage": q("2Gi")}
	sameAllocation := resized.DeepCopy()
	sameAllocation.Status.Phase = corev1.ClaimBound
	tests := []struct {
		name        string
		op          admission.Operation
		subresource string
		obj, old    runtime.Object
		want        bool
	}{
		{"create", admission.Create, "", plain, nil, true},
		{"update", admission.Update, "", plain, plain, true},
		{"status, allocation changed", admission.Update, "status", resized, plain, true},
		{"status, allocation unchanged", admission.Update, "status", sameAllocation, resized, false},
		{"delete", admission.Delete, "", nil, plain, false},
	}
	e := NewPersistentVolumeClaimEvaluator(nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := admission.NewAttributesRecord(tc.obj, tc.old, corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), "ns", "c", pvcsResource, tc.subresource, tc.op, nil, false, nil)
			if got := e.Handles(a); got != tc.want {
				t.Errorf("Handles = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpdateFilter(t *testing.T) {
	running := podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil))
	running.Status.Phase = corev1.PodRunning
	succeeded := running.DeepCopy()
	succeeded.Status.Phase = corev1.PodSucceeded
	relabeled := running.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	deadline := running.DeepCopy()
	deadline.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
	withStatus := func(cpu string) *corev1.Pod {
		p := running.DeepCopy()
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "a", Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q(cpu)}}}}
		return p
	}
	tests := []struct {
		name     string
		resource string
		old, new any
		want     bool
	}{
		{"pod terminated", "pods", running, succeeded, true},
		{"pod relabeled", "pods", running, relabeled, false},
		{"pod gained a deadline", "pods", running, deadline, true},
		{"pod resized", "pods", withStatus("1"), withStatus("2"), true},
		{"pod resize unchanged", "pods", withStatus("1"), withStatus("1"), false},
		{"service became NodePort", "services", service(corev1.ServiceTypeClusterIP), service(corev1.ServiceTypeNodePort), true},
		{"service ClusterIP to ExternalName", "services", service(corev1.ServiceTypeClusterIP), service(corev1.ServiceTypeExternalName), false},
		{"pvc allocation", "persistentvolumeclaims", pvc(nil, "1Gi"), func() any {
			c := pvc(nil, "1Gi")
			c.Status.AllocatedResources = corev1.ResourceList{"storage": q("1Gi")}
			return c
		}(), true},
		{"configmaps never", "configmaps", &corev1.ConfigMap{}, &corev1.ConfigMap{Data: map[string]string{"a": "b"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := UpdateFilter(corev1.SchemeGroupVersion.WithResource(tc.resource), tc.old, tc.new); got != tc.want {
				t.Errorf("UpdateFilter = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestEvaluators: the core evaluators cover the legacy object count names
// besides their own resources.
func TestEvaluators(t *testing.T) {
	registry := generic.NewRegistry(NewConfiguration(nil).Evaluators())
	tests := []struct {
		resource string
		names    []corev1.ResourceName
	}{
		{"configmaps", []corev1.ResourceName{"configmaps", "count/configmaps"}},
		{"secrets", []corev1.ResourceName{"secrets", "count/secrets"}},
		{"replicationcontrollers", []corev1.ResourceName{"replicationcontrollers", "count/replicationcontrollers"}},
		{"resourcequotas", []corev1.ResourceName{"resourcequotas", "count/resourcequotas"}},
		{"pods", []corev1.ResourceName{"pods", "count/pods"}},
		{"services", []corev1.ResourceName{"services", "count/services"}},
		{"persistentvolumeclaims", []corev1.ResourceName{"persistentvolumeclaims", "count/persistentvolumeclaims"}},
	}
	for _, tc := range tests {
		t.Run(tc.resource, func(t *testing.T) {
			e := registry.Get(corev1.SchemeGroupVersion.WithResource(tc.resource).GroupResource())
			if e == nil {
				t.Fatal("no evaluator")
			}
			if got := e.MatchingResources(tc.names); len(got) != len(tc.names) {
				t.Errorf("MatchingResources(%v) = %v", tc.names, got)
			}
		})
	}
	if _, ok := NewConfiguration(nil).IgnoredResources()[corev1.SchemeGroupVersion.WithResource("events").GroupResource()]; !ok {
		t.Error("events are not ignored")
	}
}
