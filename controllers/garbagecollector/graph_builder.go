package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// DefaultIgnoredResources are the resources the collector never watches,
// as kube-controller-manager's --gc-ignored-resources default: events are
// many, short-lived, and nobody owns them.
func DefaultIgnoredResources() map[schema.GroupResource]struct{} {
	return map[schema.GroupResource]struct{}{
		{Group: "", Resource: "events"}:                 {},
		{Group: eventsv1.GroupName, Resource: "events"}: {},
	}
}

type eventType int

const (
	addEvent eventType = iota
	updateEvent
	deleteEvent
)

// event is one change an informer reported, or a virtual deletion the
// workers found by asking the API server.
type event struct {
	// virtual marks a deletion found by a lookup rather than an informer.
	virtual   bool
	eventType eventType
	obj       any
	// oldObj is the previous state of an update.
	oldObj any
	gvk    schema.GroupVersionKind
}

// monitor watches one resource.
type monitor struct {
	informer cache.SharedIndexInformer
	cancel   context.CancelFunc // nil until started
}

// graphBuilder turns what the monitors report into the dependency graph
// and queues the nodes the collector must look at. A single goroutine
// (processGraphChanges) writes the graph.
type graphBuilder struct {
	metadataClient metadata.Interface
	restMapper     meta.RESTMapper
	ignored        map[schema.GroupResource]struct{}
	recorder       record.EventRecorder

	monitorLock sync.RWMutex
	monitors    map[schema.GroupVersionResource]*monitor
	// runCtx is set once Run starts; monitors start under it.
	runCtx context.Context

	graphChanges     workqueue.TypedRateLimitingInterface[*event]
	uidToNode        *uidToNode
	attemptToDelete  workqueue.TypedRateLimitingInterface[*node]
	attemptToOrphan  workqueue.TypedRateLimitingInterface[*node]
	absentOwnerCache *referenceCache
}

func newGraphBuilder(metadataClient metadata.Interface, mapper meta.RESTMapper, ignored map[schema.GroupResource]struct{}, recorder record.EventRecorder) *graphBuilder {
	return &graphBuilder{
		metadataClient: metadataClient,
		restMapper:     mapper,
		ignored:        ignored,
		recorder:       recorder,
		monitors:       map[schema.GroupVersionResource]*monitor{},
		graphChanges: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[*event](),
			workqueue.TypedRateLimitingQueueConfig[*event]{Name: "garbage_collector_graph_changes"}),
		uidToNode: &uidToNode{nodes: map[types.UID]*node{}},
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_delete"}),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_orphan"}),
		absentOwnerCache: newReferenceCache(500),
	}
}

func (gb *graphBuilder) informerFor(gvr schema.GroupVersionResource, kind schema.GroupVersionKind) (cache.SharedIndexInformer, error) {
	inf := metadatainformer.NewFilteredMetadataInformer(gb.metadataClient, gvr, metav1.NamespaceAll, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
	// The graph reads owner references only; managedFields would be most
	// of what it keeps (kube-controller-manager trims them too).
	if err := inf.SetTransform(func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	}); err != nil {
		return nil, err
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			gb.graphChanges.Add(&event{eventType: addEvent, obj: obj, gvk: kind})
		},
		UpdateFunc: func(oldObj, newObj any) {
			gb.graphChanges.Add(&event{eventType: updateEvent, obj: newObj, oldObj: oldObj, gvk: kind})
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			gb.graphChanges.Add(&event{eventType: deleteEvent, obj: obj, gvk: kind})
		},
	})
	if err != nil {
		return nil, err
	}
	return inf, nil
}

// syncMonitors makes the monitors watch exactly resources (less the
// ignored ones): new resources get a monitor, vanished ones lose theirs.
func (gb *graphBuilder) syncMonitors(resources map[schema.GroupVersionResource]struct{}) error {
	gb.monitorLock.Lock()
	defer gb.monitorLock.Unlock()
	toRemove := gb.monitors
	current := map[schema.GroupVersionResource]*monitor{}
	var errs []error
	for gvr := range resources {
		if _, ok := gb.ignored[gvr.GroupResource()]; ok {
			continue
		}
		if m, ok := toRemove[gvr]; ok {
			current[gvr] = m
			delete(toRemove, gvr)
			continue
		}
		kind, err := gb.restMapper.KindFor(gvr)
		if err != nil {
			errs = append(errs, fmt.Errorf("couldn't look up resource %q: %w", gvr, err))
			continue
		}
		inf, err := gb.informerFor(gvr, kind)
		if err != nil {
			errs = append(errs, fmt.Errorf("couldn't start monitor for resource %q: %w", gvr, err))
			continue
		}
		current[gvr] = &monitor{informer: inf}
	}
	gb.monitors = current
	for _, m := range toRemove {
		if m.cancel != nil {
			m.cancel()
		}
	}
	return errors.Join(errs...)
}

// startMonitors runs the monitors not running yet, once Run has started.
func (gb *graphBuilder) startMonitors() {
	gb.monitorLock.Lock()
	defer gb.monitorLock.Unlock()
	if gb.runCtx == nil {
		return
	}
	for _, m := range gb.monitors {
		if m.cancel == nil {
			ctx, cancel := context.WithCancel(gb.runCtx)
			m.cancel = cancel
			go m.informer.RunWithContext(ctx)
		}
	}
}

// isSynced reports whether every monitor has listed its resource; false
// while there are none.
func (gb *graphBuilder) isSynced() bool {
	gb.monitorLock.RLock()
	defer gb.monitorLock.RUnlock()
	if len(gb.monitors) == 0 {
		return false
	}
	for _, m := range gb.monitors {
		if !m.informer.HasSynced() {
			return false
		}
	}
	return true
}

func (gb *graphBuilder) isResourceSynced(gvr schema.GroupVersionResource) bool {
	gb.monitorLock.RLock()
	defer gb.monitorLock.RUnlock()
	m, ok := gb.monitors[gvr]
	return ok && m.informer.HasSynced()
}

// cached returns an object's metadata from its monitor's cache.
func (gb *graphBuilder) cached(gvr schema.GroupVersionResource, namespace, name string) (*metav1.PartialObjectMetadata, bool) {
	gb.monitorLock.RLock()
	m, ok := gb.monitors[gvr]
	gb.monitorLock.RUnlock()
	if !ok {
		return nil, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, exists, err := m.informer.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	p, ok := obj.(*metav1.PartialObjectMetadata)
	return p, ok
}

// run processes graph changes until ctx ends, then stops the monitors.
func (gb *graphBuilder) run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	logger.Info("Running", "component", "GraphBuilder")
	defer logger.Info("Stopping", "component", "GraphBuilder")
	gb.monitorLock.Lock()
	gb.runCtx = ctx
	gb.monitorLock.Unlock()
	gb.startMonitors()
	go func() {
		<-ctx.Done()
		gb.graphChanges.ShutDown()
	}()
	for gb.processGraphChanges(logger) {
	}
}

// enqueueVirtualNodes queues every owner no informer has reported yet.
func (gb *graphBuilder) enqueueVirtualNodes() {
	gb.uidToNode.mu.RLock()
	defer gb.uidToNode.mu.RUnlock()
	for _, n := range gb.uidToNode.nodes {
		if !n.isObserved() {
			gb.attemptToDelete.Add(n)
		}
	}
}

// enqueueVirtualDeleteEvent reports that ref was found absent.
func (gb *graphBuilder) enqueueVirtualDeleteEvent(ref objectReference) {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	gb.graphChanges.Add(&event{
		virtual:   true,
		eventType: deleteEvent,
		gvk:       gv.WithKind(ref.Kind),
		obj: &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: ref.APIVersion, Kind: ref.Kind},
			ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, UID: ref.UID, Name: ref.Name},
		},
	})
}

// addDependentToOwners links n to its owners, creating virtual nodes for
// owners not observed yet and queueing them to check that they exist. A
// dependent whose reference cannot be right (an owner in another
// namespace, different coordinates) is queued for a check of its own.
func (gb *graphBuilder) addDependentToOwners(n *node, owners []metav1.OwnerReference) {
	potentiallyInvalid := false
	for _, owner := range owners {
		ownerNode, ok := gb.uidToNode.Read(owner.UID)
		if !ok {
			// A namespaced dependent's owner is assumed to share its
			// namespace until observed; a cluster-scoped owner turns out
			// to have none when it is.
			ownerNode = newNode(objectReference{OwnerReference: ownerReferenceCoordinates(owner), Namespace: n.identity.Namespace})
			ownerNode.virtual = true
			gb.uidToNode.Write(ownerNode)
		}
		ownerNode.addDependent(n)
		if !ok {
			gb.attemptToDelete.Add(ownerNode)
			continue
		}
		if potentiallyInvalid {
			continue
		}
		ownerNamespaced := ownerNode.identity.Namespace != ""
		switch {
		case ownerNamespaced && ownerNode.identity.Namespace != n.identity.Namespace:
			if ownerNode.isObserved() {
				gb.reportInvalidNamespaceOwnerRef(n, owner.UID)
			}
			potentiallyInvalid = true
		case !ownerReferenceMatchesCoordinates(owner, ownerNode.identity.OwnerReference):
			potentiallyInvalid = true
		case !ownerNamespaced && ownerNode.identity.Namespace != n.identity.Namespace && !ownerNode.isObserved():
			potentiallyInvalid = true
		}
	}
	if potentiallyInvalid {
		gb.attemptToDelete.Add(n)
	}
}

func (gb *graphBuilder) reportInvalidNamespaceOwnerRef(n *node, ownerUID types.UID) {
	i := slices.IndexFunc(n.getOwners(), func(r metav1.OwnerReference) bool { return r.UID == ownerUID })
	if i < 0 {
		return
	}
	ref := n.getOwners()[i]
	invalid := objectReference{OwnerReference: ownerReferenceCoordinates(ref), Namespace: n.identity.Namespace}
	gb.recorder.Eventf(&corev1.ObjectReference{Kind: n.identity.Kind, APIVersion: n.identity.APIVersion, Namespace: n.identity.Namespace,
		Name: n.identity.Name, UID: n.identity.UID},
		corev1.EventTypeWarning, "OwnerRefInvalidNamespace", "ownerRef %s does not exist in namespace %q", invalid, n.identity.Namespace)
}

func (gb *graphBuilder) insertNode(n *node) {
	gb.uidToNode.Write(n)
	gb.addDependentToOwners(n, n.getOwners())
}

func (gb *graphBuilder) removeDependentFromOwners(n *node, owners []metav1.OwnerReference) {
	for _, owner := range owners {
		if ownerNode, ok := gb.uidToNode.Read(owner.UID); ok {
			ownerNode.deleteDependent(n)
		}
	}
}

func (gb *graphBuilder) removeNode(n *node) {
	gb.uidToNode.Delete(n.identity.UID)
	gb.removeDependentFromOwners(n, n.getOwners())
}

type ownerRefPair struct {
	oldRef, newRef metav1.OwnerReference
}

func referencesDiffs(old, cur []metav1.OwnerReference) (added, removed []metav1.OwnerReference, changed []ownerRefPair) {
	oldByUID := make(map[types.UID]metav1.OwnerReference, len(old))
	for _, r := range old {
		oldByUID[r.UID] = r
	}
	for _, r := range cur {
		o, ok := oldByUID[r.UID]
		if !ok {
			added = append(added, r)
			continue
		}
		if !reflect.DeepEqual(o, r) {
			changed = append(changed, ownerRefPair{oldRef: o, newRef: r})
		}
		delete(oldByUID, r.UID)
	}
	for _, r := range old {
		if _, ok := oldByUID[r.UID]; ok {
			removed = append(removed, r)
		}
	}
	return added, removed, changed
}

func beingDeleted(m metav1.Object) bool { return m.GetDeletionTimestamp() != nil }

func hasFinalizer(m metav1.Object, finalizer string) bool {
	return slices.Contains(m.GetFinalizers(), finalizer)
}

func hasDeleteDependentsFinalizer(m metav1.Object) bool {
	return hasFinalizer(m, metav1.FinalizerDeleteDependents)
}

func hasOrphanFinalizer(m metav1.Object) bool {
	return hasFinalizer(m, metav1.FinalizerOrphanDependents)
}

// deletionStartsWithFinalizer reports whether this change is the one that
// put cur into deletion with finalizer.
func deletionStartsWithFinalizer(oldObj any, cur metav1.Object, finalizer string) bool {
	if !beingDeleted(cur) || !hasFinalizer(cur, finalizer) {
		return false
	}
	if oldObj == nil {
		return true
	}
	old, err := meta.Accessor(oldObj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("cannot access oldObj: %w", err))
		return false
	}
	return !beingDeleted(old) || !hasFinalizer(old, finalizer)
}

// addUnblockedOwnersToDeleteQueue queues owners a dependent stopped
// blocking, so that a foreground deletion waiting for it goes on.
func (gb *graphBuilder) addUnblockedOwnersToDeleteQueue(removed []metav1.OwnerReference, changed []ownerRefPair) {
	for _, ref := range removed {
		if ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			if n, ok := gb.uidToNode.Read(ref.UID); ok {
				gb.attemptToDelete.Add(n)
			}
		}
	}
	for _, c := range changed {
		wasBlocked := c.oldRef.BlockOwnerDeletion != nil && *c.oldRef.BlockOwnerDeletion
		isUnblocked := c.newRef.BlockOwnerDeletion == nil || !*c.newRef.BlockOwnerDeletion
		if wasBlocked && isUnblocked {
			if n, ok := gb.uidToNode.Read(c.newRef.UID); ok {
				gb.attemptToDelete.Add(n)
			}
		}
	}
}

// processTransitions starts orphaning or foreground deletion when an
// object enters deletion with the matching finalizer.
func (gb *graphBuilder) processTransitions(oldObj any, cur metav1.Object, n *node) {
	if deletionStartsWithFinalizer(oldObj, cur, metav1.FinalizerOrphanDependents) {
		gb.attemptToOrphan.Add(n)
		return
	}
	if deletionStartsWithFinalizer(oldObj, cur, metav1.FinalizerDeleteDependents) {
		n.markDeletingDependents()
		for _, dep := range n.getDependents() {
			gb.attemptToDelete.Add(dep)
		}
		gb.attemptToDelete.Add(n)
	}
}

func identityFromEvent(e *event, m metav1.Object) objectReference {
	return objectReference{
		OwnerReference: metav1.OwnerReference{APIVersion: e.gvk.GroupVersion().String(), Kind: e.gvk.Kind, UID: m.GetUID(), Name: m.GetName()},
		Namespace:      m.GetNamespace(),
	}
}

func (gb *graphBuilder) processGraphChanges(logger klog.Logger) bool {
	e, quit := gb.graphChanges.Get()
	if quit {
		return false
	}
	defer gb.graphChanges.Done(e)
	accessor, err := meta.Accessor(e.obj)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("cannot access obj: %w", err))
		return true
	}
	logger.V(5).Info("GraphBuilder process object", "apiVersion", e.gvk.GroupVersion().String(), "kind", e.gvk.Kind,
		"object", klog.KObj(accessor), "uid", accessor.GetUID(), "eventType", e.eventType, "virtual", e.virtual)

	existing, found := gb.uidToNode.Read(accessor.GetUID())
	if found && !e.virtual && !existing.isObserved() {
		// A virtual node is observed at last: its dependents guessed its
		// identity, which may have been wrong (another kind, or a
		// namespace when it is cluster-scoped).
		observed := identityFromEvent(e, accessor)
		if observed != existing.identity {
			_, invalid := partitionDependents(existing.getDependents(), observed)
			for _, dep := range invalid {
				if observed.Namespace != "" && dep.identity.Namespace != observed.Namespace {
					logger.V(2).Info("Item references an owner but does not match namespaces", "item", dep.identity, "owner", observed)
					gb.reportInvalidNamespaceOwnerRef(dep, observed.UID)
				}
				gb.attemptToDelete.Add(dep)
			}
			logger.V(2).Info("Replacing virtual item with observed item", "virtual", existing.identity, "observed", observed)
			existing = existing.clone()
			existing.identity = observed
			gb.uidToNode.Write(existing)
		}
		existing.markObserved()
	}

	switch {
	case (e.eventType == addEvent || e.eventType == updateEvent) && !found:
		n := newNode(identityFromEvent(e, accessor))
		n.owners = accessor.GetOwnerReferences()
		n.deletingDependents = beingDeleted(accessor) && hasDeleteDependentsFinalizer(accessor)
		n.beingDeleted = beingDeleted(accessor)
		gb.insertNode(n)
		gb.processTransitions(e.oldObj, accessor, n)

	case e.eventType == addEvent || e.eventType == updateEvent:
		added, removed, changed := referencesDiffs(existing.getOwners(), accessor.GetOwnerReferences())
		if len(added) != 0 || len(removed) != 0 || len(changed) != 0 {
			gb.addUnblockedOwnersToDeleteQueue(removed, changed)
			existing.setOwners(accessor.GetOwnerReferences())
			gb.addDependentToOwners(existing, added)
			gb.removeDependentFromOwners(existing, removed)
		}
		if beingDeleted(accessor) {
			existing.markBeingDeleted()
		}
		gb.processTransitions(e.oldObj, accessor, existing)

	case e.eventType == deleteEvent:
		if !found {
			logger.V(5).Info("Item doesn't exist in the graph, this shouldn't happen", "item", accessor.GetUID())
			return true
		}
		gb.processDeletion(e, accessor, existing)
	}
	return true
}

func (gb *graphBuilder) processDeletion(e *event, accessor metav1.Object, existing *node) {
	remove := true
	if e.virtual {
		deleted := identityFromEvent(e, accessor)
		if existing.virtual {
			// Dependents may disagree about who their owner is; only those
			// that named the identity found absent lose it.
			matching, nonmatching := partitionDependents(existing.getDependents(), deleted)
			if len(nonmatching) > 0 {
				remove = false
				if len(matching) > 0 {
					gb.absentOwnerCache.Add(deleted)
					for _, dep := range matching {
						gb.attemptToDelete.Add(dep)
					}
				}
				if existing.identity == deleted {
					if alt := getAlternateOwnerIdentity(nonmatching, deleted); alt != nil {
						replacement := existing.clone()
						replacement.identity = *alt
						gb.uidToNode.Write(replacement)
						gb.attemptToDelete.AddRateLimited(replacement)
					}
				}
			}
		} else if existing.identity != deleted {
			// An observed object was looked up under a wrong identity:
			// it stays, but the dependents that used that identity have a
			// dangling reference.
			remove = false
			matching, _ := partitionDependents(existing.getDependents(), deleted)
			if len(matching) > 0 {
				gb.absentOwnerCache.Add(deleted)
				for _, dep := range matching {
					gb.attemptToDelete.Add(dep)
				}
			}
		}
	}
	if !remove {
		return
	}
	gb.removeNode(existing)
	deps := existing.getDependents()
	if len(deps) > 0 {
		gb.absentOwnerCache.Add(identityFromEvent(e, accessor))
	}
	for _, dep := range deps {
		gb.attemptToDelete.Add(dep)
	}
	for _, owner := range existing.getOwners() {
		ownerNode, ok := gb.uidToNode.Read(owner.UID)
		if ok && ownerNode.isDeletingDependents() {
			// The owner's foreground deletion may have waited for this one.
			gb.attemptToDelete.Add(ownerNode)
		}
	}
}

// partitionDependents splits dependents into those whose reference
// matches owner and those whose reference (or namespace) does not.
func partitionDependents(dependents []*node, owner objectReference) (matching, nonmatching []*node) {
	ownerNamespaced := owner.Namespace != ""
	for _, dep := range dependents {
		match, mismatch := false, false
		if ownerNamespaced && owner.Namespace != dep.identity.Namespace {
			mismatch = true
		} else {
			for _, ref := range dep.getOwners() {
				if ref.UID == owner.UID {
					if ownerReferenceMatchesCoordinates(ref, owner.OwnerReference) {
						match = true
					} else {
						mismatch = true
					}
				}
			}
		}
		if match {
			matching = append(matching, dep)
		}
		if mismatch {
			nonmatching = append(nonmatching, dep)
		}
	}
	return matching, nonmatching
}

func referenceLessThan(a, b objectReference) bool {
	switch {
	case a.Kind != b.Kind:
		return a.Kind < b.Kind
	case a.APIVersion != b.APIVersion:
		return a.APIVersion < b.APIVersion
	case a.Namespace != b.Namespace:
		return a.Namespace < b.Namespace
	case a.Name != b.Name:
		return a.Name < b.Name
	}
	return a.UID < b.UID
}

// getAlternateOwnerIdentity picks the next identity to check for a UID
// after absent was found absent, in a fixed order so that every
// alternative is tried once.
func getAlternateOwnerIdentity(deps []*node, absent objectReference) *objectReference {
	absentClusterScoped := absent.Namespace == ""
	seen := map[objectReference]bool{absent: true}
	var first, firstFollowing *objectReference
	for _, dep := range deps {
		for _, ref := range dep.getOwners() {
			if ref.UID != absent.UID {
				continue
			}
			if ownerReferenceMatchesCoordinates(ref, absent.OwnerReference) &&
				(absentClusterScoped || absent.Namespace == dep.identity.Namespace) {
				continue
			}
			alt := objectReference{OwnerReference: ownerReferenceCoordinates(ref), Namespace: dep.identity.Namespace}
			if absentClusterScoped && alt.APIVersion == absent.APIVersion && alt.Kind == absent.Kind {
				// Verified cluster-scoped: no namespace makes it exist.
				alt.Namespace = ""
			}
			if seen[alt] {
				continue
			}
			seen[alt] = true
			if first == nil || referenceLessThan(alt, *first) {
				first = &alt
			}
			if referenceLessThan(absent, alt) && (firstFollowing == nil || referenceLessThan(alt, *firstFollowing)) {
				firstFollowing = &alt
			}
		}
	}
	if firstFollowing != nil {
		return firstFollowing
	}
	return first
}
