package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Defaults for requests a container leaves unset, used where upstream
// scores with "non-zero" requests so that best-effort pods still spread.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024

	// maxNodeScore is the highest score one plugin gives a node.
	maxNodeScore int64 = 100
)

var nonZeroDefaults = v1.ResourceList{
	v1.ResourceCPU:    *resourceQuantity(defaultMilliCPURequest, true),
	v1.ResourceMemory: *resourceQuantity(defaultMemoryRequest, false),
}

// resources is an amount of schedulable resources in the units the
// scheduler compares: millicores, bytes, counts.
type resources struct {
	milliCPU  int64
	memory    int64
	ephemeral int64
	pods      int64
	scalar    map[v1.ResourceName]int64
}

func resourcesFromList(rl v1.ResourceList) resources {
	var r resources
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.milliCPU = q.MilliValue()
		case v1.ResourceMemory:
			r.memory = q.Value()
		case v1.ResourceEphemeralStorage:
			r.ephemeral = q.Value()
		case v1.ResourcePods:
			r.pods = q.Value()
		default:
			if isScalarResourceName(name) {
				if r.scalar == nil {
					r.scalar = map[v1.ResourceName]int64{}
				}
				r.scalar[name] = q.Value()
			}
		}
	}
	return r
}

// isScalarResourceName is upstream's notion: extended, hugepages,
// prefixed-native and attachable-volume resources.
func isScalarResourceName(name v1.ResourceName) bool {
	s := string(name)
	if len(s) > len(v1.ResourceHugePagesPrefix) && s[:len(v1.ResourceHugePagesPrefix)] == v1.ResourceHugePagesPrefix {
		return true
	}
	if len(s) > len(v1.ResourceAttachableVolumesPrefix) && s[:len(v1.ResourceAttachableVolumesPrefix)] == v1.ResourceAttachableVolumesPrefix {
		return true
	}
	for i := range s {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

func (r *resources) add(o resources, sign int64) {
	r.milliCPU += sign * o.milliCPU
	r.memory += sign * o.memory
	r.ephemeral += sign * o.ephemeral
	for n, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = map[v1.ResourceName]int64{}
		}
		r.scalar[n] += sign * v
	}
}

func (r resources) clone() resources {
	c := r
	if r.scalar != nil {
		c.scalar = make(map[v1.ResourceName]int64, len(r.scalar))
		for k, v := range r.scalar {
			c.scalar[k] = v
		}
	}
	return c
}

// affinityTerm is a pod (anti-)affinity term with its selectors parsed.
type affinityTerm struct {
	namespaces  sets.Set[string]
	nsSelector  labels.Selector
	selector    labels.Selector
	topologyKey string
	weight      int32
}

// matches tells whether pod, in a namespace labelled nsLabels, is selected
// by the term.
func (t *affinityTerm) matches(pod *v1.Pod, nsLabels labels.Set) bool {
	if !t.namespaces.Has(pod.Namespace) && (t.nsSelector == nil || !t.nsSelector.Matches(nsLabels)) {
		return false
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

type hostPort struct {
	ip       string
	protocol v1.Protocol
	port     int32
}

// podInfo is a pod with what the plugins compute from it once.
type podInfo struct {
	pod      *v1.Pod
	requests resources
	nonZero  resources
	ports    []hostPort

	requiredAffinity  []affinityTerm
	requiredAnti      []affinityTerm
	preferredAffinity []affinityTerm
	preferredAnti     []affinityTerm
}

func newPodInfo(pod *v1.Pod) *podInfo {
	pi := &podInfo{pod: pod}
	pi.requests = resourcesFromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	nz := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults, SkipPodLevelResources: true})
	pi.nonZero = resources{milliCPU: nz.Cpu().MilliValue(), memory: nz.Memory().Value()}
	if resourcehelper.IsPodLevelRequestsSet(pod) {
		// Pod-level requests replace the per-container sum, as upstream.
		pi.nonZero.milliCPU = max(pi.requests.milliCPU, 0)
		pi.nonZero.memory = max(pi.requests.memory, 0)
		if pi.nonZero.milliCPU == 0 {
			pi.nonZero.milliCPU = defaultMilliCPURequest
		}
		if pi.nonZero.memory == 0 {
			pi.nonZero.memory = defaultMemoryRequest
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			pi.ports = append(pi.ports, hostPort{ip: ip, protocol: proto, port: p.HostPort})
		}
	}
	if a := pod.Spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			pi.requiredAffinity = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution, 0)
			pi.preferredAffinity = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.requiredAnti = parseTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution, 0)
			pi.preferredAnti = parseWeighted(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	return pi
}

func parseTerms(pod *v1.Pod, terms []v1.PodAffinityTerm, weight int32) []affinityTerm {
	var out []affinityTerm
	for i := range terms {
		if t, ok := parseTerm(pod, &terms[i], weight); ok {
			out = append(out, t)
		}
	}
	return out
}

func parseWeighted(pod *v1.Pod, terms []v1.WeightedPodAffinityTerm) []affinityTerm {
	var out []affinityTerm
	for i := range terms {
		if t, ok := parseTerm(pod, &terms[i].PodAffinityTerm, terms[i].Weight); ok {
			out = append(out, t)
		}
	}
	return out
}

// parseTerm follows upstream: no namespaces and no namespace selector mean
// the pod's own namespace; an invalid selector drops the term.
func parseTerm(pod *v1.Pod, term *v1.PodAffinityTerm, weight int32) (affinityTerm, bool) {
	sel, err := metav1LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return affinityTerm{}, false
	}
	t := affinityTerm{namespaces: sets.New(term.Namespaces...), selector: sel, topologyKey: term.TopologyKey, weight: weight}
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		t.namespaces.Insert(pod.Namespace)
	}
	if term.NamespaceSelector != nil {
		ns, err := metav1LabelSelectorAsSelector(term.NamespaceSelector)
		if err != nil {
			return affinityTerm{}, false
		}
		t.nsSelector = ns
	}
	return t, true
}

func (pi *podInfo) hasAffinity() bool {
	return len(pi.requiredAffinity)+len(pi.requiredAnti)+len(pi.preferredAffinity)+len(pi.preferredAnti) > 0
}

// nodeInfo is a node with the pods the scheduler counts on it.
type nodeInfo struct {
	node        *v1.Node
	pods        []*podInfo
	requested   resources
	nonZero     resources
	allocatable resources
	usedPorts   []hostPort
	// podsWithAffinity and podsWithRequiredAnti let inter-pod affinity
	// skip nodes whose pods have no terms.
	podsWithAffinity     int
	podsWithRequiredAnti int
	generation           int64
}

func newNodeInfo(node *v1.Node) *nodeInfo {
	n := &nodeInfo{}
	n.setNode(node)
	return n
}

func (n *nodeInfo) setNode(node *v1.Node) {
	n.node = node
	if node != nil {
		n.allocatable = resourcesFromList(node.Status.Allocatable)
	}
}

func (n *nodeInfo) name() string {
	if n.node == nil {
		return ""
	}
	return n.node.Name
}

func (n *nodeInfo) addPod(pi *podInfo) {
	n.pods = append(n.pods, pi)
	n.account(pi, 1)
}

func (n *nodeInfo) removePod(uid string) bool {
	for i, p := range n.pods {
		if string(p.pod.UID) == uid {
			n.pods[i] = n.pods[len(n.pods)-1]
			n.pods = n.pods[:len(n.pods)-1]
			n.account(p, -1)
			return true
		}
	}
	return false
}

func (n *nodeInfo) account(pi *podInfo, sign int64) {
	n.requested.add(pi.requests, sign)
	n.nonZero.add(pi.nonZero, sign)
	if pi.hasAffinity() {
		n.podsWithAffinity += int(sign)
	}
	if len(pi.requiredAnti) > 0 {
		n.podsWithRequiredAnti += int(sign)
	}
	if sign > 0 {
		n.usedPorts = append(n.usedPorts, pi.ports...)
		return
	}
	for _, p := range pi.ports {
		for i, u := range n.usedPorts {
			if u == p {
				n.usedPorts = append(n.usedPorts[:i:i], n.usedPorts[i+1:]...)
				break
			}
		}
	}
}

func (n *nodeInfo) clone() *nodeInfo {
	c := *n
	c.pods = append([]*podInfo(nil), n.pods...)
	c.usedPorts = append([]hostPort(nil), n.usedPorts...)
	c.requested = n.requested.clone()
	c.nonZero = n.nonZero.clone()
	return &c
}

// portsConflict follows upstream's HostPortInfo: 0.0.0.0 conflicts with
// every address on the same protocol and port.
func portsConflict(used []hostPort, want []hostPort) bool {
	for _, w := range want {
		for _, u := range used {
			if u.port == w.port && u.protocol == w.protocol && (u.ip == w.ip || u.ip == "0.0.0.0" || w.ip == "0.0.0.0") {
				return true
			}
		}
	}
	return false
}
