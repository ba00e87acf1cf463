package quota

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/admission"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/registry/core/pod"
)

var (
	podsResource       = corev1.SchemeGroupVersion.WithResource("pods")
	podObjectCountName = generic.ObjectCountQuotaResourceNameFor(podsResource.GroupResource())

	// requests.deviceclass.resource.kubernetes.io/<class>: the implicit
	// extended resource a DeviceClass offers.
	requestsDeviceClassPrefix = corev1.DefaultResourceRequestsPrefix + resourcev1.ResourceDeviceClassPrefix

	podResources = []corev1.ResourceName{
		podObjectCountName,
		corev1.ResourceCPU,
		corev1.ResourceMemory,
		corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU,
		corev1.ResourceRequestsMemory,
		corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsCPU,
		corev1.ResourceLimitsMemory,
		corev1.ResourceLimitsEphemeralStorage,
		corev1.ResourcePods,
	}
	podResourcePrefixes = []string{corev1.ResourceHugePagesPrefix, corev1.ResourceRequestsHugePagesPrefix}

	// The resources every container must request once a quota limits them:
	// a rule from before QoS classes existed, kept for compatibility and not
	// extended to newer resources.
	containerRequiredResources = sets.New(
		string(corev1.ResourceCPU),
		string(corev1.ResourceMemory),
		string(corev1.ResourceRequestsCPU),
		string(corev1.ResourceRequestsMemory),
		string(corev1.ResourceLimitsCPU),
		string(corev1.ResourceLimitsMemory),
	)
)

// NewPodEvaluator returns the evaluator for pods. f may be nil when only
// admission uses it (no usage listing).
func NewPodEvaluator(f quota.ListerForResourceFunc, clk clock.Clock) quota.Evaluator {
	return &podEvaluator{list: generic.ListResourceUsingListerFunc(f, podsResource), clock: clk}
}

type podEvaluator struct {
	list  generic.ListFuncByNamespace
	clock clock.Clock
}

var _ quota.Evaluator = &podEvaluator{}

func (p *podEvaluator) Constraints(required []corev1.ResourceName, item runtime.Object) error {
	pod, err := toPod(item)
	if err != nil {
		return err
	}
	// Pod-level resources make container-level ones optional.
	if resourcehelper.IsPodLevelResourcesSet(pod) {
		return nil
	}
	requiredSet := sets.New(quota.ToSet(required).UnsortedList()...).Intersection(containerRequiredResources)
	missing := map[string]sets.Set[string]{}
	for i := range pod.Spec.Containers {
		missingContainerResources(&pod.Spec.Containers[i], requiredSet, missing)
	}
	for i := range pod.Spec.InitContainers {
		missingContainerResources(&pod.Spec.InitContainers[i], requiredSet, missing)
	}
	if len(missing) == 0 {
		return nil
	}
	msgs := make([]string, 0, len(missing))
	for _, res := range sets.List(sets.KeySet(missing)) {
		msgs = append(msgs, fmt.Sprintf("%s for: %s", res, strings.Join(sets.List(missing[res]), ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}

func missingContainerResources(c *corev1.Container, required sets.Set[string], missing map[string]sets.Set[string]) {
	have := sets.New[string]()
	for name := range computeUsage(c.Resources.Requests, c.Resources.Limits) {
		have.Insert(string(name))
	}
	for _, res := range sets.List(required.Difference(have)) {
		if missing[res] == nil {
			missing[res] = sets.New[string]()
		}
		missing[res].Insert(c.Name)
	}
}

func (p *podEvaluator) GroupResource() schema.GroupResource { return podsResource.GroupResource() }

// Handles creates, in-place resizes, and updates that move a pod in or out
// of the Terminating scope (activeDeadlineSeconds set or cleared).
func (p *podEvaluator) Handles(a admission.Attributes) bool {
	op := a.GetOperation()
	switch a.GetSubresource() {
	case "":
		if op == admission.Update {
			pod, err1 := toPod(a.GetObject())
			old, err2 := toPod(a.GetOldObject())
			if err1 != nil || err2 != nil {
				return false
			}
			if IsTerminating(old) != IsTerminating(pod) {
				return true
			}
		}
		return op == admission.Create
	case "resize":
		return op == admission.Update
	}
	return false
}

func (p *podEvaluator) Matches(rq *corev1.ResourceQuota, item runtime.Object) (bool, error) {
	return generic.Matches(rq, item, p.MatchingResources, podMatchesScope)
}

func (p *podEvaluator) MatchingResources(input []corev1.ResourceName) []corev1.ResourceName {
	result := quota.Intersection(input, podResources)
	for _, name := range input {
		if quota.ContainsPrefix(podResourcePrefixes, name) || isExtendedResourceNameForQuota(name) {
			result = append(result, name)
		}
	}
	return result
}

func (p *podEvaluator) MatchingScopes(item runtime.Object, selectors []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	return matchingScopes(item, selectors, podMatchesScope)
}

func (p *podEvaluator) UncoveredQuotaScopes(limited, matched []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	return uncoveredScopes(limited, matched), nil
}

func (p *podEvaluator) Usage(item runtime.Object) (corev1.ResourceList, error) {
	return PodUsage(item, p.clock)
}

func (p *podEvaluator) UsageStats(opts quota.UsageStatsOptions) (quota.UsageStats, error) {
	return generic.CalculateUsageStats(opts, p.list, podMatchesScope, p.Usage)
}

// PodUsage is what a pod consumes. count/pods counts every stored pod; the
// compute resources, "pods" among them, only pods that are still alive.
func PodUsage(item runtime.Object, clk clock.Clock) (corev1.ResourceList, error) {
	pod, err := toPod(item)
	if err != nil {
		return corev1.ResourceList{}, err
	}
	result := corev1.ResourceList{podObjectCountName: *resource.NewQuantity(1, resource.DecimalSI)}
	if !PodCounts(pod, clk) {
		return result, nil
	}
	// InPlacePodVerticalScaling and PodLevelResources are on in 1.37: the
	// larger of spec and actuated resources counts, and pod-level resources
	// replace the containers' sum.
	opts := resourcehelper.PodResourcesOptions{UseStatusResources: true}
	usage := computeUsage(resourcehelper.PodRequests(pod, opts), resourcehelper.PodLimits(pod, opts))
	return quota.Add(result, usage), nil
}

// computeUsage maps requests and limits to the quota resource names they
// consume; "pods" is always 1.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	result := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}
	for _, r := range []struct{ name, requests, limits corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if q, ok := requests[r.name]; ok {
			result[r.name] = q
			result[r.requests] = q
		}
		if q, ok := limits[r.name]; ok {
			result[r.limits] = q
		}
	}
	for name, q := range requests {
		if strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			result[name] = q
			result[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(name))] = q
		}
		// Extended resources can only be quota'd as requests.<name>: they
		// cannot be overcommitted, so limits equal requests.
		if isExtendedResourceName(name) || strings.HasPrefix(string(name), resourcev1.ResourceDeviceClassPrefix) {
			result[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(name))] = q
		}
	}
	return result
}

// PodCounts reports whether a pod still consumes compute quota: not once it
// is terminal, nor once it has outlived its deletion grace period (a lost
// node must not keep its pods charged forever).
func PodCounts(pod *corev1.Pod, clk clock.Clock) bool {
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		grace := time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		if clk.Now().After(pod.DeletionTimestamp.Add(grace)) {
			return false
		}
	}
	return true
}

// IsTerminating reports whether a pod is in the Terminating scope: it has an
// active deadline.
func IsTerminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

func podMatchesScope(selector corev1.ScopedResourceSelectorRequirement, item runtime.Object) (bool, error) {
	p, err := toPod(item)
	if err != nil {
		return false, err
	}
	switch selector.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return IsTerminating(p), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !IsTerminating(p), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return pod.QOSClass(p) == corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return pod.QOSClass(p) != corev1.PodQOSBestEffort, nil
	case corev1.ResourceQuotaScopePriorityClass:
		if selector.Operator == corev1.ScopeSelectorOpExists {
			return p.Spec.PriorityClassName != "", nil
		}
		var set labels.Set
		if p.Spec.PriorityClassName != "" {
			set = labels.Set{string(corev1.ResourceQuotaScopePriorityClass): p.Spec.PriorityClassName}
		}
		return selectorMatches(selector, set)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return usesCrossNamespacePodAffinity(p), nil
	}
	return false, nil
}

func usesCrossNamespacePodAffinity(pod *corev1.Pod) bool {
	if pod.Spec.Affinity == nil {
		return false
	}
	crossNamespace := func(t *corev1.PodAffinityTerm) bool { return len(t.Namespaces) != 0 || t.NamespaceSelector != nil }
	anyTerm := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) bool {
		for i := range required {
			if crossNamespace(&required[i]) {
				return true
			}
		}
		for i := range preferred {
			if crossNamespace(&preferred[i].PodAffinityTerm) {
				return true
			}
		}
		return false
	}
	if a := pod.Spec.Affinity.PodAffinity; a != nil && anyTerm(a.RequiredDuringSchedulingIgnoredDuringExecution, a.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	if a := pod.Spec.Affinity.PodAntiAffinity; a != nil && anyTerm(a.RequiredDuringSchedulingIgnoredDuringExecution, a.PreferredDuringSchedulingIgnoredDuringExecution) {
		return true
	}
	return false
}

// isNativeResource: unprefixed names and names in *kubernetes.io/ are
// Kubernetes' own.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

func isExtendedResourceName(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// isExtendedResourceNameForQuota accepts requests.<extended resource>,
// including a DeviceClass's implicit requests.deviceclass.resource.kubernetes.io/<class>.
func isExtendedResourceNameForQuota(name corev1.ResourceName) bool {
	s := string(name)
	return (!isNativeResource(name) || strings.HasPrefix(s, requestsDeviceClassPrefix)) &&
		strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix)
}

func toPod(obj runtime.Object) (*corev1.Pod, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("expect *api.Pod or *v1.Pod, got %T", obj)
	}
	return p, nil
}
