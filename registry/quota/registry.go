// Package quota holds the ResourceQuota evaluators of the core resources, as
// kube-apiserver and kube-controller-manager configure them: pods, services
// and persistentvolumeclaims with their own usage rules, configmaps, secrets,
// replicationcontrollers and resourcequotas as object counts with their
// legacy names. Any other resource is counted as count/<resource>.<group> by
// generic evaluators the admission plugin and the controller add on demand.
// Both the ResourceQuota admission plugin and the resourcequota controller
// build their configuration here.
package quota

import (
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
	"k8s.io/utils/clock"
)

// legacyObjectCountAliases are the object counts that have a short name
// besides count/<resource>.
var legacyObjectCountAliases = map[schema.GroupVersionResource]corev1.ResourceName{
	corev1.SchemeGroupVersion.WithResource("configmaps"):             corev1.ResourceConfigMaps,
	corev1.SchemeGroupVersion.WithResource("resourcequotas"):         corev1.ResourceQuotas,
	corev1.SchemeGroupVersion.WithResource("replicationcontrollers"): corev1.ResourceReplicationControllers,
	corev1.SchemeGroupVersion.WithResource("secrets"):                corev1.ResourceSecrets,
}

// NewEvaluators returns the evaluators of the core resources. f lists a
// resource's objects for usage calculation; admission passes nil, as it only
// evaluates the object at hand.
func NewEvaluators(f quota.ListerForResourceFunc) []quota.Evaluator {
	result := []quota.Evaluator{
		NewPodEvaluator(f, clock.RealClock{}),
		NewServiceEvaluator(f),
		NewPersistentVolumeClaimEvaluator(f),
	}
	for gvr, alias := range legacyObjectCountAliases {
		result = append(result, generic.NewObjectCountEvaluator(gvr.GroupResource(), generic.ListResourceUsingListerFunc(f, gvr), alias))
	}
	return result
}

// NewConfiguration returns the evaluators and the resources quota ignores.
func NewConfiguration(f quota.ListerForResourceFunc) quota.Configuration {
	return generic.NewConfiguration(NewEvaluators(f), IgnoredResources())
}

// IgnoredResources are never quota'd: virtual resources that are not stored,
// and events, which never were.
func IgnoredResources() map[schema.GroupResource]struct{} {
	return map[schema.GroupResource]struct{}{
		{Group: "", Resource: "bindings"}:                                      {},
		{Group: "", Resource: "componentstatuses"}:                             {},
		{Group: "authentication.k8s.io", Resource: "tokenreviews"}:             {},
		{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}:       {},
		{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}:      {},
		{Group: "authorization.k8s.io", Resource: "selfsubjectaccessreviews"}:  {},
		{Group: "authorization.k8s.io", Resource: "localsubjectaccessreviews"}: {},
		{Group: "authorization.k8s.io", Resource: "selfsubjectrulesreviews"}:   {},
		{Group: "", Resource: "events"}:                                        {},
		{Group: "events.k8s.io", Resource: "events"}:                           {},
	}
}

// UpdateFilter reports whether an update of a resource's object changes
// quota usage, so the quotas of its namespace need recalculating. Only
// deletions otherwise release quota.
func UpdateFilter(resource schema.GroupVersionResource, oldObj, newObj any) bool {
	switch resource.GroupResource() {
	case podsResource.GroupResource():
		oldPod, ok1 := oldObj.(*corev1.Pod)
		newPod, ok2 := newObj.(*corev1.Pod)
		if !ok1 || !ok2 {
			return false
		}
		if podResourcesChanged(oldPod, newPod) || IsTerminating(oldPod) != IsTerminating(newPod) {
			return true
		}
		return PodCounts(oldPod, clock.RealClock{}) && !PodCounts(newPod, clock.RealClock{})
	case servicesResource.GroupResource():
		oldSvc, ok1 := oldObj.(*corev1.Service)
		newSvc, ok2 := newObj.(*corev1.Service)
		return ok1 && ok2 && quotaServiceType(oldSvc) != quotaServiceType(newSvc)
	case pvcsResource.GroupResource():
		oldPVC, ok1 := oldObj.(*corev1.PersistentVolumeClaim)
		newPVC, ok2 := newObj.(*corev1.PersistentVolumeClaim)
		return ok1 && ok2 && RequiresQuotaReplenish(newPVC, oldPVC)
	}
	return false
}

// podResourcesChanged reports an in-place resize the kubelet actuated: the
// resources in a container's status changed.
func podResourcesChanged(oldPod, newPod *corev1.Pod) bool {
	changed := func(olds, news []corev1.ContainerStatus) bool {
		for _, o := range olds {
			for _, n := range news {
				if n.Name == o.Name && !equalResources(o.Resources, n.Resources) {
					return true
				}
			}
		}
		return false
	}
	return changed(oldPod.Status.ContainerStatuses, newPod.Status.ContainerStatuses) ||
		changed(oldPod.Status.InitContainerStatuses, newPod.Status.InitContainerStatuses)
}

func equalResources(a, b *corev1.ResourceRequirements) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
