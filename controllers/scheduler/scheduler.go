// Package scheduler is skiff's kube-scheduler: the default profile of
// Kubernetes 1.37 (PrioritySort, NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit with
// LeastAllocated, PodTopologySpread with the system default constraints,
// InterPodAffinity, VolumeBinding, DefaultPreemption,
// NodeResourcesBalancedAllocation, DefaultBinder) over a scheduling queue
// with backoff, and an assumed-pod cache so that a node is never booked
// twice between a binding and the informer seeing it.
package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
)

// SchedulerName is the profile this scheduler serves.
const SchedulerName = v1.DefaultSchedulerName

// Client rate limits of the scheduler's API client.
const (
	ClientQPS   = 1000
	ClientBurst = 2000
)

// Scheduler places pending pods of schedulerName default-scheduler.
// maxBindsInFlight leaves room on one HTTP/2 connection for the
// scheduler's other requests (events, status updates).
const maxBindsInFlight = 64

type Scheduler struct {
	client     kubernetes.Interface
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	services   corelisters.ServiceLister
	rcs        corelisters.ReplicationControllerLister
	rss        appslisters.ReplicaSetLister
	sss        appslisters.StatefulSetLister
	pdbs       policylisters.PodDisruptionBudgetLister
	synced     []toolscache.InformerSynced

	cache *cache
	queue *queue
	// bindSlots bounds the bindings in flight. The server serves 100
	// streams per HTTP/2 connection; beyond that the client opens more
	// connections, and under load their TLS handshakes cost more CPU than
	// the bindings themselves.
	bindSlots chan struct{}
	snap      *snapshot
	alg       *algorithm

	broadcaster events.EventBroadcaster
	recorder    events.EventRecorder

	nomMu     sync.Mutex
	nominated map[string]map[types.UID]*podInfo
	nomNode   map[types.UID]string
}

// NewForConfig builds a Scheduler on its own client from config.
func NewForConfig(config *rest.Config, factory informers.SharedInformerFactory) (*Scheduler, error) {
	config = rest.CopyConfig(config)
	// kube-scheduler's clientConnection defaults (qps 50, burst 100) bound a
	// separate process; in-process over loopback they would cap skiff at
	// about 25 pods/s (a binding and an event each), so they are raised.
	config.QPS, config.Burst = ClientQPS, ClientBurst
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("scheduler client: %w", err)
	}
	return New(client, factory)
}

// New takes its informers from factory, which must be started after.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) (*Scheduler, error) {
	s := &Scheduler{
		client:    client,
		cache:     newCache(),
		queue:     newQueue(),
		bindSlots: make(chan struct{}, maxBindsInFlight),
		snap:      newSnapshot(),
		nominated: map[string]map[types.UID]*podInfo{},
		nomNode:   map[types.UID]string{},
	}
	core := factory.Core().V1()
	s.pods = core.Pods().Lister()
	s.namespaces = core.Namespaces().Lister()
	s.services = core.Services().Lister()
	s.rcs = core.ReplicationControllers().Lister()
	s.rss = factory.Apps().V1().ReplicaSets().Lister()
	s.sss = factory.Apps().V1().StatefulSets().Lister()
	s.pdbs = factory.Policy().V1().PodDisruptionBudgets().Lister()
	s.alg = &algorithm{
		nominator:          s,
		nsLabels:           s.namespaceLabels,
		namespacesMatching: s.namespacesMatching,
		defaultSelector:    s.defaultSelector,
		rand:               rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
	}
	for _, inf := range []toolscache.SharedIndexInformer{core.Namespaces().Informer(), core.Services().Informer(),
		core.ReplicationControllers().Informer(), factory.Apps().V1().ReplicaSets().Informer(),
		factory.Apps().V1().StatefulSets().Informer(), factory.Policy().V1().PodDisruptionBudgets().Informer()} {
		s.synced = append(s.synced, inf.HasSynced)
	}
	nh, err := core.Nodes().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onNodeAdd,
		UpdateFunc: s.onNodeUpdate,
		DeleteFunc: s.onNodeDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes for the scheduler: %w", err)
	}
	ph, err := core.Pods().Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    s.onPodAdd,
		UpdateFunc: s.onPodUpdate,
		DeleteFunc: s.onPodDelete,
	})
	if err != nil {
		return nil, fmt.Errorf("watching pods for the scheduler: %w", err)
	}
	s.synced = append(s.synced, nh.HasSynced, ph.HasSynced)
	if err := s.addVolumeBinding(client, factory); err != nil {
		return nil, err
	}
	s.broadcaster = events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, SchedulerName)
	return s, nil
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting", "controller", "kube-scheduler")
	defer logger.Info("Shutting down", "controller", "kube-scheduler")
	if !toolscache.WaitForNamedCacheSyncWithContext(ctx, s.synced...) {
		return
	}
	s.broadcaster.StartRecordingToSink(ctx.Done())
	defer s.broadcaster.Shutdown()
	go wait.UntilWithContext(ctx, func(context.Context) { s.queue.flush() }, queueFlushInterval)
	go func() {
		<-ctx.Done()
		s.queue.close()
	}()
	for {
		qp := s.queue.pop()
		if qp == nil {
			return
		}
		s.scheduleOne(ctx, qp)
	}
}

// failedOnPods selects pods a newly placed pod may help.
func failedOnPods(qp *queuedPod) bool { return qp.podEvents }

func isTerminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

func responsible(p *v1.Pod) bool { return p.Spec.SchedulerName == SchedulerName }

// ---- event handlers

func (s *Scheduler) onNodeAdd(obj any) {
	if n, ok := obj.(*v1.Node); ok {
		s.cache.upsertNode(n)
		s.queue.moveAll()
	}
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Node)
	n, ok2 := newObj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.upsertNode(n)
	// Only changes that can make a pod fit requeue, as upstream's
	// NodeUpdate event types.
	if old.Spec.Unschedulable != n.Spec.Unschedulable || !equalJSON(old.Labels, n.Labels) ||
		!equalJSON(old.Spec.Taints, n.Spec.Taints) || !equalJSON(old.Status.Allocatable, n.Status.Allocatable) {
		s.queue.moveAll()
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if n, ok := obj.(*v1.Node); ok {
		s.cache.removeNode(n.Name)
	}
}

func (s *Scheduler) onPodAdd(obj any) {
	p, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	switch {
	case p.Spec.NodeName != "":
		if !isTerminal(p) {
			s.cache.upsertPod(p)
			s.queue.move(failedOnPods)
		}
	case responsible(p) && !isTerminal(p) && p.DeletionTimestamp == nil:
		s.updateNomination(p)
		if len(p.Spec.SchedulingGates) == 0 {
			s.queue.add(p)
		}
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Pod)
	p, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if p.Spec.NodeName != "" {
		if old.Spec.NodeName == "" {
			s.queue.remove(p)
			s.removeNomination(p)
			defer s.queue.move(failedOnPods)
		}
		if isTerminal(p) {
			s.cache.removePod(p)
			s.queue.moveAll()
			return
		}
		s.cache.upsertPod(p)
		return
	}
	if !responsible(p) || isTerminal(p) {
		return
	}
	if s.cache.isAssumed(p.UID) {
		return
	}
	s.updateNomination(p)
	// Gated pods wait, as upstream's SchedulingGates PreEnqueue; the API
	// server already set their PodScheduled=False SchedulingGated.
	if p.DeletionTimestamp != nil || len(p.Spec.SchedulingGates) > 0 {
		s.queue.remove(p)
		return
	}
	if old.ResourceVersion == p.ResourceVersion {
		return
	}
	// Status-only writes (our own conditions) do not make a pod
	// schedulable; spec and label changes may.
	if equalJSON(old.Spec, p.Spec) && equalJSON(old.Labels, p.Labels) {
		s.queue.updateObject(p)
		return
	}
	s.queue.add(p)
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	s.removeNomination(p)
	if p.Spec.NodeName != "" {
		s.cache.removePod(p)
		s.queue.moveAll()
		return
	}
	s.queue.remove(p)
}

// ---- nominator

func (s *Scheduler) nominatedPods(node string) []*podInfo {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	m := s.nominated[node]
	if len(m) == 0 {
		return nil
	}
	out := make([]*podInfo, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

func (s *Scheduler) nominate(p *v1.Pod, node string) {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	s.removeNominationLocked(p.UID)
	if node == "" {
		return
	}
	if s.nominated[node] == nil {
		s.nominated[node] = map[types.UID]*podInfo{}
	}
	s.nominated[node][p.UID] = newPodInfo(p)
	s.nomNode[p.UID] = node
}

func (s *Scheduler) updateNomination(p *v1.Pod) {
	s.nomMu.Lock()
	_, known := s.nomNode[p.UID]
	s.nomMu.Unlock()
	if p.Status.NominatedNodeName != "" || known {
		s.nominate(p, p.Status.NominatedNodeName)
	}
}

func (s *Scheduler) removeNomination(p *v1.Pod) {
	s.nomMu.Lock()
	defer s.nomMu.Unlock()
	s.removeNominationLocked(p.UID)
}

func (s *Scheduler) removeNominationLocked(uid types.UID) {
	if node, ok := s.nomNode[uid]; ok {
		delete(s.nominated[node], uid)
		if len(s.nominated[node]) == 0 {
			delete(s.nominated, node)
		}
		delete(s.nomNode, uid)
	}
}

// ---- lookups for plugins

func (s *Scheduler) namespaceLabels(name string) labels.Set {
	ns, err := s.namespaces.Get(name)
	if err != nil {
		return nil
	}
	return ns.Labels
}

func (s *Scheduler) namespacesMatching(sel labels.Selector) []string {
	list, err := s.namespaces.List(sel)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, ns := range list {
		out = append(out, ns.Name)
	}
	return out
}

// defaultSelector is upstream's helper.DefaultSelector: the union of the
// selectors of the services selecting the pod and of its controller.
func (s *Scheduler) defaultSelector(pod *v1.Pod) labels.Selector {
	set := labels.Set{}
	if svcs, err := s.services.Services(pod.Namespace).List(labels.Everything()); err == nil {
		for _, svc := range svcs {
			if len(svc.Spec.Selector) > 0 && labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
				set = labels.Merge(set, svc.Spec.Selector)
			}
		}
	}
	sel := set.AsSelector()
	owner := metav1.GetControllerOfNoCopy(pod)
	if owner == nil {
		return sel
	}
	gv, err := schema.ParseGroupVersion(owner.APIVersion)
	if err != nil {
		return sel
	}
	addLabelSelector := func(ls *metav1.LabelSelector) {
		other, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return
		}
		if reqs, ok := other.Requirements(); ok {
			sel = sel.Add(reqs...)
		}
	}
	switch {
	case gv.Group == "" && owner.Kind == "ReplicationController":
		if rc, err := s.rcs.ReplicationControllers(pod.Namespace).Get(owner.Name); err == nil && rc.Spec.Selector != nil {
			sel = labels.Merge(set, rc.Spec.Selector).AsSelector()
		}
	case gv.Group == "apps" && owner.Kind == "ReplicaSet":
		if rs, err := s.rss.ReplicaSets(pod.Namespace).Get(owner.Name); err == nil {
			addLabelSelector(rs.Spec.Selector)
		}
	case gv.Group == "apps" && owner.Kind == "StatefulSet":
		if ss, err := s.sss.StatefulSets(pod.Namespace).Get(owner.Name); err == nil {
			addLabelSelector(ss.Spec.Selector)
		}
	}
	return sel
}

// ---- the scheduling cycle

func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod) {
	logger := klog.FromContext(ctx)
	pod := qp.pod
	if pod == nil || pod.DeletionTimestamp != nil || s.cache.isAssumed(pod.UID) {
		s.queue.done(qp)
		return
	}
	s.cache.update(s.snap)
	result, state, err := s.alg.schedule(pod, s.snap)
	if err != nil {
		fe, ok := err.(*fitError)
		if !ok {
			s.handleFailure(ctx, qp, err.Error(), v1.PodReasonSchedulerError, nil)
			return
		}
		var nominate *string
		if len(s.snap.list) > 0 && state != nil {
			latest := pod
			if p, err := s.pods.Pods(pod.Namespace).Get(pod.Name); err == nil {
				latest = p
			}
			pdbs, _ := s.pdbs.List(labels.Everything())
			out := s.alg.preempt(latest, state, s.snap, fe, pdbs)
			fe.postFilterMsg = out.message
			switch {
			case out.candidate != nil:
				if err := s.actuatePreemption(ctx, latest, out.candidate); err != nil {
					logger.Error(err, "Preemption failed", "pod", klog.KObj(pod))
				} else {
					nominate = &out.candidate.node
					s.nominate(latest, out.candidate.node)
				}
			case out.clearNomination && latest.Status.NominatedNodeName != "":
				empty := ""
				nominate = &empty
				s.removeNomination(latest)
			}
		}
		qp.podEvents = fe.involvesPods()
		logger.V(2).Info("Unable to schedule pod; no fit; waiting", "pod", klog.KObj(pod), "err", fe.Error())
		s.handleFailure(ctx, qp, fe.Error(), v1.PodReasonUnschedulable, nominate)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = result.node
	s.cache.assume(assumed)
	s.removeNomination(pod)
	volumes := state.volumes.volumesFor(result.node)
	if volumes.empty() {
		volumes = nil
	} else {
		s.alg.volumes.assume(volumes)
	}
	go s.bind(ctx, qp, assumed, volumes)
}

// bind is DefaultBinder, run apart from the scheduling cycle.
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, assumed *v1.Pod, volumes *podVolumes) {
	logger := klog.FromContext(ctx)
	if volumes != nil {
		err := s.alg.volumes.bindVolumes(ctx, assumed, assumed.Spec.NodeName, volumes)
		s.alg.volumes.release(volumes)
		if err != nil {
			s.cache.forget(assumed)
			if _, getErr := s.pods.Pods(assumed.Namespace).Get(assumed.Name); apierrors.IsNotFound(getErr) {
				s.queue.done(qp)
				return
			}
			logger.Error(err, "Failed to bind volumes", "pod", klog.KObj(assumed), "node", assumed.Spec.NodeName)
			s.handleFailure(ctx, qp, fmt.Sprintf("running PreBind plugin %q: %v", "VolumeBinding", err), v1.PodReasonSchedulerError, nil)
			return
		}
	}
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: assumed.Spec.NodeName},
	}
	select {
	case s.bindSlots <- struct{}{}:
	case <-ctx.Done():
		s.cache.forget(assumed)
		return
	}
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	<-s.bindSlots
	if err != nil {
		s.cache.forget(assumed)
		if apierrors.IsNotFound(err) {
			s.queue.done(qp)
			return
		}
		logger.Error(err, "Failed to bind pod", "pod", klog.KObj(assumed), "node", assumed.Spec.NodeName)
		s.handleFailure(ctx, qp, fmt.Sprintf("running Bind plugin %q: %v", "DefaultBinder", err), v1.PodReasonSchedulerError, nil)
		return
	}
	s.queue.done(qp)
	logger.V(2).Info("Successfully bound pod to node", "pod", klog.KObj(assumed), "node", assumed.Spec.NodeName)
	s.recorder.Eventf(assumed, nil, v1.EventTypeNormal, "Scheduled", "Binding", "Successfully assigned %v/%v to %v",
		assumed.Namespace, assumed.Name, assumed.Spec.NodeName)
}

// handleFailure requeues the pod, records FailedScheduling and sets
// PodScheduled=False with the same message; nominate, when set, is the
// new nominatedNodeName ("" clears it).
func (s *Scheduler) handleFailure(ctx context.Context, qp *queuedPod, msg, reason string, nominate *string) {
	pod := qp.pod
	s.queue.failed(qp, reason != v1.PodReasonUnschedulable)
	if pod == nil {
		return
	}
	s.recorder.Eventf(pod, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", msg)
	cond := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: pod.Generation}
	go func() {
		if err := s.updatePodStatus(ctx, pod, cond, nominate); err != nil {
			klog.FromContext(ctx).Error(err, "Error updating pod", "pod", klog.KObj(pod))
		}
	}()
}

func (s *Scheduler) updatePodStatus(ctx context.Context, pod *v1.Pod, cond v1.PodCondition, nominate *string) error {
	condChanged := cond.Type != ""
	for _, c := range pod.Status.Conditions {
		if condChanged && c.Type == cond.Type {
			condChanged = c.Status != cond.Status || c.Reason != cond.Reason || c.Message != cond.Message || c.ObservedGeneration != cond.ObservedGeneration
			if !condChanged {
				break
			}
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
		}
	}
	nnChanged := nominate != nil && *nominate != pod.Status.NominatedNodeName
	if !condChanged && !nnChanged {
		return nil
	}
	if cond.LastTransitionTime.IsZero() {
		cond.LastTransitionTime = metav1.Now()
	}
	status := map[string]any{}
	if condChanged {
		status["conditions"] = []v1.PodCondition{cond}
	}
	if nnChanged {
		if *nominate == "" {
			status["nominatedNodeName"] = nil
		} else {
			status["nominatedNodeName"] = *nominate
		}
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// actuatePreemption marks each victim with DisruptionTarget, deletes it,
// and clears lower-priority nominations on the node, as upstream's
// executor.
func (s *Scheduler) actuatePreemption(ctx context.Context, preemptor *v1.Pod, c *candidate) error {
	for _, victim := range c.victims {
		if victim.DeletionTimestamp != nil {
			continue
		}
		cond := v1.PodCondition{
			Type:               v1.DisruptionTarget,
			Status:             v1.ConditionTrue,
			Reason:             v1.PodReasonPreemptionByScheduler,
			Message:            fmt.Sprintf("%s: preempting to accommodate a higher priority %s", preemptor.Spec.SchedulerName, "pod"),
			ObservedGeneration: victim.Generation,
			LastTransitionTime: metav1.Now(),
		}
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{"conditions": []v1.PodCondition{cond}}})
		_, err := s.client.CoreV1().Pods(victim.Namespace).Patch(ctx, victim.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("adding DisruptionTarget to %s/%s: %w", victim.Namespace, victim.Name, err)
		}
		if err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("preempting %s/%s: %w", victim.Namespace, victim.Name, err)
		}
		s.recorder.Eventf(victim, preemptor, v1.EventTypeNormal, "Preempted", "Preempting", "Preempted by %s %v on node %v", "pod", preemptor.UID, c.node)
	}
	prio := podPriority(preemptor)
	for _, p := range s.nominatedPods(c.node) {
		if podPriority(p.pod) < prio {
			empty := ""
			s.removeNomination(p.pod)
			if err := s.updatePodStatus(ctx, p.pod, v1.PodCondition{}, &empty); err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, "Cannot clear 'NominatedNodeName' field")
			}
		}
	}
	return nil
}
