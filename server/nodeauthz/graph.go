package nodeauthz

import (
	"fmt"
	"slices"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

type nsName struct{ namespace, name string }

// objectType is a kind of object a node may be related to.
type objectType uint8

const (
	secretType objectType = iota
	configMapType
	pvcType
	pvType
	resourceClaimType
	serviceAccountType
	podType
	attachmentType
	sliceType
	podCertificateRequestType
)

// ref is an object a pod references.
type ref struct {
	typ objectType
	nsName
}

// graph records which objects are related to which node, the relation
// upstream keeps as a graph: node <- pod <- secret, configmap, pvc,
// resourceclaim, serviceaccount; node <- pod <- pvc <- pv <- secret;
// node <- volumeattachment, resourceslice, podcertificaterequest. Here the
// pod edges are counted per node, so that a question is a few map lookups.
type graph struct {
	mu sync.RWMutex
	// pods holds each pod bound to a node with what it references.
	pods map[nsName]podEntry
	// refs counts, for each referenced object, the pods on each node that
	// reference it.
	refs map[ref]map[string]int
	// pvs holds the claim of each bound PV and the secrets the kubelet
	// reads for it; pvSecrets is the reverse index.
	pvs       map[string]pvEntry
	pvSecrets map[nsName]map[string]struct{}
	// nodeOf maps attachments, slices and pod certificate requests to the
	// node they name.
	nodeOf map[ref]string
}

type podEntry struct {
	node string
	refs []ref
}

type pvEntry struct {
	claim   nsName
	secrets []nsName
}

func newGraph() *graph {
	return &graph{
		pods:      map[nsName]podEntry{},
		refs:      map[ref]map[string]int{},
		pvs:       map[string]pvEntry{},
		pvSecrets: map[nsName]map[string]struct{}{},
		nodeOf:    map[ref]string{},
	}
}

// podRefs lists what a pod relates to its node. A mirror pod relates only
// itself: the kubelet made it from a file, so its references grant nothing.
func podRefs(pod *corev1.Pod) []ref {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return nil
	}
	var refs []ref
	add := func(t objectType) func(string) bool {
		return func(name string) bool {
			refs = append(refs, ref{t, nsName{pod.Namespace, name}})
			return true
		}
	}
	if pod.Spec.ServiceAccountName != "" {
		add(serviceAccountType)(pod.Spec.ServiceAccountName)
	}
	VisitPodSecretNames(pod, add(secretType))
	VisitPodConfigMapNames(pod, add(configMapType))
	for _, n := range podClaimNames(pod) {
		if n != "" {
			add(pvcType)(n)
		}
	}
	for _, n := range podResourceClaimNames(pod) {
		add(resourceClaimType)(n)
	}
	return refs
}

func (g *graph) setPod(pod *corev1.Pod) {
	if pod.Spec.NodeName == "" {
		return
	}
	key := nsName{pod.Namespace, pod.Name}
	entry := podEntry{node: pod.Spec.NodeName, refs: podRefs(pod)}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removePodLocked(key)
	g.pods[key] = entry
	for _, r := range entry.refs {
		nodes := g.refs[r]
		if nodes == nil {
			nodes = map[string]int{}
			g.refs[r] = nodes
		}
		nodes[entry.node]++
	}
}

func (g *graph) deletePod(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removePodLocked(nsName{namespace, name})
}

func (g *graph) removePodLocked(key nsName) {
	old, ok := g.pods[key]
	if !ok {
		return
	}
	delete(g.pods, key)
	for _, r := range old.refs {
		nodes := g.refs[r]
		if nodes[old.node]--; nodes[old.node] <= 0 {
			delete(nodes, old.node)
		}
		if len(nodes) == 0 {
			delete(g.refs, r)
		}
	}
}

// setPV records a PV; one not bound to a claim relates to no node.
func (g *graph) setPV(pv *corev1.PersistentVolume) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removePVLocked(pv.Name)
	if pv.Spec.ClaimRef == nil {
		return
	}
	e := pvEntry{claim: nsName{pv.Spec.ClaimRef.Namespace, pv.Spec.ClaimRef.Name}, secrets: pvSecrets(pv)}
	g.pvs[pv.Name] = e
	for _, s := range e.secrets {
		names := g.pvSecrets[s]
		if names == nil {
			names = map[string]struct{}{}
			g.pvSecrets[s] = names
		}
		names[pv.Name] = struct{}{}
	}
}

func (g *graph) deletePV(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removePVLocked(name)
}

func (g *graph) removePVLocked(name string) {
	old, ok := g.pvs[name]
	if !ok {
		return
	}
	delete(g.pvs, name)
	for _, s := range old.secrets {
		delete(g.pvSecrets[s], name)
		if len(g.pvSecrets[s]) == 0 {
			delete(g.pvSecrets, s)
		}
	}
}

// setNode records the node an attachment, slice or pod certificate request
// names; an empty node relates it to none.
func (g *graph) setNode(r ref, node string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if node == "" {
		delete(g.nodeOf, r)
		return
	}
	g.nodeOf[r] = node
}

func (g *graph) deleteNode(r ref) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.nodeOf, r)
}

// related reports whether the object is related to node.
func (g *graph) related(node string, typ objectType, namespace, name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	key := nsName{namespace, name}
	switch typ {
	case podType:
		p, ok := g.pods[key]
		return ok && p.node == node
	case pvType:
		pv, ok := g.pvs[name]
		return ok && g.refs[ref{pvcType, pv.claim}][node] > 0
	case attachmentType, sliceType, podCertificateRequestType:
		n, ok := g.nodeOf[ref{typ, key}]
		return ok && n == node
	case secretType:
		for pv := range g.pvSecrets[key] {
			if g.refs[ref{pvcType, g.pvs[pv].claim}][node] > 0 {
				return true
			}
		}
	}
	return g.refs[ref{typ, key}][node] > 0
}

// sameRefs reports whether an update leaves what a pod relates to its node
// as it was, which spares the graph the status updates kubelets make all
// the time. A pod's spec is immutable but for its node (set once), new
// ephemeral containers, and the claims recorded in its status.
func sameRefs(old, pod *corev1.Pod) bool {
	return pod.Spec.NodeName == old.Spec.NodeName && pod.UID == old.UID &&
		len(pod.Spec.EphemeralContainers) <= len(old.Spec.EphemeralContainers) &&
		slices.EqualFunc(old.Status.ResourceClaimStatuses, pod.Status.ResourceClaimStatuses, func(x, y corev1.PodResourceClaimStatus) bool {
			return x.Name == y.Name && (x.ResourceClaimName == nil) == (y.ResourceClaimName == nil) &&
				(x.ResourceClaimName == nil || *x.ResourceClaimName == *y.ResourceClaimName)
		}) &&
		extendedClaimEqual(old.Status.ExtendedResourceClaimStatus, pod.Status.ExtendedResourceClaimStatus)
}

func extendedClaimEqual(x, y *corev1.PodExtendedResourceClaimStatus) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.ResourceClaimName == y.ResourceClaimName && slices.Equal(x.RequestMappings, y.RequestMappings)
}

// watch keeps the graph current from the informers of f.
func (g *graph) watch(f informers.SharedInformerFactory) error {
	handlers := []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandlerFuncs
	}{
		{f.Core().V1().Pods().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) { g.setPod(obj.(*corev1.Pod)) },
			UpdateFunc: func(old, obj any) {
				if pod := obj.(*corev1.Pod); !sameRefs(old.(*corev1.Pod), pod) {
					g.setPod(pod)
				}
			},
			DeleteFunc: func(obj any) {
				if pod, ok := deleted[*corev1.Pod](obj); ok {
					g.deletePod(pod.Namespace, pod.Name)
				}
			},
		}},
		{f.Core().V1().PersistentVolumes().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { g.setPV(obj.(*corev1.PersistentVolume)) },
			UpdateFunc: func(_, obj any) { g.setPV(obj.(*corev1.PersistentVolume)) },
			DeleteFunc: func(obj any) {
				if pv, ok := deleted[*corev1.PersistentVolume](obj); ok {
					g.deletePV(pv.Name)
				}
			},
		}},
		{f.Storage().V1().VolumeAttachments().Informer(), nodeHandler(g, func(va *storagev1.VolumeAttachment) (ref, string) {
			return ref{attachmentType, nsName{"", va.Name}}, va.Spec.NodeName
		})},
		{f.Resource().V1().ResourceSlices().Informer(), nodeHandler(g, func(s *resourcev1.ResourceSlice) (ref, string) {
			node := ""
			if s.Spec.NodeName != nil {
				node = *s.Spec.NodeName
			}
			return ref{sliceType, nsName{"", s.Name}}, node
		})},
		{f.Certificates().V1().PodCertificateRequests().Informer(), nodeHandler(g, func(r *certificatesv1.PodCertificateRequest) (ref, string) {
			return ref{podCertificateRequestType, nsName{r.Namespace, r.Name}}, string(r.Spec.NodeName)
		})},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.handler); err != nil {
			return err
		}
	}
	return nil
}

// nodeHandler keeps the node an object of type T names.
func nodeHandler[T any](g *graph, key func(T) (ref, string)) cache.ResourceEventHandlerFuncs {
	set := func(obj any) {
		if o, ok := obj.(T); ok {
			g.setNode(key(o))
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, obj any) { set(obj) },
		DeleteFunc: func(obj any) {
			if o, ok := deleted[T](obj); ok {
				r, _ := key(o)
				g.deleteNode(r)
			}
		},
	}
}

// deleted unwraps the object of a delete event, which is a tombstone when
// the informer missed the deletion.
func deleted[T any](obj any) (T, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	o, ok := obj.(T)
	if !ok {
		klog.InfoS("Unexpected object in delete event", "type", fmt.Sprintf("%T", obj))
	}
	return o, ok
}
