package quota

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	storagehelpers "k8s.io/component-helpers/storage/volume"
)

// storageClassSuffix joins a storage class and a resource in per-class quota
// names: gold.storageclass.storage.k8s.io/requests.storage.
const storageClassSuffix = ".storageclass.storage.k8s.io/"

var (
	pvcsResource       = corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")
	pvcObjectCountName = generic.ObjectCountQuotaResourceNameFor(pvcsResource.GroupResource())
	pvcResources       = []corev1.ResourceName{corev1.ResourcePersistentVolumeClaims, corev1.ResourceRequestsStorage}
)

// ResourceByStorageClass is the quota resource name of resourceName within
// one storage class.
func ResourceByStorageClass(storageClass string, resourceName corev1.ResourceName) corev1.ResourceName {
	return corev1.ResourceName(storageClass + storageClassSuffix + string(resourceName))
}

// NewPersistentVolumeClaimEvaluator returns the evaluator for PVCs.
// VolumeAttributesClass is GA, so its scope always applies.
func NewPersistentVolumeClaimEvaluator(f quota.ListerForResourceFunc) quota.Evaluator {
	return &pvcEvaluator{list: generic.ListResourceUsingListerFunc(f, pvcsResource)}
}

type pvcEvaluator struct {
	list generic.ListFuncByNamespace
}

var _ quota.Evaluator = &pvcEvaluator{}

func (p *pvcEvaluator) Constraints([]corev1.ResourceName, runtime.Object) error { return nil }

func (p *pvcEvaluator) GroupResource() schema.GroupResource { return pvcsResource.GroupResource() }

// Handles status updates too when they change what the claim is charged:
// allocated storage or the attributes classes it references.
func (p *pvcEvaluator) Handles(a admission.Attributes) bool {
	op := a.GetOperation()
	switch a.GetSubresource() {
	case "":
		return op == admission.Create || op == admission.Update
	case "status":
		pvc, err1 := toPVC(a.GetObject())
		old, err2 := toPVC(a.GetOldObject())
		if err1 != nil || err2 != nil {
			return false
		}
		return RequiresQuotaReplenish(pvc, old)
	}
	return false
}

func (p *pvcEvaluator) Matches(rq *corev1.ResourceQuota, item runtime.Object) (bool, error) {
	return generic.Matches(rq, item, p.MatchingResources, pvcMatchesScope)
}

func (p *pvcEvaluator) MatchingScopes(item runtime.Object, selectors []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	return matchingScopes(item, selectors, pvcMatchesScope)
}

func (p *pvcEvaluator) UncoveredQuotaScopes(limited, matched []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	return uncoveredScopes(limited, matched), nil
}

func (p *pvcEvaluator) MatchingResources(items []corev1.ResourceName) []corev1.ResourceName {
	result := []corev1.ResourceName{}
	for _, item := range items {
		if item == pvcObjectCountName || quota.Contains(pvcResources, item) {
			result = append(result, item)
			continue
		}
		for _, r := range pvcResources {
			if strings.HasSuffix(string(item), storageClassSuffix+string(r)) {
				result = append(result, item)
				break
			}
		}
	}
	return result
}

func (p *pvcEvaluator) Usage(item runtime.Object) (corev1.ResourceList, error) {
	pvc, err := toPVC(item)
	if err != nil {
		return corev1.ResourceList{}, err
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	result := corev1.ResourceList{corev1.ResourcePersistentVolumeClaims: one, pvcObjectCountName: one}
	class := storagehelpers.GetPersistentVolumeClaimClass(pvc)
	if class != "" {
		result[ResourceByStorageClass(class, corev1.ResourcePersistentVolumeClaims)] = one
	}
	if storage := storageUsage(pvc); storage != nil {
		result[corev1.ResourceRequestsStorage] = *storage
		if class != "" {
			result[ResourceByStorageClass(class, corev1.ResourceRequestsStorage)] = *storage
		}
	}
	return result, nil
}

// storageUsage is the requested storage rounded up to whole units, or the
// allocated storage when that is larger (RecoverVolumeExpansionFailure is
// GA: a shrunk request after a failed expansion still holds the capacity).
func storageUsage(pvc *corev1.PersistentVolumeClaim) *resource.Quantity {
	roundUp := func(q resource.Quantity) *resource.Quantity {
		r := q.DeepCopy()
		r.RoundUp(0)
		return &r
	}
	req, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil
	}
	result := roundUp(req)
	if allocated, ok := pvc.Status.AllocatedResources[corev1.ResourceStorage]; ok && allocated.Cmp(*result) > 0 {
		result = roundUp(allocated)
	}
	return result
}

func (p *pvcEvaluator) UsageStats(opts quota.UsageStatsOptions) (quota.UsageStats, error) {
	return generic.CalculateUsageStats(opts, p.list, pvcMatchesScope, p.Usage)
}

// RequiresQuotaReplenish reports whether a status change alters the claim's
// usage: allocated storage or the referenced attributes classes.
func RequiresQuotaReplenish(pvc, old *corev1.PersistentVolumeClaim) bool {
	if old.Status.AllocatedResources.Storage().Cmp(*pvc.Status.AllocatedResources.Storage()) != 0 {
		return true
	}
	return !volumeAttributesClassNames(old).Equal(volumeAttributesClassNames(pvc))
}

func pvcMatchesScope(selector corev1.ScopedResourceSelectorRequirement, item runtime.Object) (bool, error) {
	pvc, err := toPVC(item)
	if err != nil {
		return false, err
	}
	if selector.ScopeName != corev1.ResourceQuotaScopeVolumeAttributesClass {
		return false, nil
	}
	names := volumeAttributesClassNames(pvc)
	if selector.Operator == corev1.ScopeSelectorOpExists {
		return names.Len() != 0, nil
	}
	if names.Len() == 0 {
		return selectorMatches(selector, labels.Set{})
	}
	for name := range names {
		ok, err := selectorMatches(selector, labels.Set{string(corev1.ResourceQuotaScopeVolumeAttributesClass): name})
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// volumeAttributesClassNames are the classes a claim asks for, has, or is
// being modified to: it is charged to each.
func volumeAttributesClassNames(pvc *corev1.PersistentVolumeClaim) sets.Set[string] {
	names := sets.New[string]()
	if n := pvc.Spec.VolumeAttributesClassName; n != nil && *n != "" {
		names.Insert(*n)
	}
	if n := pvc.Status.CurrentVolumeAttributesClassName; n != nil && *n != "" {
		names.Insert(*n)
	}
	if m := pvc.Status.ModifyVolumeStatus; m != nil && m.TargetVolumeAttributesClassName != "" {
		names.Insert(m.TargetVolumeAttributesClassName)
	}
	return names
}

func toPVC(obj runtime.Object) (*corev1.PersistentVolumeClaim, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("expect *api.PersistentVolumeClaim or *v1.PersistentVolumeClaim, got %T", obj)
	}
	return pvc, nil
}
