package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/klog/v2"
)

// finalizerWaitSeconds is how long objects held by finalizers are assumed
// to need before their controllers let them go.
const finalizerWaitSeconds = int64(15)

var podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// ResourcesRemainingError says the namespace is not empty yet but its
// content is on its way out; retry in about Estimate seconds.
type ResourcesRemainingError struct {
	Estimate int64
}

func (e *ResourcesRemainingError) Error() string {
	return fmt.Sprintf("some content remains in the namespace, estimate %d seconds before it is removed", e.Estimate)
}

// deleter removes everything in a namespace and then its finalizer.
type deleter struct {
	namespaces corev1client.NamespaceInterface
	pods       corev1client.PodsGetter
	metadata   metadata.Interface
	discover   func() ([]*metav1.APIResourceList, error)
}

// delete advances the termination of namespace name one step: it makes sure
// the phase says Terminating, deletes the content and, once nothing is left,
// removes the "kubernetes" finalizer. It returns a ResourcesRemainingError
// while content is still going away.
func (d *deleter) delete(ctx context.Context, name string) error {
	// The cache may be behind other writers of the namespace; act on the
	// stored state.
	ns, err := d.namespaces.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	klog.FromContext(ctx).V(5).Info("Namespace controller - syncNamespace", "namespace", ns.Name, "finalizerToken", corev1.FinalizerKubernetes)

	ns, err = d.retryOnConflict(ctx, ns, d.ensureTerminating)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp.IsZero() || len(ns.Spec.Finalizers) == 0 {
		return nil
	}

	estimate, err := d.deleteAllContent(ctx, ns)
	if err != nil {
		return err
	}
	if estimate > 0 {
		return &ResourcesRemainingError{Estimate: estimate}
	}

	_, err = d.retryOnConflict(ctx, ns, d.finalize)
	if apierrors.IsNotFound(err) {
		// Another controller sharing the finalizer finished first.
		return nil
	}
	return err
}

// retryOnConflict applies fn to ns, rereading it after each conflict, and
// gives up if the namespace was replaced by another of the same name.
func (d *deleter) retryOnConflict(ctx context.Context, ns *corev1.Namespace, fn func(context.Context, *corev1.Namespace) (*corev1.Namespace, error)) (*corev1.Namespace, error) {
	latest := ns
	for {
		out, err := fn(ctx, latest)
		if err == nil {
			return out, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, err
		}
		prev := latest
		latest, err = d.namespaces.Get(ctx, latest.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if prev.UID != latest.UID {
			return nil, fmt.Errorf("namespace uid has changed across retries")
		}
	}
}

func (d *deleter) ensureTerminating(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	if ns.DeletionTimestamp.IsZero() || ns.Status.Phase == corev1.NamespaceTerminating {
		return ns, nil
	}
	ns = ns.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	return d.namespaces.UpdateStatus(ctx, ns, metav1.UpdateOptions{})
}

// finalize drops the "kubernetes" finalizer through the finalize
// subresource; the API server deletes the namespace when none remain.
func (d *deleter) finalize(ctx context.Context, ns *corev1.Namespace) (*corev1.Namespace, error) {
	out := corev1.Namespace{ObjectMeta: ns.ObjectMeta, Spec: ns.Spec}
	var finalizers []corev1.FinalizerName
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes && !slices.Contains(finalizers, f) {
			finalizers = append(finalizers, f)
		}
	}
	slices.Sort(finalizers)
	out.Spec.Finalizers = make([]corev1.FinalizerName, 0, len(finalizers))
	out.Spec.Finalizers = append(out.Spec.Finalizers, finalizers...)
	result, err := d.namespaces.Finalize(ctx, &out, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return result, nil
	}
	return result, err
}

// resourceVerbs says which verbs each deletable namespaced resource supports.
type resourceVerbs map[schema.GroupVersionResource][]string

func (v resourceVerbs) supports(gvr schema.GroupVersionResource, verb string) bool {
	return slices.Contains(v[gvr], verb)
}

// remaining counts what is left in a namespace after a deletion pass.
type remaining struct {
	byResource  map[schema.GroupVersionResource]int
	byFinalizer map[string]int
}

func (r *remaining) add(gvr schema.GroupVersionResource, left gvrRemaining) {
	if left.count == 0 {
		return
	}
	r.byResource[gvr] = left.count
	for f, n := range left.byFinalizer {
		if n > 0 {
			r.byFinalizer[f] += n
		}
	}
}

// deleteAllContent deletes every deletable namespaced resource in ns, pods
// first, and records the outcome in ns's conditions. It returns how many
// seconds to wait before content still present should be gone.
func (d *deleter) deleteAllContent(ctx context.Context, ns *corev1.Namespace) (int64, error) {
	logger := klog.FromContext(ctx)
	logger.V(4).Info("namespace controller - deleteAllContent", "namespace", ns.Name)
	var errs []error
	conditions := conditionUpdater{}

	// Discovery errors are not fatal: what could be discovered is still
	// worth deleting.
	resources, err := d.discover()
	if err != nil {
		errs = append(errs, err)
		conditions.discoveryFailed(err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete"}}, resources)
	gvrs, err := discovery.GroupVersionResources(deletable)
	if err != nil {
		errs = append(errs, err)
		conditions.groupVersionFailed(err)
	}
	verbs := resourceVerbs{}
	for _, rl := range deletable {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range rl.APIResources {
			verbs[gv.WithResource(r.Name)] = r.Verbs
		}
	}

	left := remaining{byResource: map[schema.GroupVersionResource]int{}, byFinalizer: map[string]int{}}
	estimate := int64(0)
	deletedAt := *ns.DeletionTimestamp

	// Pods go first and alone: their containers may still use the other
	// objects (secrets, configmaps, service accounts) while they stop.
	if _, ok := gvrs[podsGVR]; ok {
		podsLeft, err := d.deleteResource(ctx, verbs, podsGVR, ns.Name, deletedAt)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to delete pods for namespace: %s, err: %w", ns.Name, err))
			conditions.deleteFailed(err)
		}
		estimate = max(estimate, podsLeft.estimate)
		left.add(podsGVR, podsLeft)
		if left.byResource[podsGVR] > 0 {
			logger.V(5).Info("Namespace controller - pods still remain, delaying deletion of other resources", "namespace", ns.Name)
			d.updateConditions(ctx, ns, &conditions)
			return estimate, utilerrors.NewAggregate(errs)
		}
	}

	for gvr := range gvrs {
		if gvr == podsGVR {
			continue
		}
		gvrLeft, err := d.deleteResource(ctx, verbs, gvr, ns.Name, deletedAt)
		if err != nil {
			// Keep going: other resources may still be deletable.
			errs = append(errs, err)
			conditions.deleteFailed(err)
		}
		estimate = max(estimate, gvrLeft.estimate)
		left.add(gvr, gvrLeft)
	}
	conditions.contentRemaining(left)

	// Conditions are written even on success, so a failure reported earlier
	// is replaced by its all-clear.
	d.updateConditions(ctx, ns, &conditions)
	err = utilerrors.NewAggregate(errs)
	logger.V(4).Info("namespace controller - deleteAllContent", "namespace", ns.Name, "estimate", estimate, "err", err)
	return estimate, err
}

func (d *deleter) updateConditions(ctx context.Context, ns *corev1.Namespace, conditions *conditionUpdater) {
	if !conditions.apply(&ns.Status) {
		return
	}
	if _, err := d.namespaces.UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Couldn't update status condition for namespace", "namespace", ns.Name)
	}
}

// gvrRemaining is what is left of one resource after a deletion pass.
type gvrRemaining struct {
	// estimate is the seconds still to wait; 0 is no estimate, not "empty".
	estimate    int64
	count       int
	byFinalizer map[string]int
}

// deleteResource deletes all objects of gvr in namespace and reports what
// is left of them.
func (d *deleter) deleteResource(ctx context.Context, verbs resourceVerbs, gvr schema.GroupVersionResource, namespace string, deletedAt metav1.Time) (gvrRemaining, error) {
	logger := klog.FromContext(ctx)
	estimate, err := d.estimateGracefulTermination(ctx, gvr, namespace, deletedAt)
	if err != nil {
		return gvrRemaining{}, err
	}

	deleted, err := d.deleteCollection(ctx, verbs, gvr, namespace)
	if err != nil {
		return gvrRemaining{estimate: estimate}, err
	}
	if !deleted {
		if err := d.deleteEachItem(ctx, verbs, gvr, namespace); err != nil {
			return gvrRemaining{estimate: estimate}, err
		}
	}

	list, listed, err := d.list(ctx, verbs, gvr, namespace)
	if err != nil {
		return gvrRemaining{estimate: estimate}, err
	}
	if !listed {
		return gvrRemaining{estimate: estimate}, nil
	}
	if len(list.Items) == 0 {
		return gvrRemaining{}, nil
	}
	logger.V(5).Info("Namespace controller - items remaining", "namespace", namespace, "resource", gvr, "items", len(list.Items))

	byFinalizer := map[string]int{}
	for _, item := range list.Items {
		for _, f := range item.GetFinalizers() {
			byFinalizer[f]++
		}
	}
	left := gvrRemaining{estimate: estimate, count: len(list.Items), byFinalizer: byFinalizer}
	switch {
	case estimate != 0:
		return left, nil
	case len(byFinalizer) > 0:
		// Finalizers are normal; give their controllers time to finish.
		left.estimate = finalizerWaitSeconds
		return left, nil
	}
	// Nothing holds these objects, yet they survived deletion.
	return gvrRemaining{estimate: estimate, count: len(list.Items)},
		fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", namespace, gvr)
}

// backgroundDelete keeps the garbage collector from adding the orphan
// finalizer to what the namespace controller deletes: the namespace is only
// released once all of it is gone anyway.
func backgroundDelete() metav1.DeleteOptions {
	background := metav1.DeletePropagationBackground
	return metav1.DeleteOptions{PropagationPolicy: &background}
}

// deleteCollection deletes all of gvr in namespace in one call. It returns
// false when the server does not offer that, and the caller deletes one by one.
func (d *deleter) deleteCollection(ctx context.Context, verbs resourceVerbs, gvr schema.GroupVersionResource, namespace string) (bool, error) {
	if !verbs.supports(gvr, "deletecollection") {
		return false, nil
	}
	err := d.metadata.Resource(gvr).Namespace(namespace).DeleteCollection(ctx, backgroundDelete(), metav1.ListOptions{})
	if err == nil {
		return true, nil
	}
	// Some resources are listed in discovery without serving these verbs
	// and answer NotFound rather than MethodNotSupported.
	if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
		return false, nil
	}
	return true, err
}

// list lists the metadata of gvr in namespace; false means it cannot be listed.
func (d *deleter) list(ctx context.Context, verbs resourceVerbs, gvr schema.GroupVersionResource, namespace string) (*metav1.PartialObjectMetadataList, bool, error) {
	if !verbs.supports(gvr, "list") {
		return nil, false, nil
	}
	list, err := d.metadata.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		return list, true, nil
	}
	if apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	return nil, true, err
}

func (d *deleter) deleteEachItem(ctx context.Context, verbs resourceVerbs, gvr schema.GroupVersionResource, namespace string) error {
	list, listed, err := d.list(ctx, verbs, gvr, namespace)
	if err != nil || !listed {
		return err
	}
	for _, item := range list.Items {
		err := d.metadata.Resource(gvr).Namespace(namespace).Delete(ctx, item.GetName(), backgroundDelete())
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
			return err
		}
	}
	return nil
}

// estimateGracefulTermination returns how many seconds objects of gvr may
// still take to go, counted from when the namespace was deleted. Only pods
// terminate gracefully.
func (d *deleter) estimateGracefulTermination(ctx context.Context, gvr schema.GroupVersionResource, namespace string, deletedAt metav1.Time) (int64, error) {
	if gvr.GroupResource() != podsGVR.GroupResource() {
		return 0, nil
	}
	if d.pods == nil {
		return 0, errors.New("unexpected: podsGetter is nil. Cannot estimate grace period seconds for pods")
	}
	pods, err := d.pods.Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	estimate := int64(0)
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if g := pod.Spec.TerminationGracePeriodSeconds; g != nil && *g > estimate {
			estimate = *g
		}
	}
	if time.Since(deletedAt.Time) >= time.Duration(estimate)*time.Second {
		return 0, nil
	}
	return estimate, nil
}
