// Package garbagecollector is kube-controller-manager's generic garbage
// collector: it watches the metadata of every deletable resource, keeps a
// graph of owner references, deletes dependents whose owners are gone
// (background deletion), deletes blocking dependents before their owner
// (foreground deletion) and removes references to an owner being deleted
// with the orphan policy.
package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

const (
	// DefaultWorkers is kube-controller-manager's --concurrent-gc-syncs.
	DefaultWorkers = 20
	// SyncPeriod is how often kube-controller-manager's collector asks
	// discovery for the deletable resources, and how long it waits for new
	// monitors to sync.
	SyncPeriod = 30 * time.Second
)

// errEnqueuedVirtualDelete means the item was found absent and a virtual
// deletion will take it out of the graph; there is nothing to retry.
var errEnqueuedVirtualDelete = errors.New("enqueued virtual delete event")

// errNamespacedOwnerOfClusterScopedObject means the item's reference can
// never resolve; it is not retried.
var errNamespacedOwnerOfClusterScopedObject = errors.New("cluster-scoped objects cannot refer to namespaced owners")

// restMappingError is a kind the REST mapper does not know, possibly only
// until the next discovery sync.
type restMappingError struct {
	kind, version string
}

func (e *restMappingError) Error() string {
	return fmt.Sprintf("unable to get REST mapping for %s/%s.", e.version, e.kind)
}

// Controller is the garbage collector.
type Controller struct {
	metadataClient metadata.Interface
	discovery      discovery.ServerResourcesInterface
	restMapper     meta.ResettableRESTMapper
	graph          *graphBuilder
	broadcaster    record.EventBroadcaster
	events         typedcorev1.EventsGetter
}

// NewForConfig builds the collector acting as config's identity.
func NewForConfig(config *rest.Config) (*Controller, error) {
	// Each deletion takes two API calls; kube-controller-manager doubles
	// the collector's rate for that.
	cfg := rest.CopyConfig(config)
	cfg.QPS *= 2
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("garbage collector client: %w", err)
	}
	metadataClient, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("garbage collector metadata client: %w", err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("garbage collector discovery client: %w", err)
	}
	return New(metadataClient, disc, client.CoreV1(), DefaultIgnoredResources()), nil
}

// New builds the collector from its clients; ignored resources are never
// watched.
func New(metadataClient metadata.Interface, disc discovery.DiscoveryInterface, events typedcorev1.EventsGetter, ignored map[schema.GroupResource]struct{}) *Controller {
	return newController(metadataClient, disc, events, ignored, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)))
}

func newController(metadataClient metadata.Interface, disc discovery.ServerResourcesInterface, events typedcorev1.EventsGetter,
	ignored map[schema.GroupResource]struct{}, rm meta.ResettableRESTMapper) *Controller {
	broadcaster := record.NewBroadcaster()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "garbage-collector-controller"})
	return &Controller{
		metadataClient: metadataClient,
		discovery:      disc,
		restMapper:     rm,
		graph:          newGraphBuilder(metadataClient, rm, ignored, recorder),
		broadcaster:    broadcaster,
		events:         events,
	}
}

// Run collects garbage with workers workers until ctx ends, and resyncs
// the monitored resources with discovery every SyncPeriod.
func (gc *Controller) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	gc.broadcaster.StartStructuredLogging(3)
	gc.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: gc.events.Events("")})
	defer gc.broadcaster.Shutdown()

	logger.Info("Starting controller", "controller", "garbagecollector")
	var wg sync.WaitGroup
	defer func() {
		logger.Info("Shutting down controller", "controller", "garbagecollector")
		gc.graph.attemptToOrphan.ShutDown()
		gc.graph.attemptToDelete.ShutDown()
		wg.Wait()
	}()
	wg.Go(func() { gc.graph.run(ctx) })
	wg.Go(func() { gc.sync(ctx, SyncPeriod) })

	syncCtx, cancel := context.WithTimeout(ctx, SyncPeriod)
	if !cache.WaitForNamedCacheSyncWithContext(syncCtx, gc.graph.isSynced) {
		logger.Info("Garbage collector: not all resource monitors could be synced, proceeding anyways")
	} else {
		logger.Info("Garbage collector: all resource monitors have synced")
	}
	cancel()
	if ctx.Err() != nil {
		return
	}
	logger.Info("Proceeding to collect garbage")
	for range workers {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for gc.processAttemptToDelete(ctx) {
				}
			}, time.Second)
		})
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for gc.processAttemptToOrphan(ctx) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
}

// sync watches the resources discovery lists as deletable, every period.
// Until discovery first answers it asks every second: skiff starts its
// controllers while the server it is part of may still be completing
// discovery, where kube-controller-manager waits for a healthy server.
func (gc *Controller) sync(ctx context.Context, period time.Duration) {
	var old map[schema.GroupVersionResource]struct{}
	for {
		next := period
		cur, ok := gc.resyncMonitors(ctx, old, period)
		switch {
		case ok:
			old = cur
		case old == nil && cur == nil:
			next = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// resyncMonitors makes the monitors match what discovery now lists and
// waits for new ones to sync; it returns the resources it synced with,
// or those it failed to sync, nil when discovery found none.
func (gc *Controller) resyncMonitors(ctx context.Context, old map[schema.GroupVersionResource]struct{}, period time.Duration) (map[schema.GroupVersionResource]struct{}, bool) {
	logger := klog.FromContext(ctx)
	resources, err := GetDeletableResources(ctx, gc.discovery)
	if len(resources) == 0 {
		logger.V(2).Info("no resources reported by discovery, skipping garbage collector sync")
		return nil, false
	}
	if failed, ok := discovery.GroupDiscoveryFailedErrorGroups(err); ok {
		// A group that failed discovery keeps the monitors that work.
		for gvr := range old {
			if _, f := failed[gvr.GroupVersion()]; f && gc.graph.isResourceSynced(gvr) {
				resources[gvr] = struct{}{}
			}
		}
	}
	if old != nil && reflect.DeepEqual(old, resources) {
		logger.V(5).Info("no resource updates from discovery, skipping garbage collector sync")
		return old, true
	}
	logger.V(2).Info("syncing garbage collector with updated resources from discovery", "diff", printDiff(old, resources))
	gc.restMapper.Reset()
	if err := gc.graph.syncMonitors(resources); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Failed to sync resource monitors")
		return resources, false
	}
	gc.graph.startMonitors()
	// Owners of kinds discovery did not know were retried with growing
	// backoff; the kinds just added may resolve them now.
	gc.graph.enqueueVirtualNodes()
	syncCtx, cancel := context.WithTimeout(ctx, period)
	defer cancel()
	if cache.WaitForNamedCacheSyncWithContext(syncCtx, gc.graph.isSynced) {
		logger.V(2).Info("synced garbage collector")
	} else if ctx.Err() == nil {
		utilruntime.HandleErrorWithContext(ctx, nil, "Timed out waiting for dependency graph builder sync during GC sync")
	}
	return resources, true
}

func printDiff(old, cur map[schema.GroupVersionResource]struct{}) string {
	var added, removed []string
	for gvr := range cur {
		if _, ok := old[gvr]; !ok {
			added = append(added, fmt.Sprintf("%+v", gvr))
		}
	}
	for gvr := range old {
		if _, ok := cur[gvr]; !ok {
			removed = append(removed, fmt.Sprintf("%+v", gvr))
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return fmt.Sprintf("added: %v, removed: %v", added, removed)
}

// GetDeletableResources returns the preferred version of every resource
// that supports delete, list and watch. A partial discovery failure
// returns what was found along with the error.
func GetDeletableResources(ctx context.Context, disc discovery.ServerResourcesInterface) (map[schema.GroupVersionResource]struct{}, error) {
	logger := klog.FromContext(ctx)
	preferred, lookupErr := disc.ServerPreferredResources()
	if lookupErr != nil {
		if failed, ok := discovery.GroupDiscoveryFailedErrorGroups(lookupErr); ok {
			logger.Info("failed to discover some groups", "groups", fmt.Sprintf("%q", slices.Collect(maps.Keys(failed))))
		} else {
			logger.Info("failed to discover preferred resources", "error", lookupErr)
		}
	}
	out := map[schema.GroupVersionResource]struct{}{}
	if preferred == nil {
		return out, lookupErr
	}
	for _, rl := range discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete", "list", "watch"}}, preferred) {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil {
			logger.Info("ignoring invalid discovered resource", "groupversion", rl.GroupVersion, "error", err)
			continue
		}
		for _, r := range rl.APIResources {
			out[gv.WithResource(r.Name)] = struct{}{}
		}
	}
	return out, lookupErr
}

func (gc *Controller) processAttemptToDelete(ctx context.Context) bool {
	n, quit := gc.graph.attemptToDelete.Get()
	if quit {
		return false
	}
	defer gc.graph.attemptToDelete.Done(n)
	if gc.attemptToDeleteWorker(ctx, n) {
		gc.graph.attemptToDelete.AddRateLimited(n)
	} else {
		gc.graph.attemptToDelete.Forget(n)
	}
	return true
}

// attemptToDeleteWorker handles one node and reports whether to retry it.
func (gc *Controller) attemptToDeleteWorker(ctx context.Context, n *node) (requeue bool) {
	logger := klog.FromContext(ctx)
	if !n.isObserved() {
		inGraph, ok := gc.graph.uidToNode.Read(n.identity.UID)
		if !ok {
			logger.V(5).Info("item no longer in the graph, skipping attemptToDeleteItem", "item", n.identity)
			return false
		}
		if inGraph.isObserved() {
			logger.V(5).Info("item no longer virtual in the graph, skipping attemptToDeleteItem on virtual node", "item", n.identity)
			return false
		}
	}
	err := gc.attemptToDeleteItem(ctx, n)
	var mappingErr *restMappingError
	switch {
	case errors.Is(err, errEnqueuedVirtualDelete), errors.Is(err, errNamespacedOwnerOfClusterScopedObject):
		return false
	case errors.As(err, &mappingErr):
		// A custom kind not discovered yet, or one that never will be:
		// both retry until the next discovery sync tells.
		logger.V(5).Info("error syncing item", "item", n.identity, "err", err)
		return true
	case err != nil:
		utilruntime.HandleErrorWithContext(ctx, err, "Error syncing item", "item", n.identity)
		return true
	case !n.isObserved():
		// A virtual node is checked until an informer reports it or it
		// is found absent.
		logger.V(5).Info("item hasn't been observed via informer yet", "item", n.identity)
		return true
	}
	return false
}

// isDangling reports whether reference names an owner that does not exist,
// returning the owner's metadata when it does.
func (gc *Controller) isDangling(ctx context.Context, reference metav1.OwnerReference, item *node) (bool, *metav1.PartialObjectMetadata, error) {
	absentKey := objectReference{OwnerReference: ownerReferenceCoordinates(reference)}
	if gc.graph.absentOwnerCache.Has(absentKey) {
		return true, nil, nil
	}
	absentKey.Namespace = item.identity.Namespace
	if gc.graph.absentOwnerCache.Has(absentKey) {
		return true, nil, nil
	}
	gvr, namespaced, err := gc.apiResource(reference.APIVersion, reference.Kind)
	if err != nil {
		return false, nil, err
	}
	if !namespaced {
		absentKey.Namespace = ""
	}
	if item.identity.Namespace == "" && namespaced {
		klog.FromContext(ctx).V(2).Info("item is cluster-scoped, but refers to a namespaced owner", "item", item.identity, "owner", reference)
		return false, nil, errNamespacedOwnerOfClusterScopedObject
	}
	owner, err := gc.metadataClient.Resource(gvr).Namespace(resourceDefaultNamespace(namespaced, item.identity.Namespace)).
		Get(ctx, reference.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		gc.graph.absentOwnerCache.Add(absentKey)
		return true, nil, nil
	case err != nil:
		return false, nil, err
	}
	if owner.UID != reference.UID {
		gc.graph.absentOwnerCache.Add(absentKey)
		return true, nil, nil
	}
	return false, owner, nil
}

// classifyReferences sorts an item's owner references into owners that
// exist (solid), owners that do not (dangling), and owners being deleted
// in the foreground (waiting for their dependents).
func (gc *Controller) classifyReferences(ctx context.Context, item *node, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range refs {
		isDangling, owner, err := gc.isDangling(ctx, ref, item)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case isDangling:
			dangling = append(dangling, ref)
		case owner.DeletionTimestamp != nil && hasDeleteDependentsFinalizer(owner):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

func ownerRefsToUIDs(refs []metav1.OwnerReference) []types.UID {
	out := make([]types.UID, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.UID)
	}
	return out
}

// attemptToDeleteItem deletes item if none of its owners exists, removes
// its references to owners that are gone, and drives its own foreground
// deletion.
func (gc *Controller) attemptToDeleteItem(ctx context.Context, item *node) error {
	logger := klog.FromContext(ctx)
	logger.V(2).Info("Processing item", "item", item.identity, "virtual", !item.isObserved())
	if item.isBeingDeleted() && !item.isDeletingDependents() {
		return nil
	}
	latest, err := gc.getObject(ctx, item.identity)
	switch {
	case apierrors.IsNotFound(err):
		gc.graph.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	case err != nil:
		return err
	}
	if latest.UID != item.identity.UID {
		gc.graph.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	}
	if item.isDeletingDependents() {
		return gc.processDeletingDependentsItem(ctx, item)
	}
	refs := latest.OwnerReferences
	if len(refs) == 0 {
		logger.V(2).Info("item doesn't have an owner, continue on next item", "item", item.identity)
		return nil
	}
	solid, dangling, waiting, err := gc.classifyReferences(ctx, item, refs)
	if err != nil {
		return err
	}
	logger.V(5).Info("classify item's references", "item", item.identity, "solid", solid, "dangling", dangling, "waitingForDependentsDeletion", waiting)

	switch {
	case len(solid) != 0:
		logger.V(2).Info("item has at least one existing owner, will not garbage collect", "item", item.identity, "owner", solid)
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		// The item stays, but its references to owners that are gone or
		// going would block or confuse them.
		uids := append(ownerRefsToUIDs(dangling), ownerRefsToUIDs(waiting)...)
		_, err := gc.patch(ctx, item, deleteOwnerRefStrategicMergePatch(item.identity.UID, uids...), func(n *node) ([]byte, error) {
			return gc.deleteOwnerRefJSONMergePatch(ctx, n, uids...)
		})
		return err

	case len(waiting) != 0 && item.dependentsLength() != 0:
		for _, dep := range item.getDependents() {
			if dep.isDeletingDependents() {
				// A dependent deleting its own dependents in the foreground
				// while the item's owner does the same could wait on each
				// other forever; the item stops blocking its owners.
				logger.V(2).Info("processing item, some of its owners and its dependent have FinalizerDeletingDependents, to prevent potential cycle, its ownerReferences are going to be modified to be non-blocking, then the item is going to be deleted with Foreground",
					"item", item.identity, "dependent", dep.identity)
				p, err := unblockOwnerReferencesStrategicMergePatch(item)
				if err != nil {
					return err
				}
				if _, err := gc.patch(ctx, item, p, func(n *node) ([]byte, error) { return gc.unblockOwnerReferencesJSONMergePatch(ctx, n) }); err != nil {
					return err
				}
				break
			}
		}
		logger.V(2).Info("at least one owner of item has FinalizerDeletingDependents, and the item itself has dependents, so it is going to be deleted in Foreground", "item", item.identity)
		policy := metav1.DeletePropagationForeground
		return gc.deleteOrVirtual(ctx, item, latest, &policy)

	default:
		// Every owner is gone or waits for its dependents: the item goes,
		// keeping the propagation its own finalizers ask for.
		policy := metav1.DeletePropagationBackground
		switch {
		case hasOrphanFinalizer(latest):
			policy = metav1.DeletePropagationOrphan
		case hasDeleteDependentsFinalizer(latest):
			policy = metav1.DeletePropagationForeground
		}
		logger.V(2).Info("Deleting item", "item", item.identity, "propagationPolicy", policy)
		return gc.deleteOrVirtual(ctx, item, latest, &policy)
	}
}

func (gc *Controller) deleteOrVirtual(ctx context.Context, item *node, latest *metav1.PartialObjectMetadata, policy *metav1.DeletionPropagation) error {
	err := gc.deleteObject(ctx, item.identity, latest.ResourceVersion, latest.OwnerReferences, policy)
	if apierrors.IsNotFound(err) {
		gc.graph.enqueueVirtualDeleteEvent(item.identity)
		return errEnqueuedVirtualDelete
	}
	return err
}

// processDeletingDependentsItem finishes a foreground deletion once no
// dependent blocks it, and otherwise queues the blocking dependents.
func (gc *Controller) processDeletingDependentsItem(ctx context.Context, item *node) error {
	logger := klog.FromContext(ctx)
	blocking := item.blockingDependents()
	if len(blocking) == 0 {
		logger.V(2).Info("remove DeleteDependents finalizer for item", "item", item.identity)
		return gc.removeFinalizer(ctx, item, metav1.FinalizerDeleteDependents)
	}
	for _, dep := range blocking {
		if !dep.isDeletingDependents() {
			logger.V(2).Info("adding dependent to attemptToDelete, because its owner is deletingDependents", "item", item.identity, "dependent", dep.identity)
			gc.graph.attemptToDelete.Add(dep)
		}
	}
	return nil
}

// orphanDependents removes the references to owner from its dependents.
func (gc *Controller) orphanDependents(ctx context.Context, owner objectReference, dependents []*node) error {
	errs := make([]error, len(dependents))
	var wg sync.WaitGroup
	for i, dep := range dependents {
		wg.Go(func() {
			_, err := gc.patch(ctx, dep, deleteOwnerRefStrategicMergePatch(dep.identity.UID, owner.UID), func(n *node) ([]byte, error) {
				return gc.deleteOwnerRefJSONMergePatch(ctx, n, owner.UID)
			})
			if err != nil && !apierrors.IsNotFound(err) {
				errs[i] = fmt.Errorf("orphaning %s failed, %w", dep.identity, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("failed to orphan dependents of owner %s, got errors: %w", owner, err)
	}
	klog.FromContext(ctx).V(5).Info("successfully updated all dependents", "owner", owner)
	return nil
}

func (gc *Controller) processAttemptToOrphan(ctx context.Context) bool {
	owner, quit := gc.graph.attemptToOrphan.Get()
	if quit {
		return false
	}
	defer gc.graph.attemptToOrphan.Done(owner)
	if err := gc.orphanDependents(ctx, owner.identity, owner.getDependents()); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "orphanDependents failed", "owner", owner.identity)
		gc.graph.attemptToOrphan.AddRateLimited(owner)
		return true
	}
	if err := gc.removeFinalizer(ctx, owner, metav1.FinalizerOrphanDependents); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "removeOrphanFinalizer failed", "owner", owner.identity)
		gc.graph.attemptToOrphan.AddRateLimited(owner)
		return true
	}
	gc.graph.attemptToOrphan.Forget(owner)
	return true
}
