package admission

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/lru"
)

const (
	// LimitRangerPluginName is the name kube-apiserver registers the
	// LimitRanger admission plugin under.
	LimitRangerPluginName = "LimitRanger"

	limitRangerAnnotation = "kubernetes.io/limit-ranger"

	// featurePodLevelResources is the PodLevelResources gate, beta and on
	// by default in 1.37: pod-level requests and limits count for the Pod
	// limit type.
	featurePodLevelResources = true
)

func registerLimitRanger(plugins *admission.Plugins) {
	plugins.Register(LimitRangerPluginName, func(io.Reader) (admission.Interface, error) {
		return newLimitRanger(), nil
	})
}

// limitRanger applies a namespace's LimitRanges: container defaults are
// filled in on admit, min/max/ratio constraints checked on validate.
type limitRanger struct {
	*admission.Handler
	client kubernetes.Interface
	lister corev1listers.LimitRangeLister

	// A namespace the informer shows no LimitRange for is looked up live,
	// and that answer kept for liveTTL, so a LimitRange created just
	// before a pod is not missed.
	liveLookups *lru.Cache
	group       singleflight.Group
	liveTTL     time.Duration
}

type liveLookupEntry struct {
	expiry time.Time
	items  []*corev1.LimitRange
}

var (
	_ admission.MutationInterface                           = &limitRanger{}
	_ admission.ValidationInterface                         = &limitRanger{}
	_ admission.InitializationValidator                     = &limitRanger{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &limitRanger{}
	_ genericadmissioninit.WantsExternalKubeClientSet       = &limitRanger{}
)

func newLimitRanger() *limitRanger {
	return &limitRanger{
		Handler:     admission.NewHandler(admission.Create, admission.Update),
		liveLookups: lru.New(10000),
		liveTTL:     30 * time.Second,
	}
}

func (l *limitRanger) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	lrs := f.Core().V1().LimitRanges()
	l.SetReadyFunc(lrs.Informer().HasSynced)
	l.lister = lrs.Lister()
}

func (l *limitRanger) SetExternalKubeClientSet(c kubernetes.Interface) { l.client = c }

func (l *limitRanger) ValidateInitialization() error {
	if l.lister == nil {
		return fmt.Errorf("missing limitRange lister")
	}
	if l.client == nil {
		return fmt.Errorf("missing client")
	}
	return nil
}

func (l *limitRanger) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	return l.run(a, mutateLimit)
}

func (l *limitRanger) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	return l.run(a, validateLimit)
}

var (
	podKind = schema.GroupKind{Kind: "Pod"}
	pvcKind = schema.GroupKind{Kind: "PersistentVolumeClaim"}
)

// limitRangerApplies: pod and PVC creation, PVC updates and pod resizes.
// Other pod updates cannot change resources, so they are not checked.
func limitRangerApplies(a admission.Attributes) bool {
	kind := a.GetKind().GroupKind()
	if a.GetSubresource() == "resize" && kind == podKind && a.GetOperation() == admission.Update {
		return true
	}
	if a.GetSubresource() != "" {
		return false
	}
	if kind == podKind && a.GetOperation() == admission.Update {
		return false
	}
	return kind == podKind || kind == pvcKind
}

func (l *limitRanger) run(a admission.Attributes, fn func(*corev1.LimitRange, string, any) error) error {
	if !limitRangerApplies(a) {
		return nil
	}
	// An object on its way out must be able to drop its finalizers even
	// if it no longer fits the namespace's limits.
	if old := a.GetOldObject(); old != nil {
		acc, err := meta.Accessor(old)
		if err != nil {
			return admission.NewForbidden(a, err)
		}
		if acc.GetDeletionTimestamp() != nil {
			return nil
		}
	}
	items, err := l.limitRanges(a)
	if err != nil {
		return err
	}
	for _, lr := range items {
		if err := fn(lr, a.GetResource().Resource, a.GetObject()); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

func (l *limitRanger) limitRanges(a admission.Attributes) ([]*corev1.LimitRange, error) {
	ns := a.GetNamespace()
	items, err := l.lister.LimitRanges(ns).List(labels.Everything())
	if err != nil {
		return nil, admission.NewForbidden(a, fmt.Errorf("unable to %s %v at this time because there was an error enforcing limit ranges", a.GetOperation(), a.GetResource()))
	}
	if len(items) > 0 {
		return items, nil
	}
	cached, ok := l.liveLookups.Get(ns)
	if !ok || cached.(liveLookupEntry).expiry.Before(time.Now()) {
		cached, err, _ = l.group.Do(ns, func() (any, error) {
			list, err := l.client.CoreV1().LimitRanges(ns).List(context.TODO(), metav1.ListOptions{})
			if err != nil {
				return nil, admission.NewForbidden(a, err)
			}
			entry := liveLookupEntry{expiry: time.Now().Add(l.liveTTL)}
			for i := range list.Items {
				entry.items = append(entry.items, &list.Items[i])
			}
			l.liveLookups.Add(ns, entry)
			return entry, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return cached.(liveLookupEntry).items, nil
}

func mutateLimit(lr *corev1.LimitRange, resourceName string, obj any) error {
	if pod, ok := obj.(*corev1.Pod); ok && resourceName == "pods" {
		defaults := defaultContainerResources(lr)
		mergePodResources(pod, &defaults)
	}
	return nil
}

func validateLimit(lr *corev1.LimitRange, resourceName string, obj any) error {
	switch resourceName {
	case "pods":
		if pod, ok := obj.(*corev1.Pod); ok {
			return validatePodLimits(lr, pod)
		}
	case "persistentvolumeclaims":
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
			return validatePVCLimits(lr, pvc)
		}
	}
	return nil
}

func defaultContainerResources(lr *corev1.LimitRange) corev1.ResourceRequirements {
	req := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, limit := range lr.Spec.Limits {
		if limit.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range limit.DefaultRequest {
			req.Requests[k] = v.DeepCopy()
		}
		for k, v := range limit.Default {
			req.Limits[k] = v.DeepCopy()
		}
	}
	return req
}

// mergeContainerResources fills in what the container leaves unset and
// appends a note of what it set for the pod annotation.
func mergeContainerResources(c *corev1.Container, defaults *corev1.ResourceRequirements, kind string, notes []string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	var setRequests, setLimits []string
	for k, v := range defaults.Limits {
		if _, found := c.Resources.Limits[k]; !found {
			c.Resources.Limits[k] = v.DeepCopy()
			setLimits = append(setLimits, string(k))
		}
	}
	for k, v := range defaults.Requests {
		if _, found := c.Resources.Requests[k]; !found {
			c.Resources.Requests[k] = v.DeepCopy()
			setRequests = append(setRequests, string(k))
		}
	}
	if len(setRequests) > 0 {
		sort.Strings(setRequests)
		notes = append(notes, strings.Join(setRequests, ", ")+fmt.Sprintf(" request for %s %s", kind, c.Name))
	}
	if len(setLimits) > 0 {
		sort.Strings(setLimits)
		notes = append(notes, strings.Join(setLimits, ", ")+fmt.Sprintf(" limit for %s %s", kind, c.Name))
	}
	return notes
}

func mergePodResources(pod *corev1.Pod, defaults *corev1.ResourceRequirements) {
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeContainerResources(&pod.Spec.Containers[i], defaults, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeContainerResources(&pod.Spec.InitContainers[i], defaults, "init container", notes)
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

// observedValues compares in milli-units unless a value is too large for
// them, where whole units must do.
func observedValues(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(limitType, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqExists := request[corev1.ResourceName(name)]
	lim, limExists := limit[corev1.ResourceName(name)]
	r, l, e := observedValues(req, lim, enforced)
	if !reqExists {
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, limitType, enforced.String())
	}
	if r < e {
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, limitType, enforced.String(), req.String())
	}
	if limExists && l < e {
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, limitType, enforced.String(), lim.String())
	}
	return nil
}

func maxRequestConstraint(limitType, name string, enforced resource.Quantity, request corev1.ResourceList) error {
	req, reqExists := request[corev1.ResourceName(name)]
	r, _, e := observedValues(req, resource.Quantity{}, enforced)
	if !reqExists {
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, limitType, enforced.String())
	}
	if r > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, limitType, enforced.String(), req.String())
	}
	return nil
}

func maxConstraint(limitType, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqExists := request[corev1.ResourceName(name)]
	lim, limExists := limit[corev1.ResourceName(name)]
	r, l, e := observedValues(req, lim, enforced)
	if !limExists {
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, limitType, enforced.String())
	}
	if l > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, limitType, enforced.String(), lim.String())
	}
	if reqExists && r > e {
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, limitType, enforced.String(), req.String())
	}
	return nil
}

func limitRequestRatioConstraint(limitType, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, reqExists := request[corev1.ResourceName(name)]
	lim, limExists := limit[corev1.ResourceName(name)]
	r, l, _ := observedValues(req, lim, enforced)
	if !reqExists || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, limitType, enforced.String())
	}
	if !limExists || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, limitType, enforced.String())
	}
	ratio := float64(l) / float64(r)
	shown := ratio
	maxRatio := float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		ratio *= 1000
		maxRatio = float64(enforced.MilliValue())
	}
	if ratio > maxRatio {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, limitType, enforced.String(), shown)
	}
	return nil
}

func validatePVCLimits(lr *corev1.LimitRange, pvc *corev1.PersistentVolumeClaim) error {
	var errs []error
	for _, limit := range lr.Spec.Limits {
		if limit.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		t := string(limit.Type)
		for k, v := range limit.Min {
			if err := minConstraint(t, string(k), v, pvc.Spec.Resources.Requests, corev1.ResourceList{}); err != nil {
				errs = append(errs, err)
			}
		}
		for k, v := range limit.Max {
			if err := maxRequestConstraint(t, string(k), v, pvc.Spec.Resources.Requests); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

func checkLimits(limit corev1.LimitRangeItem, requests, limits corev1.ResourceList, errs []error) []error {
	t := string(limit.Type)
	for k, v := range limit.Min {
		if err := minConstraint(t, string(k), v, requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range limit.Max {
		if err := maxConstraint(t, string(k), v, requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	for k, v := range limit.MaxLimitRequestRatio {
		if err := limitRequestRatioConstraint(t, string(k), v, requests, limits); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func validatePodLimits(lr *corev1.LimitRange, pod *corev1.Pod) error {
	var errs []error
	for _, limit := range lr.Spec.Limits {
		switch limit.Type {
		case corev1.LimitTypeContainer:
			for _, c := range pod.Spec.Containers {
				errs = checkLimits(limit, c.Resources.Requests, c.Resources.Limits, errs)
			}
			for _, c := range pod.Spec.InitContainers {
				errs = checkLimits(limit, c.Resources.Requests, c.Resources.Limits, errs)
			}
		case corev1.LimitTypePod:
			errs = checkLimits(limit, podRequests(pod), podLimits(pod), errs)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// podRequests is what the pod as a whole asks for: its containers and
// sidecars side by side, or the largest init step if that is more, or the
// pod-level requests where set.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests })
}

func podLimits(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits })
}

func podTotal(pod *corev1.Pod, pick func(corev1.ResourceRequirements) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		addResourceList(total, pick(c.Resources))
	}
	sidecars := corev1.ResourceList{}
	initMax := corev1.ResourceList{}
	for _, c := range pod.Spec.InitContainers {
		step := pick(c.Resources)
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			// A sidecar keeps running beside everything after it.
			addResourceList(total, step)
			addResourceList(sidecars, step)
			step = sidecars
		} else {
			tmp := corev1.ResourceList{}
			addResourceList(tmp, step)
			addResourceList(tmp, sidecars)
			step = tmp
		}
		maxResourceList(initMax, step)
	}
	maxResourceList(total, initMax)
	if featurePodLevelResources && pod.Spec.Resources != nil {
		for name, q := range pick(*pod.Spec.Resources) {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				total[name] = q
			}
		}
	}
	return total
}

func addResourceList(list, add corev1.ResourceList) {
	for name, q := range add {
		if v, ok := list[name]; ok {
			v.Add(q)
			list[name] = v
		} else {
			list[name] = q.DeepCopy()
		}
	}
}

func maxResourceList(list, other corev1.ResourceList) {
	for name, q := range other {
		if v, ok := list[name]; !ok || q.Cmp(v) > 0 {
			list[name] = q.DeepCopy()
		}
	}
}
