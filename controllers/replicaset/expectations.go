package replicaset

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// expectationsTimeout is how long a controller waits for the watch events
// of its own creates and deletes before it syncs regardless, as upstream's
// ExpectationsTimeout: a lost event must not stall a ReplicaSet forever.
const expectationsTimeout = 5 * time.Minute

// expectations records, per controller key, how many pod creations and
// which pod deletions the controller still waits to see in its cache. A
// key whose expectations are not met is not managed again, so a cache that
// lags behind the controller's own writes never makes it create or delete
// twice. Deletions are tracked by pod key so that a graceful deletion seen
// first as an update and then as a delete is counted once.
type expectations struct {
	mu      sync.Mutex
	entries map[string]*expectation
	now     func() time.Time
}

type expectation struct {
	add       int
	del       int
	deleting  sets.Set[string]
	timestamp time.Time
}

func newExpectations() *expectations {
	return &expectations{entries: map[string]*expectation{}, now: time.Now}
}

// satisfied reports whether key may be synced: it has no expectations, they
// are fulfilled, or they expired.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.entries[key]
	if !ok {
		return true
	}
	return (x.add <= 0 && x.del <= 0) || e.now().Sub(x.timestamp) > expectationsTimeout
}

// expectCreations replaces key's expectations with adds creations.
func (e *expectations) expectCreations(key string, adds int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entries[key] = &expectation{add: adds, timestamp: e.now()}
}

// expectDeletions replaces key's expectations with the deletion of podKeys.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entries[key] = &expectation{del: len(podKeys), deleting: sets.New(podKeys...), timestamp: e.now()}
}

func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.entries[key]; ok {
		x.add--
	}
}

// deletionObserved counts podKey's deletion once, if key waits for it.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.entries[key]; ok && x.deleting.Has(podKey) {
		x.deleting.Delete(podKey)
		x.del--
	}
}

func (e *expectations) delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.entries, key)
}
