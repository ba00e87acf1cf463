package garbagecollector

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

type staticMapper struct{ *meta.DefaultRESTMapper }

func (staticMapper) Reset() {}

var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

func testController(t *testing.T, objs ...runtime.Object) (*Controller, *metadatafake.FakeMetadataClient) {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	client.PrependReactor("patch", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, &metav1.PartialObjectMetadata{}, nil
	})
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(configMapGVK, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, meta.RESTScopeRoot)
	gc := newController(client, nil, fake.NewClientset().CoreV1(), DefaultIgnoredResources(), staticMapper{m})
	t.Cleanup(func() {
		gc.graph.attemptToDelete.ShutDown()
		gc.graph.attemptToOrphan.ShutDown()
		gc.graph.graphChanges.ShutDown()
	})
	return gc, client
}

func configMap(name string, uid types.UID, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: uid, OwnerReferences: owners, ResourceVersion: "1"},
	}
}

func cmRef(name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: name, UID: uid}
}

func nodeFor(obj *metav1.PartialObjectMetadata) *node {
	n := newNode(objectReference{OwnerReference: metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: obj.Name, UID: obj.UID}, Namespace: obj.Namespace})
	n.owners = obj.OwnerReferences
	return n
}

// TestAttemptToDeleteItem checks what the collector does with one
// dependent given the state of its owners.
func TestAttemptToDeleteItem(t *testing.T) {
	now := metav1.NewTime(time.Now())
	alive := configMap("alive", "alive-uid")
	deleting := configMap("deleting", "deleting-uid")
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{metav1.FinalizerDeleteDependents}
	sameNameOtherUID := configMap("recreated", "new-uid")

	tests := []struct {
		name          string
		owners        []metav1.OwnerReference
		finalizers    []string
		hasDependents bool
		wantDelete    *metav1.DeletionPropagation
		wantPatchUIDs []types.UID
	}{
		{name: "no owners is left alone"},
		{name: "existing owner is left alone", owners: []metav1.OwnerReference{cmRef("alive", "alive-uid")}},
		{name: "absent owner deletes in the background", owners: []metav1.OwnerReference{cmRef("ghost", "ghost-uid")},
			wantDelete: ptr.To(metav1.DeletePropagationBackground)},
		{name: "owner with another uid is absent", owners: []metav1.OwnerReference{cmRef("recreated", "old-uid")},
			wantDelete: ptr.To(metav1.DeletePropagationBackground)},
		{name: "own orphan finalizer is kept as policy", owners: []metav1.OwnerReference{cmRef("ghost", "ghost-uid")},
			finalizers: []string{metav1.FinalizerOrphanDependents}, wantDelete: ptr.To(metav1.DeletePropagationOrphan)},
		{name: "own foreground finalizer is kept as policy", owners: []metav1.OwnerReference{cmRef("ghost", "ghost-uid")},
			finalizers: []string{metav1.FinalizerDeleteDependents}, wantDelete: ptr.To(metav1.DeletePropagationForeground)},
		{name: "dangling and waiting references are removed when an owner exists",
			owners:        []metav1.OwnerReference{cmRef("alive", "alive-uid"), cmRef("ghost", "ghost-uid"), cmRef("deleting", "deleting-uid")},
			wantPatchUIDs: []types.UID{"ghost-uid", "deleting-uid"}},
		{name: "owner deleting in the foreground deletes a leaf in the background", owners: []metav1.OwnerReference{cmRef("deleting", "deleting-uid")},
			wantDelete: ptr.To(metav1.DeletePropagationBackground)},
		{name: "owner deleting in the foreground deletes a dependent with dependents in the foreground",
			owners: []metav1.OwnerReference{cmRef("deleting", "deleting-uid")}, hasDependents: true,
			wantDelete: ptr.To(metav1.DeletePropagationForeground)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			item := configMap("item", "item-uid", tc.owners...)
			item.Finalizers = tc.finalizers
			gc, client := testController(t, alive, deleting, sameNameOtherUID, item)
			n := nodeFor(item)
			if tc.hasDependents {
				n.addDependent(nodeFor(configMap("grandchild", "grandchild-uid", cmRef("item", "item-uid"))))
			}
			if err := gc.attemptToDeleteItem(t.Context(), n); err != nil {
				t.Fatalf("attemptToDeleteItem: %v", err)
			}
			var deleted *metav1.DeletionPropagation
			var patched []types.UID
			for _, a := range client.Actions() {
				switch a := a.(type) {
				case clienttesting.DeleteActionImpl:
					if a.Name != "item" {
						t.Errorf("deleted %s", a.Name)
					}
					deleted = a.DeleteOptions.PropagationPolicy
					if pre := a.DeleteOptions.Preconditions; pre == nil || *pre.UID != "item-uid" || *pre.ResourceVersion != "1" {
						t.Errorf("delete preconditions %+v, want the item's uid and resourceVersion", pre)
					}
				case clienttesting.PatchActionImpl:
					if a.GetPatchType() != types.StrategicMergePatchType {
						t.Errorf("patch type %s", a.GetPatchType())
					}
					var p struct {
						Metadata struct {
							UID             types.UID           `json:"uid"`
							OwnerReferences []map[string]string `json:"ownerReferences"`
						} `json:"metadata"`
					}
					if err := json.Unmarshal(a.GetPatch(), &p); err != nil {
						t.Fatal(err)
					}
					if p.Metadata.UID != "item-uid" {
						t.Errorf("patch names uid %q", p.Metadata.UID)
					}
					for _, r := range p.Metadata.OwnerReferences {
						if r["$patch"] != "delete" {
							t.Errorf("patch %s does not delete", a.GetPatch())
						}
						patched = append(patched, types.UID(r["uid"]))
					}
				}
			}
			if !ptr.Equal(deleted, tc.wantDelete) {
				t.Errorf("deleted with %v, want %v", ptr.Deref(deleted, "no deletion"), ptr.Deref(tc.wantDelete, "no deletion"))
			}
			if !slices.Equal(patched, tc.wantPatchUIDs) {
				t.Errorf("removed references %v, want %v", patched, tc.wantPatchUIDs)
			}
		})
	}
}

func TestAttemptToDeleteItemAbsent(t *testing.T) {
	gc, _ := testController(t)
	err := gc.attemptToDeleteItem(t.Context(), nodeFor(configMap("gone", "gone-uid")))
	if err != errEnqueuedVirtualDelete {
		t.Fatalf("err = %v, want %v", err, errEnqueuedVirtualDelete)
	}
	e, _ := gc.graph.graphChanges.Get()
	if !e.virtual || e.eventType != deleteEvent {
		t.Fatalf("queued %+v, want a virtual delete", e)
	}
}

func TestNamespacedOwnerOfClusterScopedObject(t *testing.T) {
	gc, _ := testController(t)
	n := newNode(objectReference{OwnerReference: metav1.OwnerReference{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: "cr", UID: "cr-uid"}})
	_, _, err := gc.isDangling(t.Context(), cmRef("cm", "cm-uid"), n)
	if err != errNamespacedOwnerOfClusterScopedObject {
		t.Fatalf("err = %v, want %v", err, errNamespacedOwnerOfClusterScopedObject)
	}
}

// TestGraphChanges follows the graph through events: a dependent seen
// before its owner makes a virtual owner, observing the owner makes it
// real, an owner entering deletion with a finalizer starts orphaning or
// foreground deletion, and an owner's deletion queues its dependents.
func TestGraphChanges(t *testing.T) {
	gc, _ := testController(t)
	gb := gc.graph
	process := func(e *event) {
		t.Helper()
		e.gvk = configMapGVK
		gb.graphChanges.Add(e)
		if !gb.processGraphChanges(klogDiscard()) {
			t.Fatal("graph changes queue shut down")
		}
	}
	drain := func() []string {
		var names []string
		for gb.attemptToDelete.Len() > 0 {
			n, _ := gb.attemptToDelete.Get()
			names = append(names, n.identity.Name)
			gb.attemptToDelete.Done(n)
			gb.attemptToDelete.Forget(n)
		}
		slices.Sort(names)
		return names
	}

	dep := configMap("dep", "dep-uid", metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: "owner-uid", BlockOwnerDeletion: ptr.To(true)})
	process(&event{eventType: addEvent, obj: dep})
	owner, ok := gb.uidToNode.Read("owner-uid")
	if !ok || owner.isObserved() {
		t.Fatalf("owner node %v (found %v), want a virtual node", owner, ok)
	}
	if got := drain(); !slices.Equal(got, []string{"owner"}) {
		t.Fatalf("queued %v, want the virtual owner", got)
	}

	ownerObj := configMap("owner", "owner-uid")
	process(&event{eventType: addEvent, obj: ownerObj})
	if !owner.isObserved() {
		t.Fatal("owner still virtual after it was observed")
	}
	if got := owner.blockingDependents(); len(got) != 1 || got[0].identity.Name != "dep" {
		t.Fatalf("blocking dependents %v, want dep", got)
	}

	now := metav1.NewTime(time.Now())
	foreground := ownerObj.DeepCopy()
	foreground.DeletionTimestamp = &now
	foreground.Finalizers = []string{metav1.FinalizerDeleteDependents}
	process(&event{eventType: updateEvent, obj: foreground, oldObj: ownerObj})
	if !owner.isDeletingDependents() {
		t.Fatal("owner not marked deleting dependents")
	}
	if got := drain(); !slices.Equal(got, []string{"dep", "owner"}) {
		t.Fatalf("queued %v, want dep and owner", got)
	}

	// The dependent stops blocking: the owner may finish.
	unblocked := dep.DeepCopy()
	unblocked.OwnerReferences[0].BlockOwnerDeletion = ptr.To(false)
	process(&event{eventType: updateEvent, obj: unblocked, oldObj: dep})
	if got := drain(); !slices.Equal(got, []string{"owner"}) {
		t.Fatalf("queued %v, want the unblocked owner", got)
	}

	other := configMap("other", "other-uid")
	process(&event{eventType: addEvent, obj: other})
	orphaning := other.DeepCopy()
	orphaning.DeletionTimestamp = &now
	orphaning.Finalizers = []string{metav1.FinalizerOrphanDependents}
	process(&event{eventType: updateEvent, obj: orphaning, oldObj: other})
	if gb.attemptToOrphan.Len() != 1 {
		t.Fatalf("attemptToOrphan has %d items, want the orphaning owner", gb.attemptToOrphan.Len())
	}

	process(&event{eventType: deleteEvent, obj: foreground})
	if _, ok := gb.uidToNode.Read("owner-uid"); ok {
		t.Fatal("deleted owner still in the graph")
	}
	if got := drain(); !slices.Equal(got, []string{"dep"}) {
		t.Fatalf("queued %v, want the deleted owner's dependent", got)
	}
	if !gb.absentOwnerCache.Has(objectReference{OwnerReference: cmRef("owner", "owner-uid"), Namespace: "ns"}) {
		t.Fatal("deleted owner not remembered as absent")
	}
}

func TestReferencesDiffs(t *testing.T) {
	a, b, c := cmRef("a", "a"), cmRef("b", "b"), cmRef("c", "c")
	bBlocking := b
	bBlocking.BlockOwnerDeletion = ptr.To(true)
	added, removed, changed := referencesDiffs([]metav1.OwnerReference{a, b}, []metav1.OwnerReference{bBlocking, c})
	if len(added) != 1 || added[0].UID != "c" {
		t.Errorf("added %v, want c", added)
	}
	if len(removed) != 1 || removed[0].UID != "a" {
		t.Errorf("removed %v, want a", removed)
	}
	if len(changed) != 1 || changed[0].newRef.BlockOwnerDeletion == nil {
		t.Errorf("changed %v, want b", changed)
	}
}

func TestAlternateOwnerIdentity(t *testing.T) {
	dep := func(ns string, ref metav1.OwnerReference) *node {
		n := newNode(objectReference{OwnerReference: metav1.OwnerReference{Name: "d", UID: types.UID("d-" + ns)}, Namespace: ns})
		n.owners = []metav1.OwnerReference{ref}
		return n
	}
	asConfigMap := cmRef("x", "x-uid")
	asSecret := metav1.OwnerReference{APIVersion: "v1", Kind: "Secret", Name: "x", UID: "x-uid"}
	absent := objectReference{OwnerReference: asConfigMap, Namespace: "a"}
	tests := []struct {
		name string
		deps []*node
		want *objectReference
	}{
		{"same identity elsewhere", []*node{dep("a", asConfigMap), dep("b", asConfigMap)}, &objectReference{OwnerReference: asConfigMap, Namespace: "b"}},
		{"another kind", []*node{dep("a", asSecret)}, &objectReference{OwnerReference: asSecret, Namespace: "a"}},
		{"nothing else", []*node{dep("a", asConfigMap)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := getAlternateOwnerIdentity(tc.deps, absent)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func klogDiscard() klog.Logger { return klog.Background().V(10) }

// TestSyncMonitors: monitors follow the discovered resources, a resource
// that disappears (a deleted CRD) has its informer stopped, and ignored
// resources are never watched.
func TestSyncMonitors(t *testing.T) {
	gc, _ := testController(t)
	gb := gc.graph
	gb.runCtx = t.Context()
	configMaps := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	clusterRoles := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	events := schema.GroupVersionResource{Version: "v1", Resource: "events"}

	if err := gb.syncMonitors(map[schema.GroupVersionResource]struct{}{configMaps: {}, clusterRoles: {}, events: {}}); err != nil {
		t.Fatal(err)
	}
	gb.startMonitors()
	if len(gb.monitors) != 2 || gb.monitors[events] != nil {
		t.Fatalf("monitors %v, want configmaps and clusterroles", slices.Collect(maps.Keys(gb.monitors)))
	}
	removed := gb.monitors[clusterRoles].informer
	kept := gb.monitors[configMaps]

	if err := gb.syncMonitors(map[schema.GroupVersionResource]struct{}{configMaps: {}}); err != nil {
		t.Fatal(err)
	}
	if len(gb.monitors) != 1 || gb.monitors[configMaps] != kept {
		t.Fatalf("monitors %v, want the same configmaps monitor only", slices.Collect(maps.Keys(gb.monitors)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for !removed.IsStopped() {
		if time.Now().After(deadline) {
			t.Fatal("the removed resource's informer still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if kept.informer.IsStopped() {
		t.Fatal("the kept resource's informer stopped")
	}

	unknown := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	if err := gb.syncMonitors(map[schema.GroupVersionResource]struct{}{configMaps: {}, unknown: {}}); err == nil {
		t.Fatal("no error for a resource the mapper does not know")
	}
}
