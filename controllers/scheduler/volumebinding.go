package scheduler

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/component-helpers/storage/ephemeral"
	storagehelpers "k8s.io/component-helpers/storage/volume"
)

// VolumeBinding's filter reasons, word for word upstream's.
const (
	reasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
	reasonVolumeNodeConflict = "node(s) didn't match PersistentVolume's node affinity"
	reasonVolumePVNotExist   = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	reasonUnboundImmediate   = "pod has unbound immediate PersistentVolumeClaims"
)

// volumeBindTimeout is VolumeBindingArgs.BindTimeoutSeconds' default.
const volumeBindTimeout = 600 * time.Second

// volumeBinder is the VolumeBinding plugin: claims of a pod decide which
// nodes fit, and before the pod is bound its unbound claims are bound
// (static volumes) or handed to provisioning (selected-node) on the
// chosen node.
type volumeBinder struct {
	client  kubernetes.Interface
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	nodes   corelisters.NodeLister
	pods    corelisters.PodLister
	// bindTimeout bounds the wait for claims to become bound.
	bindTimeout time.Duration

	mu sync.Mutex
	// assumed are volumes pre-bound by pods in their binding cycle, by
	// the claim they are for, so that no other claim picks them before
	// the informer shows the binding.
	assumed map[string]string
}

// podVolumeClaims is PreFilter's result for a pod with claims.
type podVolumeClaims struct {
	binder *volumeBinder
	bound  []*v1.PersistentVolumeClaim
	// delayed are unbound WaitForFirstConsumer claims.
	delayed []*v1.PersistentVolumeClaim
	// candidates are the volumes of each class of the delayed claims.
	candidates map[string][]*v1.PersistentVolume

	mu     sync.Mutex
	byNode map[string]*podVolumes
}

// podVolumes is what a node needs done before the pod may run there.
type podVolumes struct {
	static    []staticBinding
	provision []*v1.PersistentVolumeClaim
}

type staticBinding struct {
	pv  *v1.PersistentVolume
	pvc *v1.PersistentVolumeClaim
}

func (p *podVolumes) empty() bool { return p == nil || len(p.static) == 0 && len(p.provision) == 0 }

// preFilter reads the pod's claims. A message means the pod fits no node
// (UnschedulableAndUnresolvable); nil claims mean it has none.
func (b *volumeBinder) preFilter(pod *v1.Pod) (*podVolumeClaims, string, error) {
	pvcs := &podVolumeClaims{binder: b, byNode: map[string]*podVolumes{}, candidates: map[string][]*v1.PersistentVolume{}}
	has := false
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		var name string
		isEphemeral := false
		switch {
		case vol.PersistentVolumeClaim != nil:
			name = vol.PersistentVolumeClaim.ClaimName
		case vol.Ephemeral != nil:
			name, isEphemeral = ephemeral.VolumeClaimName(pod, vol), true
		default:
			continue
		}
		has = true
		pvc, err := b.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if err != nil {
			if isEphemeral && apierrors.IsNotFound(err) {
				return nil, fmt.Sprintf("waiting for ephemeral volume controller to create the persistentvolumeclaim %q", name), nil
			}
			return nil, err.Error(), nil
		}
		if pvc.Status.Phase == v1.ClaimLost {
			return nil, fmt.Sprintf("persistentvolumeclaim %q bound to non-existent persistentvolume %q", pvc.Name, pvc.Spec.VolumeName), nil
		}
		if pvc.DeletionTimestamp != nil {
			return nil, fmt.Sprintf("persistentvolumeclaim %q is being deleted", pvc.Name), nil
		}
		if isEphemeral {
			if err := ephemeral.VolumeIsForPod(pod, pvc); err != nil {
				return nil, err.Error(), nil
			}
		}
		if fullyBound(pvc) {
			pvcs.bound = append(pvcs.bound, pvc)
			continue
		}
		delay, err := storagehelpers.IsDelayBindingMode(pvc, b.classes)
		if err != nil {
			return nil, "", err
		}
		if !delay || pvc.Spec.VolumeName != "" {
			// Immediate claims are the binder's to bind first.
			return nil, reasonUnboundImmediate, nil
		}
		pvcs.delayed = append(pvcs.delayed, pvc)
	}
	if !has {
		return nil, "", nil
	}
	for _, pvc := range pvcs.delayed {
		class := storagehelpers.GetPersistentVolumeClaimClass(pvc)
		if _, ok := pvcs.candidates[class]; ok {
			continue
		}
		all, err := b.volumes.List(labels.Everything())
		if err != nil {
			return nil, "", err
		}
		var list []*v1.PersistentVolume
		for _, pv := range all {
			if storagehelpers.GetPersistentVolumeClass(pv) == class {
				list = append(list, pv)
			}
		}
		pvcs.candidates[class] = list
	}
	return pvcs, "", nil
}

func fullyBound(pvc *v1.PersistentVolumeClaim) bool {
	return pvc.Spec.VolumeName != "" && metav1.HasAnnotation(pvc.ObjectMeta, storagehelpers.AnnBindCompleted)
}

// filter is VolumeBinding's Filter for one node.
func (b *volumeBinder) filter(pvcs *podVolumeClaims, node *v1.Node) *status {
	var reasons []string
	boundOK, pvsFound := true, true
	for _, pvc := range pvcs.bound {
		pv, err := b.volumes.Get(pvc.Spec.VolumeName)
		if err != nil {
			pvsFound = false
			break
		}
		if storagehelpers.CheckNodeAffinity(pv, node.Labels) != nil {
			boundOK = false
			break
		}
	}
	result := &podVolumes{}
	unboundOK := true
	if boundOK && pvsFound && len(pvcs.delayed) > 0 {
		unboundOK = b.findVolumes(pvcs, node, result)
	}
	if !boundOK {
		reasons = append(reasons, reasonVolumeNodeConflict)
	}
	if !unboundOK {
		reasons = append(reasons, reasonVolumeBindConflict)
	}
	if !pvsFound {
		reasons = append(reasons, reasonVolumePVNotExist)
	}
	if len(reasons) > 0 {
		return fail(unresolvable, reasons...)
	}
	pvcs.mu.Lock()
	pvcs.byNode[node.Name] = result
	pvcs.mu.Unlock()
	return nil
}

// findVolumes matches the delayed claims on node with static volumes,
// smallest claims first, and the rest with provisioning.
func (b *volumeBinder) findVolumes(pvcs *podVolumeClaims, node *v1.Node, out *podVolumes) bool {
	var toMatch, toProvision []*v1.PersistentVolumeClaim
	for _, pvc := range pvcs.delayed {
		if selected, ok := pvc.Annotations[storagehelpers.AnnSelectedNode]; ok {
			if selected != node.Name {
				return false
			}
			toProvision = append(toProvision, pvc)
			continue
		}
		toMatch = append(toMatch, pvc)
	}
	sort.SliceStable(toMatch, func(i, j int) bool {
		a := toMatch[i].Spec.Resources.Requests[v1.ResourceStorage]
		c := toMatch[j].Spec.Resources.Requests[v1.ResourceStorage]
		return a.Cmp(c) < 0
	})
	chosen := map[string]*v1.PersistentVolume{}
	for _, pvc := range toMatch {
		excluded := b.excludedFor(pvc, chosen)
		pv, err := storagehelpers.FindMatchingVolume(pvc, pvcs.candidates[storagehelpers.GetPersistentVolumeClaimClass(pvc)], node, excluded, true, true)
		if err != nil {
			return false
		}
		if pv == nil {
			toProvision = append(toProvision, pvc)
			continue
		}
		chosen[pv.Name] = pv
		out.static = append(out.static, staticBinding{pv: pv, pvc: pvc})
	}
	for _, pvc := range toProvision {
		class, err := b.classes.Get(storagehelpers.GetPersistentVolumeClaimClass(pvc))
		if err != nil || class.Provisioner == "" || class.Provisioner == storagehelpers.NotSupportedProvisioner {
			return false
		}
		if !matchTopology(class.AllowedTopologies, node.Labels) {
			return false
		}
		out.provision = append(out.provision, pvc)
	}
	return true
}

// excludedFor adds to chosen the volumes other pods' binding cycles hold
// for other claims.
func (b *volumeBinder) excludedFor(pvc *v1.PersistentVolumeClaim, chosen map[string]*v1.PersistentVolume) map[string]*v1.PersistentVolume {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.assumed) == 0 {
		return chosen
	}
	out := make(map[string]*v1.PersistentVolume, len(chosen)+len(b.assumed))
	for k, v := range chosen {
		out[k] = v
	}
	for name, claim := range b.assumed {
		if claim != pvc.Namespace+"/"+pvc.Name {
			out[name] = nil
		}
	}
	return out
}

// matchTopology is MatchTopologySelectorTerms: no terms match every node.
func matchTopology(terms []v1.TopologySelectorTerm, nodeLabels map[string]string) bool {
	if len(terms) == 0 {
		return true
	}
	for _, t := range terms {
		ok := true
		for _, r := range t.MatchLabelExpressions {
			v, has := nodeLabels[r.Key]
			found := false
			for _, want := range r.Values {
				if has && v == want {
					found = true
					break
				}
			}
			if !found {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// assume reserves the node's static volumes for the pod's claims until
// its binding cycle ends (release).
func (b *volumeBinder) assume(pv *podVolumes) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range pv.static {
		b.assumed[s.pv.Name] = s.pvc.Namespace + "/" + s.pvc.Name
	}
}

func (b *volumeBinder) release(pv *podVolumes) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range pv.static {
		delete(b.assumed, s.pv.Name)
	}
}

// bindVolumes is PreBind: pre-bind the static volumes, mark the claims to
// provision with the node, then wait until the binder (and provisioner)
// have bound every claim.
func (b *volumeBinder) bindVolumes(ctx context.Context, pod *v1.Pod, node string, pv *podVolumes) error {
	var static []staticBinding
	for _, s := range pv.static {
		clone, dirty, err := storagehelpers.GetBindVolumeToClaim(s.pv, s.pvc)
		if err != nil {
			return err
		}
		updated := s.pv
		if dirty {
			if updated, err = b.client.CoreV1().PersistentVolumes().Update(ctx, clone, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		static = append(static, staticBinding{pv: updated, pvc: s.pvc})
	}
	var provision []*v1.PersistentVolumeClaim
	for _, pvc := range pv.provision {
		updated := pvc
		if pvc.Annotations[storagehelpers.AnnSelectedNode] != node {
			clone := pvc.DeepCopy()
			metav1.SetMetaDataAnnotation(&clone.ObjectMeta, storagehelpers.AnnSelectedNode, node)
			var err error
			if updated, err = b.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).Update(ctx, clone, metav1.UpdateOptions{}); err != nil {
				return err
			}
		}
		provision = append(provision, updated)
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, b.bindTimeout, false, func(context.Context) (bool, error) {
		return b.checkBindings(pod, node, static, provision)
	})
	if err != nil {
		return fmt.Errorf("binding volumes: %w", err)
	}
	return nil
}

// checkBindings tells whether all the claims are bound, or fails when the
// binding was undone (a provisioner that gave up drops selected-node).
func (b *volumeBinder) checkBindings(pod *v1.Pod, nodeName string, static []staticBinding, provision []*v1.PersistentVolumeClaim) (bool, error) {
	node, err := b.nodes.Get(nodeName)
	if err != nil {
		return false, fmt.Errorf("failed to get node %q: %w", nodeName, err)
	}
	if _, err := b.pods.Pods(pod.Namespace).Get(pod.Name); apierrors.IsNotFound(err) {
		return false, fmt.Errorf("pod does not exist any more: %w", err)
	}
	for _, s := range static {
		pv, err := b.volumes.Get(s.pv.Name)
		if err != nil {
			return false, fmt.Errorf("failed to check binding: %w", err)
		}
		pvc, err := b.claims.PersistentVolumeClaims(s.pvc.Namespace).Get(s.pvc.Name)
		if err != nil {
			return false, fmt.Errorf("failed to check binding: %w", err)
		}
		if olderThan(pv.ResourceVersion, s.pv.ResourceVersion) {
			return false, nil
		}
		if err := storagehelpers.CheckNodeAffinity(pv, node.Labels); err != nil {
			return false, fmt.Errorf("pv %q node affinity doesn't match node %q: %w", pv.Name, node.Name, err)
		}
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID == "" {
			return false, fmt.Errorf("ClaimRef got reset for pv %q", pv.Name)
		}
		if !fullyBound(pvc) {
			return false, nil
		}
	}
	for _, claim := range provision {
		pvc, err := b.claims.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		if err != nil {
			return false, fmt.Errorf("failed to check provisioning pvc: %w", err)
		}
		if olderThan(pvc.ResourceVersion, claim.ResourceVersion) {
			return false, nil
		}
		if pvc.Annotations == nil {
			return false, fmt.Errorf("selectedNode annotation reset for PVC %q", pvc.Name)
		}
		if pvc.Annotations[storagehelpers.AnnSelectedNode] != nodeName {
			return false, fmt.Errorf("provisioning failed for PVC %q", pvc.Name)
		}
		if pvc.Spec.VolumeName != "" {
			pv, err := b.volumes.Get(pvc.Spec.VolumeName)
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("failed to get pv %q from cache: %w", pvc.Spec.VolumeName, err)
			}
			if err := storagehelpers.CheckNodeAffinity(pv, node.Labels); err != nil {
				return false, fmt.Errorf("pv %q node affinity doesn't match node %q: %w", pv.Name, node.Name, err)
			}
		}
		if !fullyBound(pvc) {
			return false, nil
		}
	}
	return true, nil
}

// olderThan compares resource versions, which kine keeps numeric.
func olderThan(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

// volumesFor is the node's result from filter, nil when nothing is to do.
func (p *podVolumeClaims) volumesFor(node string) *podVolumes {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.byNode[node]
}

// addVolumeBinding gives the scheduler VolumeBinding, with its informers;
// claim, volume and class changes may make waiting pods fit, as
// upstream's registered events.
func (s *Scheduler) addVolumeBinding(client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	core := factory.Core().V1()
	s.alg.volumes = &volumeBinder{
		client:      client,
		claims:      core.PersistentVolumeClaims().Lister(),
		volumes:     core.PersistentVolumes().Lister(),
		classes:     factory.Storage().V1().StorageClasses().Lister(),
		nodes:       core.Nodes().Lister(),
		pods:        core.Pods().Lister(),
		bindTimeout: volumeBindTimeout,
		assumed:     map[string]string{},
	}
	moveAll := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.queue.moveAll() },
		UpdateFunc: func(any, any) { s.queue.moveAll() },
	}
	for _, inf := range []toolscache.SharedIndexInformer{core.PersistentVolumeClaims().Informer(), core.PersistentVolumes().Informer(),
		factory.Storage().V1().StorageClasses().Informer()} {
		r, err := inf.AddEventHandler(moveAll)
		if err != nil {
			return fmt.Errorf("watching volumes for the scheduler: %w", err)
		}
		s.synced = append(s.synced, r.HasSynced)
	}
	return nil
}

// hasStaticBindings is VolumeBinding's PreScore: scoring only matters
// when some node would bind existing volumes.
func (p *podVolumeClaims) hasStaticBindings() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range p.byNode {
		if len(v.static) > 0 {
			return true
		}
	}
	return false
}

// scoreVolumes is StorageCapacityScoring's default shape (utilization 0
// scores 100, full scores 0) over the node's static bindings, averaged
// over their classes.
func scoreVolumes(v *podVolumes) int64 {
	if v == nil || len(v.static) == 0 {
		return 0
	}
	type usage struct{ requested, capacity int64 }
	classes := map[string]*usage{}
	for _, s := range v.static {
		class := storagehelpers.GetPersistentVolumeClass(s.pv)
		u := classes[class]
		if u == nil {
			u = &usage{}
			classes[class] = u
		}
		req := s.pvc.Spec.Resources.Requests[v1.ResourceStorage]
		capacity := s.pv.Spec.Capacity[v1.ResourceStorage]
		u.requested += req.Value()
		u.capacity += capacity.Value()
	}
	var total int64
	for _, u := range classes {
		utilization := int64(100)
		if u.capacity != 0 && u.requested <= u.capacity {
			utilization = u.requested * 100 / u.capacity
		}
		total += maxNodeScore - utilization*maxNodeScore/100
	}
	return int64(math.Round(float64(total) / float64(len(classes))))
}
