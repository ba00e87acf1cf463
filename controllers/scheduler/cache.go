package scheduler

import (
	"slices"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cache is the scheduler's view of nodes and the pods placed on them,
// including pods it has assumed onto a node before the binding shows up in
// the informer: that is what keeps two cycles from booking the same room.
type cache struct {
	mu         sync.Mutex
	nodes      map[string]*nodeInfo
	pods       map[types.UID]*cachedPod
	generation int64
	// nodeSetChanged says the snapshot must rebuild its node list.
	nodeSetChanged bool
}

type cachedPod struct {
	info    *podInfo
	node    string
	assumed bool
}

func newCache() *cache {
	return &cache{nodes: map[string]*nodeInfo{}, pods: map[types.UID]*cachedPod{}}
}

func (c *cache) nodeLocked(name string) *nodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		// A pod may arrive before its node; keep it on a placeholder.
		n = &nodeInfo{}
		c.nodes[name] = n
	}
	c.generation++
	n.generation = c.generation
	return n
}

func (c *cache) upsertNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeLocked(node.Name)
	if n.node == nil {
		c.nodeSetChanged = true
	}
	n.setNode(node)
}

func (c *cache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	c.nodeSetChanged = true
	if len(n.pods) == 0 {
		delete(c.nodes, name)
		return
	}
	n = c.nodeLocked(name)
	n.node = nil
}

// assume books pod (with NodeName set) on its node until the informer
// confirms or the binding fails.
func (c *cache) assume(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pi := newPodInfo(pod)
	c.pods[pod.UID] = &cachedPod{info: pi, node: pod.Spec.NodeName, assumed: true}
	c.nodeLocked(pod.Spec.NodeName).addPod(pi)
}

// forget drops an assumed pod whose binding failed.
func (c *cache) forget(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[pod.UID]
	if !ok || !cp.assumed {
		return
	}
	c.removeLocked(pod.UID, cp)
}

func (c *cache) removeLocked(uid types.UID, cp *cachedPod) {
	delete(c.pods, uid)
	n := c.nodeLocked(cp.node)
	n.removePod(string(uid))
	if n.node == nil && len(n.pods) == 0 {
		delete(c.nodes, cp.node)
	}
}

// upsertPod records an assigned pod seen by the informer; it replaces an
// assumed copy.
func (c *cache) upsertPod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[pod.UID]; ok {
		c.removeLocked(pod.UID, cp)
	}
	pi := newPodInfo(pod)
	c.pods[pod.UID] = &cachedPod{info: pi, node: pod.Spec.NodeName}
	c.nodeLocked(pod.Spec.NodeName).addPod(pi)
}

func (c *cache) removePod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[pod.UID]; ok {
		c.removeLocked(pod.UID, cp)
	}
}

func (c *cache) isAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[uid]
	return ok && cp.assumed
}

// snapshot is an immutable per-cycle copy of the cache's nodes.
type snapshot struct {
	byName     map[string]*nodeInfo
	list       []*nodeInfo
	generation int64
}

func newSnapshot() *snapshot { return &snapshot{byName: map[string]*nodeInfo{}} }

// update brings s up to date, copying only nodes changed since its last
// update, so a cycle on 1,000 nodes does not copy all of them.
func (c *cache) update(s *snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, n := range c.nodes {
		if n.generation <= s.generation {
			continue
		}
		if n.node == nil {
			delete(s.byName, name)
			continue
		}
		if old, ok := s.byName[name]; ok {
			*old = *n.clone()
		} else {
			s.byName[name] = n.clone()
		}
	}
	for name := range s.byName {
		if n, ok := c.nodes[name]; !ok || n.node == nil {
			delete(s.byName, name)
			c.nodeSetChanged = true
		}
	}
	if c.nodeSetChanged || len(s.list) != len(s.byName) {
		s.list = s.list[:0]
		for _, n := range s.byName {
			s.list = append(s.list, n)
		}
		slices.SortFunc(s.list, func(a, b *nodeInfo) int {
			if a.node.Name < b.node.Name {
				return -1
			}
			return 1
		})
		c.nodeSetChanged = false
	}
	s.generation = c.generation
}
