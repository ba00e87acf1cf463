package nodelifecycle

import (
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/util/flowcontrol"
)

const (
	// evictionRateLimiterBurst is the burst of a zone's tainting limiter.
	evictionRateLimiterBurst = 1
	// noExecuteTaintingPeriod is how often the zone queues are worked.
	noExecuteTaintingPeriod = 100 * time.Millisecond
)

// zoneQueue holds the nodes of one zone waiting for a NoExecute taint,
// taken in order of when they fall due at the pace of the zone's limiter,
// which the zone's disruption state sets. A node is taken once: it comes
// back only after remove, as upstream's RateLimitedTimedQueue.
type zoneQueue struct {
	mu      sync.Mutex
	items   []queuedNode
	members map[string]bool // queued or already taken, until removed

	limiterMu sync.Mutex
	limiter   flowcontrol.RateLimiter
	clock     flowcontrol.Clock
}

type queuedNode struct {
	name      string
	processAt time.Time
}

func newZoneQueue(qps float32, clk flowcontrol.Clock) *zoneQueue {
	return &zoneQueue{members: map[string]bool{}, limiter: newLimiter(qps, clk), clock: clk}
}

func newLimiter(qps float32, clk flowcontrol.Clock) flowcontrol.RateLimiter {
	if qps <= 0 {
		return flowcontrol.NewFakeNeverRateLimiter()
	}
	return flowcontrol.NewTokenBucketRateLimiterWithClock(qps, evictionRateLimiterBurst, clk)
}

// add queues name unless it is queued or was taken and not removed since.
func (q *zoneQueue) add(name string, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.members[name] {
		return false
	}
	q.members[name] = true
	q.insert(queuedNode{name, now})
	return true
}

func (q *zoneQueue) insert(n queuedNode) {
	i, _ := slices.BinarySearchFunc(q.items, n, func(a, b queuedNode) int { return a.processAt.Compare(b.processAt) })
	q.items = slices.Insert(q.items, i, n)
}

// remove forgets name, so that it may be added again.
func (q *zoneQueue) remove(name string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.members[name] {
		return false
	}
	delete(q.members, name)
	q.items = slices.DeleteFunc(q.items, func(n queuedNode) bool { return n.name == name })
	return true
}

func (q *zoneQueue) head() (queuedNode, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return queuedNode{}, false
	}
	return q.items[0], true
}

// done takes n off the queue, keeping it a member; retry puts it back for later.
func (q *zoneQueue) done(n queuedNode, retryAt *time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.IndexFunc(q.items, func(m queuedNode) bool { return m.name == n.name })
	if i < 0 {
		return
	}
	q.items = slices.Delete(q.items, i, i+1)
	if retryAt != nil {
		n.processAt = *retryAt
		q.insert(n)
	}
}

// try works the due nodes while the limiter lets it; fn reports success,
// or failure and how long to wait before the retry.
func (q *zoneQueue) try(fn func(name string) (bool, time.Duration)) {
	q.limiterMu.Lock()
	defer q.limiterMu.Unlock()
	for n, ok := q.head(); ok; n, ok = q.head() {
		if !q.limiter.TryAccept() {
			return
		}
		t := q.clock.Now()
		if t.Before(n.processAt) {
			return
		}
		if ok, wait := fn(n.name); !ok {
			retry := t.Add(wait + 1)
			q.done(n, &retry)
		} else {
			q.done(n, nil)
		}
	}
}

// swapLimiter sets the zone's pace; a limiter that is waiting hands its
// wait on to the new one.
func (q *zoneQueue) swapLimiter(qps float32) {
	q.limiterMu.Lock()
	defer q.limiterMu.Unlock()
	if q.limiter.QPS() == qps {
		return
	}
	l := newLimiter(qps, q.clock)
	if qps > 0 && !q.limiter.TryAccept() {
		l.TryAccept()
	}
	q.limiter.Stop()
	q.limiter = l
}
