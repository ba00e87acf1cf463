package scheduler

import (
	"container/heap"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Upstream's queue defaults (kube-scheduler podInitialBackoffSeconds,
// podMaxBackoffSeconds, podMaxInUnschedulablePodsDuration).
const (
	initialBackoff        = 1 * time.Second
	maxBackoff            = 10 * time.Second
	maxInUnschedulable    = 5 * time.Minute
	queueFlushInterval    = 1 * time.Second
	unschedulableInterval = 30 * time.Second
)

// queuedPod is a pending pod with its scheduling history.
type queuedPod struct {
	pod       *v1.Pod
	key       string
	timestamp time.Time
	attempts  int
	// cycle is the scheduling cycle that last popped it.
	cycle int64
	// lastFailure is when it was last found unschedulable.
	lastFailure time.Time
	// podEvents says its last failure involved other pods (inter-pod
	// affinity or topology spread), so a pod being placed may help it.
	podEvents bool
	index     int
}

// activeHeap orders by priority, then by arrival, as PrioritySort does.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	pi, pj := corev1helpers.PodPriority(h[i].pod), corev1helpers.PodPriority(h[j].pod)
	return pi > pj || (pi == pj && h[i].timestamp.Before(h[j].timestamp))
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	q := x.(*queuedPod)
	q.index = len(*h)
	*h = append(*h, q)
}
func (h *activeHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	*h = old[:len(old)-1]
	q.index = -1
	return q
}

// queue is the scheduling queue: an active heap, pods backing off after a
// failure, and unschedulable pods that wait for a cluster event.
type queue struct {
	mu            sync.Mutex
	cond          *sync.Cond
	active        activeHeap
	activeKeys    map[string]*queuedPod
	backoff       map[string]*queuedPod
	unschedulable map[string]*queuedPod
	// inFlight are popped pods not yet done.
	inFlight map[string]*queuedPod
	cycle    int64
	// moveCycle is the cycle of the last cluster event that may make
	// pods schedulable; a pod failing in a cycle before it raced that event
	// and goes to backoff instead of waiting.
	moveCycle int64
	closed    bool
	now       func() time.Time
}

func newQueue() *queue {
	q := &queue{
		activeKeys:    map[string]*queuedPod{},
		backoff:       map[string]*queuedPod{},
		unschedulable: map[string]*queuedPod{},
		inFlight:      map[string]*queuedPod{},
		now:           time.Now,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func podKey(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// add queues a new or changed pending pod.
func (q *queue) add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.activeKeys[key]; ok {
		qp.pod = pod
		heap.Fix(&q.active, qp.index)
		return
	}
	if qp, ok := q.inFlight[key]; ok {
		qp.pod = pod
		return
	}
	if qp, ok := q.backoff[key]; ok {
		qp.pod = pod
		return
	}
	if qp, ok := q.unschedulable[key]; ok {
		// An update may make it schedulable: retry once its backoff ends.
		delete(q.unschedulable, key)
		qp.pod = pod
		q.requeueLocked(qp)
		return
	}
	q.pushActiveLocked(&queuedPod{pod: pod, key: key, timestamp: q.now()})
}

func (q *queue) pushActiveLocked(qp *queuedPod) {
	q.activeKeys[qp.key] = qp
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// requeueLocked sends qp to backoff, or straight to active once its
// backoff has passed.
func (q *queue) requeueLocked(qp *queuedPod) {
	if q.now().Before(q.backoffExpiry(qp)) {
		q.backoff[qp.key] = qp
		return
	}
	q.pushActiveLocked(qp)
}

func (q *queue) backoffExpiry(qp *queuedPod) time.Time {
	d := initialBackoff
	for i := 1; i < qp.attempts; i++ {
		d *= 2
		if d >= maxBackoff {
			d = maxBackoff
			break
		}
	}
	return qp.lastFailure.Add(d)
}

func (q *queue) remove(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.activeKeys[key]; ok {
		heap.Remove(&q.active, qp.index)
		delete(q.activeKeys, key)
	}
	delete(q.backoff, key)
	delete(q.unschedulable, key)
	if qp, ok := q.inFlight[key]; ok {
		qp.pod = nil
	}
}

// pop blocks for the next pod; nil once the queue is closed.
func (q *queue) pop() *queuedPod {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.active) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	delete(q.activeKeys, qp.key)
	q.cycle++
	qp.cycle = q.cycle
	qp.attempts++
	q.inFlight[qp.key] = qp
	return qp
}

// done ends a pod's cycle after it was bound (or assumed).
func (q *queue) done(qp *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, qp.key)
}

// failed parks a pod that could not be scheduled. A pod that raced a
// cluster event, or failed on an error, backs off; others wait for an
// event.
func (q *queue) failed(qp *queuedPod, backoffOnly bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, qp.key)
	if qp.pod == nil {
		return // deleted while in flight
	}
	qp.lastFailure = q.now()
	if backoffOnly || q.moveCycle >= qp.cycle {
		q.backoff[qp.key] = qp
		return
	}
	q.unschedulable[qp.key] = qp
}

// moveAll is a cluster event that may make unschedulable pods fit.
func (q *queue) moveAll() { q.move(func(*queuedPod) bool { return true }) }

// move requeues the unschedulable pods the event may help, as upstream's
// queueing hints do.
func (q *queue) move(helps func(*queuedPod) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for key, qp := range q.unschedulable {
		if helps(qp) {
			delete(q.unschedulable, key)
			q.requeueLocked(qp)
		}
	}
	q.moveCycle = q.cycle
}

// flush moves pods whose backoff ended to active, and pods unschedulable
// for too long to backoff, as upstream's periodic flushes do.
func (q *queue) flush() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for key, qp := range q.backoff {
		if !now.Before(q.backoffExpiry(qp)) {
			delete(q.backoff, key)
			q.pushActiveLocked(qp)
		}
	}
	for key, qp := range q.unschedulable {
		if now.Sub(qp.lastFailure) > maxInUnschedulable {
			delete(q.unschedulable, key)
			q.requeueLocked(qp)
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// updateObject refreshes a queued pod's object without moving it.
func (q *queue) updateObject(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	for _, m := range []map[string]*queuedPod{q.activeKeys, q.backoff, q.unschedulable, q.inFlight} {
		if qp, ok := m[key]; ok {
			qp.pod = pod
			return
		}
	}
}
