package garbagecollector

import (
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
)

// objectReference identifies an object of the graph: the coordinates an
// owner reference carries plus the namespace the object lives in ("" for
// cluster-scoped objects).
type objectReference struct {
	metav1.OwnerReference
	Namespace string
}

func (r objectReference) String() string {
	return fmt.Sprintf("[%s/%s, namespace: %s, name: %s, uid: %s]", r.APIVersion, r.Kind, r.Namespace, r.Name, r.UID)
}

// node is one object of the dependency graph. A virtual node stands for an
// owner that some dependent refers to but that no informer has reported
// (yet); the attemptToDelete queue checks whether it exists.
type node struct {
	identity objectReference

	mu                 sync.RWMutex
	dependents         map[*node]struct{}
	deletingDependents bool
	beingDeleted       bool
	virtual            bool
	owners             []metav1.OwnerReference
}

func newNode(identity objectReference) *node {
	return &node{identity: identity, dependents: map[*node]struct{}{}}
}

// clone copies n under a new pointer, so that a node whose identity
// changes is a different queue item than the one already queued.
func (n *node) clone() *node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c := &node{
		identity:           n.identity,
		dependents:         make(map[*node]struct{}, len(n.dependents)),
		deletingDependents: n.deletingDependents,
		beingDeleted:       n.beingDeleted,
		virtual:            n.virtual,
		owners:             append([]metav1.OwnerReference(nil), n.owners...),
	}
	for d := range n.dependents {
		c.dependents[d] = struct{}{}
	}
	return c
}

func (n *node) markBeingDeleted() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.beingDeleted = true
}

func (n *node) isBeingDeleted() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.beingDeleted
}

func (n *node) markObserved() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.virtual = false
}

func (n *node) isObserved() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return !n.virtual
}

func (n *node) markDeletingDependents() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.deletingDependents = true
}

func (n *node) isDeletingDependents() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.deletingDependents
}

func (n *node) setOwners(owners []metav1.OwnerReference) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.owners = owners
}

func (n *node) getOwners() []metav1.OwnerReference {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.owners
}

func (n *node) addDependent(d *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dependents[d] = struct{}{}
}

func (n *node) deleteDependent(d *node) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.dependents, d)
}

func (n *node) dependentsLength() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.dependents)
}

func (n *node) getDependents() []*node {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*node, 0, len(n.dependents))
	for d := range n.dependents {
		out = append(out, d)
	}
	return out
}

// blockingDependents are the dependents whose reference to n has
// blockOwnerDeletion: a foreground deletion of n waits for them.
func (n *node) blockingDependents() []*node {
	var out []*node
	for _, d := range n.getDependents() {
		for _, ref := range d.getOwners() {
			if ref.UID == n.identity.UID && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
				out = append(out, d)
			}
		}
	}
	return out
}

func (n *node) String() string { return n.identity.String() }

// ownerReferenceCoordinates drops what an owner reference says about the
// relation (controller, blockOwnerDeletion) and keeps what names the owner.
func ownerReferenceCoordinates(ref metav1.OwnerReference) metav1.OwnerReference {
	return metav1.OwnerReference{UID: ref.UID, Name: ref.Name, Kind: ref.Kind, APIVersion: ref.APIVersion}
}

func ownerReferenceMatchesCoordinates(a, b metav1.OwnerReference) bool {
	return a.UID == b.UID && a.Name == b.Name && a.Kind == b.Kind && a.APIVersion == b.APIVersion
}

// uidToNode is the graph's index; only the graph builder writes it, the
// workers read it.
type uidToNode struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
}

func (m *uidToNode) Write(n *node) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[n.identity.UID] = n
}

func (m *uidToNode) Read(uid types.UID) (*node, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.nodes[uid]
	return n, ok
}

func (m *uidToNode) Delete(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, uid)
}

// referenceCache remembers owners known to be absent, so that many
// dependents of one deleted owner do not each look it up.
type referenceCache struct {
	cache *lru.Cache
}

func newReferenceCache(size int) *referenceCache {
	return &referenceCache{cache: lru.New(size)}
}

func (c *referenceCache) Add(ref objectReference) {
	c.cache.Add(ref, nil)
}

func (c *referenceCache) Has(ref objectReference) bool {
	_, ok := c.cache.Get(ref)
	return ok
}
