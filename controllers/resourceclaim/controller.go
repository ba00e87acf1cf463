// Package resourceclaim is kube-controller-manager's resource-claim
// controller for dynamic resource allocation: it creates the
// ResourceClaims of pods from their ResourceClaimTemplates, records them in
// pod.status.resourceClaimStatuses, reserves allocated claims for scheduled
// pods, drops reservations of pods that are gone or done, and deletes
// generated claims nobody needs any more.
package resourceclaim

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	resourceinformers "k8s.io/client-go/informers/resource/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	resourcelisters "k8s.io/client-go/listers/resource/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name and service account.
	Name = "resource-claim-controller"
	// DefaultWorkers is ResourceClaimController.ConcurrentSyncs' default.
	DefaultWorkers = 50

	// fieldManager applies pod.status.resourceClaimStatuses, upstream's.
	fieldManager = "ResourceClaimController"
	// eventComponent is the source upstream's events carry.
	eventComponent = "resource_claim"
	// maxDeletedPods bounds the memory of pods seen deleted.
	maxDeletedPods = 500

	claimKeyPrefix = "claim:"
	podKeyPrefix   = "pod:"
)

// Controller manages the ResourceClaims of pods.
type Controller struct {
	client    kubernetes.Interface
	pods      corelisters.PodLister
	podIndex  cache.Indexer
	claims    resourcelisters.ResourceClaimLister
	templates resourcelisters.ResourceClaimTemplateLister
	// claimCache shows the claims the controller created before the
	// informer does, so that a pod synced twice gets one claim.
	claimCache cache.MutationCache
	// deletedPods remembers the UIDs of deleted pods, so that their
	// reservations go without asking the server whether they exist.
	deletedPods *lru.Cache
	recorder    record.EventRecorder
	broadcast   record.EventBroadcaster
	queue       workqueue.TypedRateLimitingInterface[string]
	synced      []cache.InformerSynced
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, pods coreinformers.PodInformer, claims resourceinformers.ResourceClaimInformer,
	templates resourceinformers.ResourceClaimTemplateInformer) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("resource claim controller client: %w", err)
	}
	return New(client, pods, claims, templates)
}

// New returns a controller writing through client.
func New(client kubernetes.Interface, pods coreinformers.PodInformer, claims resourceinformers.ResourceClaimInformer,
	templates resourceinformers.ResourceClaimTemplateInformer) (*Controller, error) {
	broadcast := record.NewBroadcaster()
	broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	c := &Controller{
		client:      client,
		pods:        pods.Lister(),
		podIndex:    pods.Informer().GetIndexer(),
		claims:      claims.Lister(),
		templates:   templates.Lister(),
		deletedPods: lru.New(maxDeletedPods),
		recorder:    broadcast.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent}),
		broadcast:   broadcast,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "resource_claim"}),
	}
	if err := pods.Informer().AddIndexers(cache.Indexers{podClaimIndex: podClaimKeys, podTemplateIndex: podTemplateKeys}); err != nil {
		return nil, fmt.Errorf("indexing pods by resource claim: %w", err)
	}
	claimIndexer := claims.Informer().GetIndexer()
	if err := claimIndexer.AddIndexers(cache.Indexers{claimOwnerIndex: claimOwnerKeys}); err != nil {
		return nil, fmt.Errorf("indexing resource claims by pod: %w", err)
	}
	c.claimCache = cache.NewIntegerResourceVersionMutationCacheWithOptions(klog.Background(), claimIndexer, cache.MutationCacheOptions{
		Indexer:      claimIndexer,
		TTL:          time.Hour,
		IncludeAdds:  true,
		MaxCacheSize: 1000,
	})
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{pods.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.podChanged(obj, false) },
			UpdateFunc: func(_, obj any) { c.podChanged(obj, false) },
			DeleteFunc: func(obj any) { c.podChanged(obj, true) },
		}},
		{claims.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.claimChanged(nil, obj) },
			UpdateFunc: c.claimChanged,
			DeleteFunc: func(obj any) { c.claimChanged(obj, nil) },
		}},
		{templates.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.templateChanged,
			UpdateFunc: func(_, obj any) { c.templateChanged(obj) },
		}},
	}
	for _, h := range handlers {
		reg, err := h.inf.AddEventHandler(h.h)
		if err != nil {
			return nil, fmt.Errorf("watching for the resource claim controller: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

// Run reconciles with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.broadcast.Shutdown()
	loop := &worker.Loop{Name: Name, Queue: c.queue, Sync: c.Sync, Synced: c.synced}
	loop.Run(ctx, workers)
}

func (c *Controller) templateChanged(obj any) {
	t, ok := obj.(*resourcev1.ResourceClaimTemplate)
	if !ok {
		return
	}
	pods, err := c.podIndex.ByIndex(podTemplateIndex, t.Namespace+"/"+t.Name)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing pods of ResourceClaimTemplate %s/%s: %w", t.Namespace, t.Name, err))
		return
	}
	for _, pod := range pods {
		c.podChanged(pod, false)
	}
}

func (c *Controller) podChanged(obj any, deleted bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	extended := pod.Status.ExtendedResourceClaimStatus
	if len(pod.Spec.ResourceClaims) == 0 && extended == nil {
		return
	}
	if deleted {
		c.deletedPods.Add(pod.UID, nil)
	}
	// A pod that will not run any more frees its claims: look at them.
	if !podMayRun(pod, deleted) {
		for i := range pod.Spec.ResourceClaims {
			if name, _, err := claimName(pod, &pod.Spec.ResourceClaims[i]); err == nil && name != nil {
				c.queue.Add(claimKeyPrefix + pod.Namespace + "/" + *name)
			}
		}
		if extended != nil {
			c.queue.Add(claimKeyPrefix + pod.Namespace + "/" + extended.ResourceClaimName)
		}
	}
	if c.podNeedsWork(pod) {
		c.queue.Add(podKeyPrefix + pod.Namespace + "/" + pod.Name)
	}
}

func podMayRun(pod *corev1.Pod, deleted bool) bool {
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	return !deleted && !terminal && (pod.DeletionTimestamp == nil || pod.Spec.NodeName != "")
}

// podNeedsWork reports whether a claim of the pod is to be created or
// reserved for it.
func (c *Controller) podNeedsWork(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for i := range pod.Spec.ResourceClaims {
		podClaim := &pod.Spec.ResourceClaims[i]
		name, checkOwner, err := claimName(pod, podClaim)
		if err != nil {
			return true
		}
		if name == nil {
			continue
		}
		claim, err := c.claims.ResourceClaims(pod.Namespace).Get(*name)
		if apierrors.IsNotFound(err) {
			if podClaim.ResourceClaimTemplateName != nil {
				return true
			}
			// A claim by name is the user's to create.
			continue
		}
		if err != nil {
			return true
		}
		if checkOwner && isForPod(pod, claim) != nil {
			continue
		}
		if pod.Spec.NodeName != "" && claim.Status.Allocation != nil && !isReservedForPod(pod, claim) {
			return true
		}
	}
	return false
}

func (c *Controller) claimChanged(oldObj, obj any) {
	if tombstone, ok := oldObj.(cache.DeletedFinalStateUnknown); ok {
		oldObj = tombstone.Obj
	}
	claim, _ := obj.(*resourcev1.ResourceClaim)
	if claim != nil {
		c.queue.Add(claimKeyPrefix + claim.Namespace + "/" + claim.Name)
	} else if claim, _ = oldObj.(*resourcev1.ResourceClaim); claim == nil {
		return
	}
	pods, err := c.podIndex.ByIndex(podClaimIndex, claim.Namespace+"/"+claim.Name)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("listing pods of ResourceClaim %s/%s: %w", claim.Namespace, claim.Name, err))
		return
	}
	for _, pod := range pods {
		c.podChanged(pod, false)
	}
}

// Sync handles one key: "pod:namespace/name" or "claim:namespace/name".
func (c *Controller) Sync(ctx context.Context, key string) error {
	prefix, object, ok := strings.Cut(key, ":")
	if !ok {
		return fmt.Errorf("unexpected key: %s", key)
	}
	ns, name, err := cache.SplitMetaNamespaceKey(object)
	if err != nil {
		return err
	}
	switch prefix + ":" {
	case podKeyPrefix:
		return c.syncPod(ctx, ns, name)
	case claimKeyPrefix:
		return c.syncClaim(ctx, ns, name)
	default:
		return fmt.Errorf("unexpected key prefix: %s", prefix)
	}
}

func (c *Controller) syncPod(ctx context.Context, ns, name string) error {
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp != nil {
		return nil
	}
	var created map[string]string
	for _, podClaim := range pod.Spec.ResourceClaims {
		if err := c.ensureClaim(ctx, pod, podClaim, &created); err != nil {
			c.recorder.Event(pod, corev1.EventTypeWarning, "FailedResourceClaimCreation", fmt.Sprintf("PodResourceClaim %s: %v", podClaim.Name, err))
			return fmt.Errorf("pod %s/%s, PodResourceClaim %s: %w", ns, name, podClaim.Name, err)
		}
	}
	if created != nil {
		if err := c.recordClaims(ctx, pod, created); err != nil {
			return err
		}
	}
	// The scheduler reserves claims itself; the controller only catches
	// up for pods bound some other way.
	if pod.Spec.NodeName == "" {
		return nil
	}
	for i := range pod.Spec.ResourceClaims {
		name, checkOwner, err := claimName(pod, &pod.Spec.ResourceClaims[i])
		if err != nil {
			return err
		}
		if name == nil {
			continue
		}
		claim, err := c.claims.ResourceClaims(ns).Get(*name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("retrieve claim: %w", err)
		}
		if checkOwner {
			if err := isForPod(pod, claim); err != nil {
				return err
			}
		}
		if claim.Status.Allocation != nil && !isReservedForPod(pod, claim) {
			claim = claim.DeepCopy()
			claim.Status.ReservedFor = append(claim.Status.ReservedFor, podConsumer(pod))
			if _, err := c.client.ResourceV1().ResourceClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("reserve claim %s: %w", klog.KObj(claim), err)
			}
		}
	}
	return nil
}

// ensureClaim creates the claim of podClaim from its template unless it
// exists, and notes in created the claims to record in the pod's status.
func (c *Controller) ensureClaim(ctx context.Context, pod *corev1.Pod, podClaim corev1.PodResourceClaim, created *map[string]string) error {
	name, mustCheckOwner, err := claimName(pod, &podClaim)
	switch {
	case errors.Is(err, errClaimNotFound):
		// Not created yet, as far as the pod's status tells.
	case err != nil:
		return fmt.Errorf("checking for claim before creating it: %w", err)
	case name == nil:
		// The status says no claim is needed.
		return nil
	case *name != "":
		exists, err := c.claimExists(ctx, pod, *name, mustCheckOwner)
		if err != nil {
			return fmt.Errorf("checking claim existence: %w", err)
		}
		if exists {
			return nil
		}
	}
	if podClaim.ResourceClaimTemplateName == nil {
		return nil
	}
	claim, err := c.generatedClaim(pod, podClaim.Name)
	if err != nil {
		return fmt.Errorf("finding ResourceClaim for claim %s in pod %s/%s failed: %w", podClaim.Name, pod.Namespace, pod.Name, err)
	}
	if claim == nil {
		template, err := c.templates.ResourceClaimTemplates(pod.Namespace).Get(*podClaim.ResourceClaimTemplateName)
		if err != nil {
			return fmt.Errorf("resource claim template %q: %w", *podClaim.ResourceClaimTemplateName, err)
		}
		want := newClaim(pod, podClaim.Name, template)
		claim, err = c.client.ResourceV1().ResourceClaims(pod.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create ResourceClaim %s: %w", want.Name, err)
		}
		klog.FromContext(ctx).V(4).Info("Created ResourceClaim", "claim", klog.KObj(claim), "pod", klog.KObj(pod))
		c.claimCache.Mutation(claim)
	}
	if *created == nil {
		*created = map[string]string{}
	}
	(*created)[podClaim.Name] = claim.Name
	return nil
}

// newClaim is the claim podClaim of pod gets from template.
func newClaim(pod *corev1.Pod, podClaim string, template *resourcev1.ResourceClaimTemplate) *resourcev1.ResourceClaim {
	annotations := maps.Clone(template.Spec.ObjectMeta.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[resourcev1.PodResourceClaimAnnotation] = podClaim
	generateName := pod.Name + "-" + podClaim + "-"
	// Leave room for the five random characters of a 63-character name.
	const maxBaseLen = 57
	if len(generateName) > maxBaseLen {
		generateName = pod.Name[0:len(pod.Name)*maxBaseLen/len(generateName)] + "-" + podClaim[0:len(podClaim)*maxBaseLen/len(generateName)]
	}
	return &resourcev1.ResourceClaim{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1",
				Kind:       "Pod",
				Name:       pod.Name,
				UID:        pod.UID,
				Controller: ptr.To(true),
			}},
			Annotations: annotations,
			Labels:      template.Spec.ObjectMeta.Labels,
		},
		Spec: template.Spec.Spec,
	}
}

// claimExists reports whether the claim of that name exists (and, if
// mustCheckOwner, belongs to pod), asking the server when the cache does
// not have it.
func (c *Controller) claimExists(ctx context.Context, pod *corev1.Pod, name string, mustCheckOwner bool) (bool, error) {
	obj, exists, err := c.claimCache.GetByKey(pod.Namespace + "/" + name)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, err
	}
	if !exists {
		claim, err := c.client.ResourceV1().ResourceClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		obj = claim
	}
	claim, ok := obj.(*resourcev1.ResourceClaim)
	if !ok {
		return false, fmt.Errorf("unexpected object of type %T in the claim cache", obj)
	}
	if mustCheckOwner {
		if err := isForPod(pod, claim); err != nil {
			klog.FromContext(ctx).Error(err, "Claim that was created for the pod is no longer owned by the pod, creating a new one", "resourceClaim", name)
			return false, nil
		}
	}
	return true, nil
}

// generatedClaim finds a claim made for podClaim of pod whose name did not
// reach the pod's status yet.
func (c *Controller) generatedClaim(pod *corev1.Pod, podClaim string) (*resourcev1.ResourceClaim, error) {
	objs, err := c.claimCache.ByIndex(claimOwnerIndex, pod.Namespace+"/"+string(pod.UID))
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		claim, ok := obj.(*resourcev1.ResourceClaim)
		if !ok {
			return nil, fmt.Errorf("unexpected object of type %T returned by claim cache", obj)
		}
		if name, ok := claim.Annotations[resourcev1.PodResourceClaimAnnotation]; ok && name == podClaim {
			return claim, nil
		}
	}
	return nil, nil
}

// recordClaims applies the names of the pod's claims to
// status.resourceClaimStatuses, merged with those recorded before.
func (c *Controller) recordClaims(ctx context.Context, pod *corev1.Pod, created map[string]string) error {
	merged := map[string]string{}
	for _, s := range pod.Status.ResourceClaimStatuses {
		if s.ResourceClaimName != nil {
			merged[s.Name] = *s.ResourceClaimName
		}
	}
	maps.Copy(merged, created)
	var statuses []*corev1apply.PodResourceClaimStatusApplyConfiguration
	for _, n := range slices.Sorted(maps.Keys(merged)) {
		statuses = append(statuses, corev1apply.PodResourceClaimStatus().WithName(n).WithResourceClaimName(merged[n]))
	}
	apply := corev1apply.Pod(pod.Name, pod.Namespace).WithStatus(corev1apply.PodStatus().WithResourceClaimStatuses(statuses...))
	if _, err := c.client.CoreV1().Pods(pod.Namespace).ApplyStatus(ctx, apply, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("update pod %s/%s ResourceClaimStatuses: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// syncClaim drops the reservations of pods that are gone or done, frees a
// claim no one uses any more, and deletes a generated claim whose pod is
// done.
func (c *Controller) syncClaim(ctx context.Context, ns, name string) error {
	claim, err := c.claims.ResourceClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	remaining := make([]resourcev1.ResourceClaimConsumerReference, 0, len(claim.Status.ReservedFor))
	for _, r := range claim.Status.ReservedFor {
		if r.APIGroup == "" && r.Resource == "pods" {
			keep, err := c.podStillUses(ctx, ns, r.Name, r.UID)
			if err != nil {
				return err
			}
			if !keep {
				continue
			}
		}
		remaining = append(remaining, r)
	}

	finalizer := slices.Index(claim.Finalizers, resourcev1.Finalizer)
	switch {
	case len(remaining) < len(claim.Status.ReservedFor):
		claim := claim.DeepCopy()
		claim.Status.ReservedFor = remaining
		// Without consumers, an allocation made by the scheduler (marked
		// by its finalizer) is given back.
		if len(remaining) == 0 && finalizer >= 0 {
			claim.Status.Allocation = nil
		}
		updated, err := c.client.ResourceV1().ResourceClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		if i := slices.Index(updated.Finalizers, resourcev1.Finalizer); i >= 0 && updated.Status.Allocation == nil {
			updated.Finalizers = slices.Delete(updated.Finalizers, i, i+1)
			if _, err := c.client.ResourceV1().ResourceClaims(ns).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
	case finalizer >= 0 && claim.DeletionTimestamp != nil && len(remaining) == 0:
		claim := claim.DeepCopy()
		if claim.Status.Allocation != nil {
			claim.Status.Allocation = nil
			claim, err = c.client.ResourceV1().ResourceClaims(ns).UpdateStatus(ctx, claim, metav1.UpdateOptions{})
			if err != nil {
				return err
			}
		}
		if i := slices.Index(claim.Finalizers, resourcev1.Finalizer); i >= 0 {
			claim.Finalizers = slices.Delete(claim.Finalizers, i, i+1)
		}
		if _, err := c.client.ResourceV1().ResourceClaims(ns).Update(ctx, claim, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}

	if len(remaining) > 0 {
		return nil
	}
	podName, podUID := owningPod(claim)
	if podName == "" {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(podName)
	switch {
	case apierrors.IsNotFound(err):
		// The garbage collector deletes claims of pods that are gone.
		return nil
	case err != nil:
		return fmt.Errorf("lookup pod: %w", err)
	case pod.UID != podUID || isPodDone(pod):
		if err := c.client.ResourceV1().ResourceClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete unused generated claim %s: %w", klog.KObj(claim), err)
		}
		klog.FromContext(ctx).V(5).Info("Deleted unused generated claim", "claim", klog.KObj(claim), "pod", klog.KObj(pod))
	}
	return nil
}

// podStillUses reports whether the pod ns/name with uid may still use a
// claim reserved for it.
func (c *Controller) podStillUses(ctx context.Context, ns, name string, uid types.UID) (bool, error) {
	if _, deleted := c.deletedPods.Get(uid); deleted {
		return false, nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		// The cache may lag behind a new pod: ask the server.
		pod, err := c.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return pod.UID == uid, nil
	case err != nil:
		return false, err
	default:
		return pod.UID == uid && !isPodDone(pod), nil
	}
}
