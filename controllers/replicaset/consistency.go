package replicaset

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"k8s.io/client-go/tools/cache"
)

// consistency remembers, per ReplicaSet, the resource versions of the
// controller's own latest writes (pods it created or patched, its status),
// and holds a sync back until the informers have caught up with them, as
// upstream's StaleControllerConsistencyReplicaSet (on by default in 1.37):
// a sync on a cache older than the controller's own writes would act on a
// world it already changed.
type consistency struct {
	stores map[string]cache.Store // by resource
	mu     sync.Mutex
	writes map[string]*ownerWrites // by owner key
}

type ownerWrites struct {
	uid      types.UID
	versions map[string]string // by resource
}

func newConsistency(stores map[string]cache.Store) *consistency {
	return &consistency{stores: stores, writes: map[string]*ownerWrites{}}
}

// wroteAt records a write of resource at rv on behalf of the owner.
func (c *consistency) wroteAt(owner string, uid types.UID, resource, rv string) {
	if c == nil || rv == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes[owner]
	if w == nil || w.uid != uid {
		w = &ownerWrites{uid: uid, versions: map[string]string{}}
		c.writes[owner] = w
	}
	if old, ok := w.versions[resource]; ok {
		if cmp, err := resourceversion.CompareResourceVersion(old, rv); err == nil && cmp >= 0 {
			return
		}
	}
	w.versions[resource] = rv
}

// clear forgets the owner's writes; an empty uid matches any.
func (c *consistency) clear(owner string, uid types.UID) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.writes[owner]; w != nil && (uid == "" || w.uid == uid) {
		delete(c.writes, owner)
	}
}

// ensureReady fails while a store has not yet seen one of the owner's
// writes; once all have been seen they are forgotten.
func (c *consistency) ensureReady(owner string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writes[owner]
	if w == nil {
		return nil
	}
	for resource, wrote := range w.versions {
		store := c.stores[resource]
		if store == nil {
			continue
		}
		read := store.LastStoreSyncResourceVersion()
		if read == "" {
			continue
		}
		// A version that does not compare is a data problem: never block on it.
		if cmp, err := resourceversion.CompareResourceVersion(wrote, read); err == nil && cmp > 0 {
			return fmt.Errorf("read version: %s is not as new as written version: %s for group resource %s", read, wrote, resource)
		}
	}
	delete(c.writes, owner)
	return nil
}
