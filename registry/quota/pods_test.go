package quota

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/client-go/tools/cache"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func podWith(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: containers}}
}

func TestPodUsage(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := testingclock.NewFakeClock(now)
	tests := []struct {
		name string
		pod  *corev1.Pod
		want corev1.ResourceList
	}{{
		name: "best effort",
		pod:  podWith(container("a", nil, nil)),
		want: corev1.ResourceList{"count/pods": q("1"), "pods": q("1")},
	}, {
		name: "requests and limits",
		pod: podWith(container("a",
			corev1.ResourceList{"cpu": q("100m"), "memory": q("1Gi"), "ephemeral-storage": q("1G")},
			corev1.ResourceList{"cpu": q("200m"), "memory": q("2Gi"), "ephemeral-storage": q("2G")})),
		want: corev1.ResourceList{
			"count/pods": q("1"), "pods": q("1"),
			"cpu": q("100m"), "requests.cpu": q("100m"), "limits.cpu": q("200m"),
			"memory": q("1Gi"), "requests.memory": q("1Gi"), "limits.memory": q("2Gi"),
			"ephemeral-storage": q("1G"), "requests.ephemeral-storage": q("1G"), "limits.ephemeral-storage": q("2G"),
		},
	}, {
		name: "containers add up, an init container counts if larger",
		pod: func() *corev1.Pod {
			p := podWith(container("a", corev1.ResourceList{"cpu": q("100m")}, nil), container("b", corev1.ResourceList{"cpu": q("200m")}, nil))
			p.Spec.InitContainers = []corev1.Container{container("init", corev1.ResourceList{"cpu": q("1"), "memory": q("1Mi")}, nil)}
			return p
		}(),
		want: corev1.ResourceList{"count/pods": q("1"), "pods": q("1"), "cpu": q("1"), "requests.cpu": q("1"), "memory": q("1Mi"), "requests.memory": q("1Mi")},
	}, {
		name: "hugepages and extended resources",
		pod: podWith(container("a",
			corev1.ResourceList{"hugepages-2Mi": q("4Mi"), "example.com/gpu": q("2"), "deviceclass.resource.kubernetes.io/gpu": q("1")},
			corev1.ResourceList{"hugepages-2Mi": q("4Mi"), "example.com/gpu": q("2"), "deviceclass.resource.kubernetes.io/gpu": q("1")})),
		want: corev1.ResourceList{
			"count/pods": q("1"), "pods": q("1"),
			"hugepages-2Mi": q("4Mi"), "requests.hugepages-2Mi": q("4Mi"),
			"requests.example.com/gpu":                        q("2"),
			"requests.deviceclass.resource.kubernetes.io/gpu": q("1"),
		},
	}, {
		name: "pod-level resources replace the containers'",
		pod: func() *corev1.Pod {
			p := podWith(container("a", corev1.ResourceList{"cpu": q("100m")}, nil))
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("2"), "memory": q("1Gi")}, Limits: corev1.ResourceList{"cpu": q("4")}}
			return p
		}(),
		want: corev1.ResourceList{"count/pods": q("1"), "pods": q("1"), "cpu": q("2"), "requests.cpu": q("2"), "limits.cpu": q("4"), "memory": q("1Gi"), "requests.memory": q("1Gi")},
	}, {
		name: "terminal pods only count as objects",
		pod: func() *corev1.Pod {
			p := podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil))
			p.Status.Phase = corev1.PodSucceeded
			return p
		}(),
		want: corev1.ResourceList{"count/pods": q("1")},
	}, {
		name: "a pod past its deletion grace period stops counting",
		pod: func() *corev1.Pod {
			p := podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil))
			p.DeletionTimestamp = &metav1.Time{Time: now.Add(-time.Minute)}
			p.DeletionGracePeriodSeconds = ptr.To[int64](30)
			return p
		}(),
		want: corev1.ResourceList{"count/pods": q("1")},
	}, {
		name: "a pod within its deletion grace period counts",
		pod: func() *corev1.Pod {
			p := podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil))
			p.DeletionTimestamp = &metav1.Time{Time: now.Add(-10 * time.Second)}
			p.DeletionGracePeriodSeconds = ptr.To[int64](30)
			return p
		}(),
		want: corev1.ResourceList{"count/pods": q("1"), "pods": q("1"), "cpu": q("1"), "requests.cpu": q("1")},
	}}
	e := NewPodEvaluator(nil, clk)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Usage(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if !quota.Equals(got, tc.want) {
				t.Errorf("usage %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodConstraints(t *testing.T) {
	tests := []struct {
		name     string
		required []corev1.ResourceName
		pod      *corev1.Pod
		want     string
	}{{
		name:     "cpu request present",
		required: []corev1.ResourceName{"pods", "requests.cpu"},
		pod:      podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil)),
	}, {
		name:     "only the quota'd resources are required",
		required: []corev1.ResourceName{"pods", "requests.storage"},
		pod:      podWith(container("a", nil, nil)),
	}, {
		name:     "missing cpu request",
		required: []corev1.ResourceName{"pods", "requests.cpu"},
		pod:      podWith(container("a", nil, nil)),
		want:     "must specify requests.cpu for: a",
	}, {
		name:     "several resources and containers, init containers too",
		required: []corev1.ResourceName{"limits.memory", "cpu", "memory"},
		pod: func() *corev1.Pod {
			p := podWith(container("b", corev1.ResourceList{"memory": q("1Gi")}, nil), container("a", nil, nil))
			p.Spec.InitContainers = []corev1.Container{container("init", corev1.ResourceList{"cpu": q("1"), "memory": q("1Gi")}, corev1.ResourceList{"memory": q("1Gi")})}
			return p
		}(),
		want: "must specify cpu for: a,b; limits.memory for: a,b; memory for: a",
	}, {
		name:     "pod-level resources exempt the containers",
		required: []corev1.ResourceName{"requests.cpu", "requests.memory"},
		pod: func() *corev1.Pod {
			p := podWith(container("a", nil, nil))
			p.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("1")}}
			return p
		}(),
	}}
	e := NewPodEvaluator(nil, testingclock.NewFakeClock(time.Now()))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := e.Constraints(tc.required, tc.pod)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Constraints: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPodMatchesScope(t *testing.T) {
	bestEffort := podWith(container("a", nil, nil))
	burstable := podWith(container("a", corev1.ResourceList{"cpu": q("1")}, nil))
	terminating := podWith(container("a", nil, nil))
	terminating.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
	highPriority := podWith(container("a", nil, nil))
	highPriority.Spec.PriorityClassName = "high"
	crossNamespace := podWith(container("a", nil, nil))
	crossNamespace.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{PodAffinityTerm: corev1.PodAffinityTerm{Namespaces: []string{"other"}}}},
	}}
	sameNamespace := podWith(container("a", nil, nil))
	sameNamespace.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "zone"}},
	}}
	scope := func(name corev1.ResourceQuotaScope) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: name, Operator: corev1.ScopeSelectorOpExists}
	}
	priorityIn := corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high", "medium"}}
	priorityNotIn := corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpNotIn, Values: []string{"high"}}
	priorityDoesNotExist := corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpDoesNotExist}
	tests := []struct {
		name  string
		scope corev1.ScopedResourceSelectorRequirement
		pod   *corev1.Pod
		want  bool
	}{
		{"BestEffort, best effort pod", scope(corev1.ResourceQuotaScopeBestEffort), bestEffort, true},
		{"BestEffort, burstable pod", scope(corev1.ResourceQuotaScopeBestEffort), burstable, false},
		{"NotBestEffort, burstable pod", scope(corev1.ResourceQuotaScopeNotBestEffort), burstable, true},
		{"NotBestEffort, best effort pod", scope(corev1.ResourceQuotaScopeNotBestEffort), bestEffort, false},
		{"Terminating, with deadline", scope(corev1.ResourceQuotaScopeTerminating), terminating, true},
		{"Terminating, without deadline", scope(corev1.ResourceQuotaScopeTerminating), bestEffort, false},
		{"NotTerminating, without deadline", scope(corev1.ResourceQuotaScopeNotTerminating), bestEffort, true},
		{"NotTerminating, with deadline", scope(corev1.ResourceQuotaScopeNotTerminating), terminating, false},
		{"PriorityClass Exists, with class", scope(corev1.ResourceQuotaScopePriorityClass), highPriority, true},
		{"PriorityClass Exists, without class", scope(corev1.ResourceQuotaScopePriorityClass), bestEffort, false},
		{"PriorityClass In, listed", priorityIn, highPriority, true},
		{"PriorityClass In, no class", priorityIn, bestEffort, false},
		{"PriorityClass NotIn, listed", priorityNotIn, highPriority, false},
		{"PriorityClass NotIn, no class", priorityNotIn, bestEffort, true},
		{"PriorityClass DoesNotExist, no class", priorityDoesNotExist, bestEffort, true},
		{"CrossNamespacePodAffinity, namespaces listed", scope(corev1.ResourceQuotaScopeCrossNamespacePodAffinity), crossNamespace, true},
		{"CrossNamespacePodAffinity, same namespace", scope(corev1.ResourceQuotaScopeCrossNamespacePodAffinity), sameNamespace, false},
		{"CrossNamespacePodAffinity, no affinity", scope(corev1.ResourceQuotaScopeCrossNamespacePodAffinity), bestEffort, false},
		{"a PVC scope never matches pods", scope(corev1.ResourceQuotaScopeVolumeAttributesClass), bestEffort, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podMatchesScope(tc.scope, tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("match %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodMatchingResources(t *testing.T) {
	input := []corev1.ResourceName{
		"pods", "count/pods", "requests.cpu", "limits.memory", "ephemeral-storage",
		"hugepages-2Mi", "requests.hugepages-1Gi", "requests.example.com/gpu", "requests.deviceclass.resource.kubernetes.io/gpu",
		"example.com/gpu", "limits.example.com/gpu", "services", "requests.storage", "count/secrets",
	}
	want := []corev1.ResourceName{
		"pods", "count/pods", "requests.cpu", "limits.memory", "ephemeral-storage",
		"hugepages-2Mi", "requests.hugepages-1Gi", "requests.example.com/gpu", "requests.deviceclass.resource.kubernetes.io/gpu",
	}
	got := NewPodEvaluator(nil, nil).MatchingResources(input)
	if !quota.ToSet(got).Equal(quota.ToSet(want)) || len(got) != len(want) {
		t.Errorf("MatchingResources = %v, want %v", got, want)
	}
}

func TestPodHandles(t *testing.T) {
	plain := podWith(container("a", nil, nil))
	deadline := plain.DeepCopy()
	deadline.Spec.ActiveDeadlineSeconds = ptr.To[int64](10)
	tests := []struct {
		name        string
		op          admission.Operation
		subresource string
		obj, old    runtime.Object
		want        bool
	}{
		{"create", admission.Create, "", plain, nil, true},
		{"update", admission.Update, "", plain, plain, false},
		{"update into the Terminating scope", admission.Update, "", deadline, plain, true},
		{"resize", admission.Update, "resize", plain, plain, true},
		{"status", admission.Update, "status", plain, plain, false},
		{"delete", admission.Delete, "", nil, plain, false},
	}
	e := NewPodEvaluator(nil, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := admission.NewAttributesRecord(tc.obj, tc.old, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "p", podsResource, tc.subresource, tc.op, nil, false, nil)
			if got := e.Handles(a); got != tc.want {
				t.Errorf("Handles = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPodUsageStats lists pods through a lister, as the controller does:
// terminal pods and pods outside the quota's scope do not count.
func TestPodUsageStats(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	add := func(name string, cpu string, phase corev1.PodPhase) {
		p := podWith(container("a", nil, nil))
		p.Name = name
		if cpu != "" {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"cpu": q(cpu)}
		}
		p.Status.Phase = phase
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "100m", corev1.PodRunning)
	add("b", "200m", corev1.PodPending)
	add("c", "1", corev1.PodFailed)
	add("d", "", corev1.PodRunning)
	lister := func(gvr schema.GroupVersionResource) (cache.GenericLister, error) {
		return cache.NewGenericLister(indexer, gvr.GroupResource()), nil
	}
	e := NewPodEvaluator(lister, testingclock.NewFakeClock(time.Now()))
	tests := []struct {
		name   string
		scopes []corev1.ResourceQuotaScope
		want   corev1.ResourceList
	}{
		{"all", nil, corev1.ResourceList{"pods": q("3"), "count/pods": q("4"), "requests.cpu": q("300m")}},
		{"NotBestEffort", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}, corev1.ResourceList{"pods": q("2"), "count/pods": q("3"), "requests.cpu": q("300m")}},
		{"BestEffort", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}, corev1.ResourceList{"pods": q("1"), "count/pods": q("1"), "requests.cpu": q("0")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stats, err := e.UsageStats(quota.UsageStatsOptions{Namespace: "ns", Scopes: tc.scopes, Resources: []corev1.ResourceName{"pods", "count/pods", "requests.cpu"}})
			if err != nil {
				t.Fatal(err)
			}
			// UsageStats reports whatever the pods use; the controller masks
			// it with the quota's resources.
			if used := quota.Mask(stats.Used, quota.ResourceNames(tc.want)); !quota.Equals(used, tc.want) {
				t.Errorf("used %v, want %v", stats.Used, tc.want)
			}
		})
	}
}
