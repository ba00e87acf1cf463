// Package nodelifecycle is Kubernetes' node-lifecycle-controller: it
// watches each node's heartbeats (its Lease in kube-node-lease and its
// Ready condition), marks a node whose heartbeats stop for the grace
// period Ready=Unknown, taints unhealthy nodes NoSchedule at once and
// NoExecute at the pace its zone's disruption state allows, marks their
// pods not Ready, and takes the taints away when the node recovers.
package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coordinformers "k8s.io/client-go/informers/coordination/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	nodetopology "k8s.io/component-helpers/node/topology"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-dev/skiff/controllers/internal/pods"
	"github.com/skiff-dev/skiff/controllers/internal/worker"
)

const (
	// Name is the controller's name in kube-controller-manager.
	Name = "node-lifecycle-controller"
	// eventSource is the component its events come from, as upstream's.
	eventSource = "node-controller"

	// Upstream's worker counts: node updates, and pods on lagging caches.
	nodeUpdateWorkers = 8
	podUpdateWorkers  = 4
	// nodeHealthUpdateRetry is how often a node status update is tried in
	// one pass, retrySleepTime apart.
	nodeHealthUpdateRetry = 5
	retrySleepTime        = 20 * time.Millisecond

	// labelNodeDisruptionExclusion keeps a node out of its zone's count.
	labelNodeDisruptionExclusion = "node.kubernetes.io/exclude-disruption"
)

// Config is the controller's part of kube-controller-manager's flags.
type Config struct {
	// MonitorPeriod is how often node health is checked (--node-monitor-period).
	MonitorPeriod time.Duration
	// StartupGracePeriod is how long a node that never posted status may
	// stay silent (--node-startup-grace-period).
	StartupGracePeriod time.Duration
	// MonitorGracePeriod is how long a node may stay silent before it is
	// Ready=Unknown (--node-monitor-grace-period).
	MonitorGracePeriod time.Duration
	// EvictionRate is the nodes per second tainted NoExecute in a healthy
	// zone (--node-eviction-rate).
	EvictionRate float32
	// SecondaryEvictionRate is that rate in an unhealthy zone of a large
	// cluster (--secondary-node-eviction-rate).
	SecondaryEvictionRate float32
	// LargeClusterSizeThreshold is the zone size above which the secondary
	// rate applies; smaller unhealthy zones are not tainted at all
	// (--large-cluster-size-threshold).
	LargeClusterSizeThreshold int32
	// UnhealthyZoneThreshold is the fraction of not Ready nodes (at least
	// three) that makes a zone unhealthy (--unhealthy-zone-threshold).
	UnhealthyZoneThreshold float32
}

// DefaultConfig is kube-controller-manager 1.37's defaults.
func DefaultConfig() Config {
	return Config{
		MonitorPeriod:             5 * time.Second,
		StartupGracePeriod:        60 * time.Second,
		MonitorGracePeriod:        50 * time.Second,
		EvictionRate:              0.1,
		SecondaryEvictionRate:     0.01,
		LargeClusterSizeThreshold: 50,
		UnhealthyZoneThreshold:    0.55,
	}
}

// Option changes how New builds the controller.
type Option func(*Controller)

// WithClock makes the controller tell time, and pace its tainting, by clk.
func WithClock(clk clock.Clock) Option { return func(c *Controller) { c.clock = clk } }

// zoneState is a zone's disruption state.
type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// The NoExecute taints the controller sets; they are mutually exclusive,
// as the Ready condition they mirror.
func unreachableTaint() *corev1.Taint {
	return &corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
}

func notReadyTaint() *corev1.Taint {
	return &corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
}

// conditionTaint is the NoSchedule taint key a node condition in a status
// calls for, or "".
func conditionTaint(cond corev1.NodeConditionType, status corev1.ConditionStatus) string {
	switch {
	case cond == corev1.NodeReady && status == corev1.ConditionFalse:
		return corev1.TaintNodeNotReady
	case cond == corev1.NodeReady && status == corev1.ConditionUnknown:
		return corev1.TaintNodeUnreachable
	case cond == corev1.NodeMemoryPressure && status == corev1.ConditionTrue:
		return corev1.TaintNodeMemoryPressure
	case cond == corev1.NodeDiskPressure && status == corev1.ConditionTrue:
		return corev1.TaintNodeDiskPressure
	case cond == corev1.NodeNetworkUnavailable && status == corev1.ConditionTrue:
		return corev1.TaintNodeNetworkUnavailable
	case cond == corev1.NodePIDPressure && status == corev1.ConditionTrue:
		return corev1.TaintNodePIDPressure
	}
	return ""
}

// isConditionTaintKey reports whether the controller owns NoSchedule taints
// with key.
func isConditionTaintKey(key string) bool {
	switch key {
	case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeNetworkUnavailable,
		corev1.TaintNodeMemoryPressure, corev1.TaintNodeDiskPressure, corev1.TaintNodePIDPressure, corev1.TaintNodeUnschedulable:
		return true
	}
	return false
}

// nodeHealth is what was last seen of a node, with the local times it was
// seen: the controller judges by its own clock, never the node's.
type nodeHealth struct {
	probeTimestamp           metav1.Time
	readyTransitionTimestamp metav1.Time
	status                   *corev1.NodeStatus
	lease                    *coordv1.Lease
}

func (h *nodeHealth) deepCopy() *nodeHealth {
	if h == nil {
		return nil
	}
	return &nodeHealth{h.probeTimestamp, h.readyTransitionTimestamp, h.status.DeepCopy(), h.lease.DeepCopy()}
}

// Controller manages the nodes' life cycle.
type Controller struct {
	cfg         Config
	client      kubernetes.Interface
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	clock       clock.Clock

	nodes      corelisters.NodeLister
	leases     coordlisters.LeaseLister
	pods       corelisters.PodLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced

	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[string]

	// knownNodes is only touched by monitorNodeHealth.
	knownNodes map[string]*corev1.Node

	healthMu sync.RWMutex
	health   map[string]*nodeHealth

	// zoneMu guards zoneQueues and zoneStates.
	zoneMu     sync.Mutex
	zoneQueues map[string]*zoneQueue
	zoneStates map[string]zoneState

	// nodesToRetry are nodes whose pods still need marking not Ready.
	nodesToRetry sync.Map
}

// NewForConfig builds a Controller on its own client from config.
func NewForConfig(config *rest.Config, cfg Config, leases coordinformers.LeaseInformer, podInformer coreinformers.PodInformer,
	nodeInformer coreinformers.NodeInformer, opts ...Option) (*Controller, error) {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("node lifecycle controller client: %w", err)
	}
	return New(client, cfg, leases, podInformer, nodeInformer, opts...)
}

// New returns a controller that writes through client.
func New(client kubernetes.Interface, cfg Config, leases coordinformers.LeaseInformer, podInformer coreinformers.PodInformer,
	nodeInformer coreinformers.NodeInformer, opts ...Option) (*Controller, error) {
	c := &Controller{
		cfg:        cfg,
		client:     client,
		clock:      clock.RealClock{},
		nodes:      nodeInformer.Lister(),
		leases:     leases.Lister(),
		pods:       podInformer.Lister(),
		knownNodes: map[string]*corev1.Node{},
		health:     map[string]*nodeHealth{},
		zoneQueues: map[string]*zoneQueue{},
		zoneStates: map[string]zoneState{},
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller"}),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller_pods"}),
	}
	for _, o := range opts {
		o(c)
	}
	c.broadcaster = record.NewBroadcaster()
	c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventSource})

	if err := pods.IndexByNodeName(podInformer.Informer()); err != nil {
		return nil, err
	}
	c.podIndexer = podInformer.Informer().GetIndexer()
	podReg, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podUpdated(nil, obj) },
		UpdateFunc: c.podUpdated,
	})
	if err != nil {
		return nil, fmt.Errorf("watching pods for the node lifecycle controller: %w", err)
	}
	enqueueNode := func(obj any) {
		if node, ok := obj.(*corev1.Node); ok {
			c.nodeQueue.Add(node.Name)
		}
	}
	nodeReg, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNode,
		UpdateFunc: func(_, obj any) { enqueueNode(obj) },
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if node, ok := obj.(*corev1.Node); ok {
				c.nodesToRetry.Delete(node.Name)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("watching nodes for the node lifecycle controller: %w", err)
	}
	c.synced = []cache.InformerSynced{podReg.HasSynced, nodeReg.HasSynced, leases.Informer().HasSynced}
	return c, nil
}

// Run monitors the nodes until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	c.broadcaster.StartStructuredLogging(3)
	c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer c.broadcaster.Shutdown()

	nodeLoop := &worker.Loop{Name: Name, Queue: c.nodeQueue, Sync: c.syncNode, Synced: c.synced}
	podLoop := &worker.Loop{Name: Name + " pods", Queue: c.podQueue, Sync: c.syncPod, Synced: c.synced}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { nodeLoop.Run(ctx, nodeUpdateWorkers) })
	wg.Go(func() { podLoop.Run(ctx, podUpdateWorkers) })
	if !cache.WaitForNamedCacheSyncWithContext(ctx, c.synced...) {
		return
	}
	// NoExecute taints are added at the zone's pace, the evictions they
	// cause being otherwise unlimited.
	wg.Go(func() { wait.UntilWithContext(ctx, c.doNoExecuteTaintingPass, noExecuteTaintingPeriod) })
	wg.Go(func() {
		wait.UntilWithContext(ctx, func(ctx context.Context) {
			if err := c.monitorNodeHealth(ctx); err != nil {
				klog.FromContext(ctx).Error(err, "Error monitoring node health")
			}
		}, c.cfg.MonitorPeriod)
	})
	<-ctx.Done()
}

func (c *Controller) now() metav1.Time { return metav1.NewTime(c.clock.Now()) }

// syncNode sets the NoSchedule taints a node's conditions call for and
// reconciles its beta OS and arch labels.
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading node %s from the cache: %w", name, err)
	}
	var want []corev1.Taint
	for _, cond := range node.Status.Conditions {
		if key := conditionTaint(cond.Type, cond.Status); key != "" {
			want = append(want, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	var have []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule && isConditionTaintKey(t.Key) {
			have = append(have, t)
		}
	}
	var add, remove []*corev1.Taint
	for i := range want {
		if !taintExists(have, &want[i]) {
			add = append(add, &want[i])
		}
	}
	for i := range have {
		if !taintExists(want, &have[i]) {
			remove = append(remove, &have[i])
		}
	}
	if err := c.swapTaints(ctx, node, add, remove); err != nil {
		return err
	}
	return c.reconcileLabels(ctx, node)
}

// reconcileLabels keeps the beta OS and arch labels equal to the stable
// ones.
func (c *Controller) reconcileLabels(ctx context.Context, node *corev1.Node) error {
	update := map[string]string{}
	for stable, beta := range map[string]string{corev1.LabelOSStable: "beta.kubernetes.io/os", corev1.LabelArchStable: "beta.kubernetes.io/arch"} {
		v, ok := node.Labels[stable]
		if !ok {
			continue
		}
		if b, ok := node.Labels[beta]; !ok || b != v {
			update[beta] = v
		}
	}
	if len(update) == 0 {
		return nil
	}
	// A patch of only these labels: it cannot undo a concurrent change.
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": update}})
	if err != nil {
		return fmt.Errorf("encoding labels %v: %w", update, err)
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("updating labels %v of node %s: %w", update, node.Name, err)
	}
	return nil
}

// swapTaints adds taints (stamped with the time) and removes others.
func (c *Controller) swapTaints(ctx context.Context, node *corev1.Node, add, remove []*corev1.Taint) error {
	now := c.now()
	for _, t := range add {
		t.TimeAdded = &now
	}
	if err := changeTaints(ctx, c.client, node.Name, add, nil); err != nil {
		return fmt.Errorf("unable to taint %v unresponsive Node %q: %w", add, node.Name, err)
	}
	if !anyTaintExists(node.Spec.Taints, remove) {
		return nil
	}
	if err := changeTaints(ctx, c.client, node.Name, nil, remove); err != nil {
		return fmt.Errorf("unable to remove %v unneeded taint from unresponsive Node %q: %w", remove, node.Name, err)
	}
	return nil
}

func anyTaintExists(taints []corev1.Taint, some []*corev1.Taint) bool {
	for _, t := range some {
		if taintExists(taints, t) {
			return true
		}
	}
	return false
}

// doNoExecuteTaintingPass taints the nodes due in every zone, as fast as
// each zone's limiter lets it.
func (c *Controller) doNoExecuteTaintingPass(ctx context.Context) {
	c.zoneMu.Lock()
	queues := make([]*zoneQueue, 0, len(c.zoneQueues))
	for _, q := range c.zoneQueues {
		queues = append(queues, q)
	}
	c.zoneMu.Unlock()
	logger := klog.FromContext(ctx)
	for _, q := range queues {
		q.try(func(name string) (bool, time.Duration) {
			node, err := c.nodes.Get(name)
			if apierrors.IsNotFound(err) {
				logger.Info("Node no longer present in nodeLister", "node", klog.KRef("", name))
				return true, 0
			}
			if err != nil {
				return false, 50 * time.Millisecond
			}
			ready := readyCondition(&node.Status)
			if ready == nil {
				return false, 50 * time.Millisecond
			}
			var add, opposite *corev1.Taint
			switch ready.Status {
			case corev1.ConditionFalse:
				add, opposite = notReadyTaint(), unreachableTaint()
			case corev1.ConditionUnknown:
				add, opposite = unreachableTaint(), notReadyTaint()
			default:
				logger.V(4).Info("Node was in a taint queue, but it's ready now. Ignoring taint request", "node", klog.KRef("", name))
				return true, 0
			}
			if err := c.swapTaints(ctx, node, []*corev1.Taint{add}, []*corev1.Taint{opposite}); err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, "Tainting node failed", "node", klog.KRef("", name))
				return false, 0
			}
			return true, 0
		})
	}
}

func readyCondition(status *corev1.NodeStatus) *corev1.NodeCondition {
	return nodeCondition(status, corev1.NodeReady)
}

func nodeCondition(status *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	if status == nil {
		return nil
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// monitorNodeHealth judges every node's heartbeats: it marks silent nodes
// Ready=Unknown, queues unhealthy nodes for NoExecute taints, marks their
// pods not Ready, and sets each zone's pace from its disruption state.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	logger := klog.FromContext(ctx)
	added, deleted, newZoneRepresentatives := c.classifyNodes(nodes)
	for _, n := range newZoneRepresentatives {
		c.addZone(logger, n)
	}
	for _, n := range added {
		logger.V(1).Info("Controller observed a new Node", "node", klog.KObj(n))
		c.recordNodeEvent(n, corev1.EventTypeNormal, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
		c.knownNodes[n.Name] = n
		c.addZone(logger, n)
		if _, err := c.markNodeAsReachable(ctx, n); err != nil {
			logger.Error(err, "Failed to remove taints from node", "node", klog.KObj(n))
		}
	}
	for _, n := range deleted {
		logger.V(1).Info("Controller observed a Node deletion", "node", klog.KObj(n))
		c.recordNodeEvent(n, corev1.EventTypeNormal, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", n.Name))
		delete(c.knownNodes, n.Name)
	}

	var zoneMu sync.Mutex
	zoneConditions := map[string][]*corev1.NodeCondition{}
	workqueue.ParallelizeUntil(ctx, nodeUpdateWorkers, len(nodes), func(i int) {
		node := nodes[i].DeepCopy()
		var observed corev1.NodeCondition
		var current *corev1.NodeCondition
		var err error
		for try := 0; ; try++ {
			observed, current, err = c.tryUpdateNodeHealth(ctx, node)
			if err == nil {
				break
			}
			if try+1 >= nodeHealthUpdateRetry {
				logger.Error(err, "Update health of Node from Controller error, Skipping - no pods will be evicted", "node", klog.KObj(node))
				return
			}
			time.Sleep(retrySleepTime)
			name := node.Name
			if node, err = c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
				logger.Error(nil, "Failed while getting a Node to retry updating node health. Probably Node was deleted", "node", klog.KRef("", name))
				return
			}
		}
		if _, excluded := node.Labels[labelNodeDisruptionExclusion]; !excluded {
			zone := nodetopology.GetZoneKey(node)
			zoneMu.Lock()
			zoneConditions[zone] = append(zoneConditions[zone], current)
			zoneMu.Unlock()
		}
		if current != nil {
			onNode, err := pods.OnNode(c.podIndexer, node.Name)
			if err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, "Unable to list pods of node", "node", node.Name)
				if current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue {
					c.nodesToRetry.Store(node.Name, struct{}{})
				}
				return
			}
			c.processTaintBasedEviction(ctx, node, current)
			_, needsRetry := c.nodesToRetry.Load(node.Name)
			becameNotReady := current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue
			if becameNotReady {
				// Reported once, on the change.
				c.recordNodeStatusChange(logger, node, "NodeNotReady")
			}
			if becameNotReady || (needsRetry && observed.Status != corev1.ConditionTrue) {
				if err := c.markPodsNotReady(ctx, onNode, node.Name); err != nil {
					utilruntime.HandleErrorWithContext(ctx, err, "Unable to mark all pods NotReady on node; queuing for retry", "node", node.Name)
					c.nodesToRetry.Store(node.Name, struct{}{})
					return
				}
			}
		}
		c.nodesToRetry.Delete(node.Name)
	})
	c.handleDisruption(ctx, zoneConditions, nodes)
	return nil
}

// processTaintBasedEviction queues an unhealthy node for its NoExecute
// taint, swaps one NoExecute taint for the other at once, or takes them
// away from a Ready node.
func (c *Controller) processTaintBasedEviction(ctx context.Context, node *corev1.Node, ready *corev1.NodeCondition) {
	logger := klog.FromContext(ctx)
	switch ready.Status {
	case corev1.ConditionFalse:
		if taintExists(node.Spec.Taints, unreachableTaint()) {
			if err := c.swapTaints(ctx, node, []*corev1.Taint{notReadyTaint()}, []*corev1.Taint{unreachableTaint()}); err != nil {
				logger.Error(err, "Failed to instantly swap UnreachableTaint to NotReadyTaint. Will try again in the next cycle")
			}
		} else if c.markNodeForTainting(node, corev1.ConditionFalse) {
			logger.V(2).Info("Node is NotReady. Adding it to the Taint queue", "node", klog.KObj(node))
		}
	case corev1.ConditionUnknown:
		if taintExists(node.Spec.Taints, notReadyTaint()) {
			if err := c.swapTaints(ctx, node, []*corev1.Taint{unreachableTaint()}, []*corev1.Taint{notReadyTaint()}); err != nil {
				logger.Error(err, "Failed to instantly swap NotReadyTaint to UnreachableTaint. Will try again in the next cycle")
			}
		} else if c.markNodeForTainting(node, corev1.ConditionUnknown) {
			logger.V(2).Info("Node is unresponsive. Adding it to the Taint queue", "node", klog.KObj(node))
		}
	case corev1.ConditionTrue:
		removed, err := c.markNodeAsReachable(ctx, node)
		if err != nil {
			logger.Error(err, "Failed to remove taints from node. Will retry in next iteration", "node", klog.KObj(node))
		}
		if removed {
			logger.V(2).Info("Node is healthy again, removed all taints", "node", klog.KObj(node))
		}
	}
}

// tryUpdateNodeHealth compares what the node shows with what was last
// seen, and writes Ready (and the pressure conditions) Unknown when no
// heartbeat came within the grace period. It returns the Ready condition
// as observed and as it is now.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (corev1.NodeCondition, *corev1.NodeCondition, error) {
	logger := klog.FromContext(ctx)
	c.healthMu.RLock()
	health := c.health[node.Name].deepCopy()
	c.healthMu.RUnlock()
	defer func() {
		c.healthMu.Lock()
		c.health[node.Name] = health
		c.healthMu.Unlock()
	}()

	var observed corev1.NodeCondition
	var gracePeriod time.Duration
	current := readyCondition(&node.Status)
	if current == nil {
		// The kubelet never posted status: count from the node's creation.
		observed = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp}
		gracePeriod = c.cfg.StartupGracePeriod
		if health != nil {
			health.status = &node.Status
		} else {
			health = &nodeHealth{status: &node.Status, probeTimestamp: node.CreationTimestamp, readyTransitionTimestamp: node.CreationTimestamp}
		}
	} else {
		observed = *current
		gracePeriod = c.cfg.MonitorGracePeriod
	}

	var saved *corev1.NodeCondition
	var savedLease *coordv1.Lease
	if health != nil {
		saved = readyCondition(health.status)
		savedLease = health.lease
	}
	now := c.now()
	switch {
	case health == nil:
		logger.Info("Missing timestamp for Node. Assuming now as a timestamp", "node", klog.KObj(node))
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved == nil && current != nil:
		logger.V(1).Info("Creating timestamp entry for newly observed Node", "node", klog.KObj(node))
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved != nil && current == nil:
		logger.Error(nil, "ReadyCondition was removed from Status of Node", "node", klog.KObj(node))
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved != nil && current != nil && !saved.LastHeartbeatTime.Equal(&current.LastHeartbeatTime):
		transition := health.readyTransitionTimestamp
		if !saved.LastTransitionTime.Equal(&current.LastTransitionTime) {
			transition = now
		}
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: transition}
	}
	// A renewed lease is a heartbeat too: a kubelet that renews its lease
	// but never posts status is taken as healthy.
	lease, _ := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name)
	if lease != nil && (savedLease == nil || leaseRenewedAfter(lease, savedLease)) {
		health.lease = lease
		health.probeTimestamp = now
	}

	if !now.After(health.probeTimestamp.Add(gracePeriod)) {
		return observed, current, nil
	}
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := nodeCondition(&node.Status, t)
		if cond == nil {
			logger.V(2).Info("Condition of node was never updated by kubelet", "nodeConditionType", t, "node", klog.KObj(node))
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type:               t,
				Status:             corev1.ConditionUnknown,
				Reason:             "NodeStatusNeverUpdated",
				Message:            "Kubelet never posted node status.",
				LastHeartbeatTime:  node.CreationTimestamp,
				LastTransitionTime: now,
			})
			continue
		}
		logger.V(2).Info("Node hasn't been updated", "node", klog.KObj(node), "duration", now.Sub(health.probeTimestamp.Time), "nodeConditionType", t)
		if cond.Status != corev1.ConditionUnknown {
			cond.Status = corev1.ConditionUnknown
			cond.Reason = "NodeStatusUnknown"
			cond.Message = "Kubelet stopped posting node status."
			cond.LastTransitionTime = now
		}
	}
	current = readyCondition(&node.Status)
	if apiequality.Semantic.DeepEqual(current, &observed) {
		return observed, current, nil
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return observed, current, fmt.Errorf("updating the status of node %s: %w", node.Name, err)
	}
	health = &nodeHealth{status: &node.Status, probeTimestamp: health.probeTimestamp, readyTransitionTimestamp: now, lease: lease}
	return observed, current, nil
}

func leaseRenewedAfter(lease, saved *coordv1.Lease) bool {
	if saved.Spec.RenewTime == nil {
		return lease.Spec.RenewTime != nil
	}
	return lease.Spec.RenewTime != nil && saved.Spec.RenewTime.Before(lease.Spec.RenewTime)
}

// handleDisruption moves each zone to its new disruption state and sets
// its tainting pace; when every zone is fully disrupted the fault is more
// likely the control plane's, and all tainting stops.
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	logger := klog.FromContext(ctx)
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	newStates := map[string]zoneState{}
	allFully := true
	for zone, conds := range zoneConditions {
		_, state := c.computeZoneState(conds)
		if state != stateFullDisruption {
			allFully = false
		}
		newStates[zone] = state
		if _, ok := c.zoneStates[zone]; !ok {
			logger.Error(nil, "Setting initial state for unseen zone", "zone", zone)
			c.zoneStates[zone] = stateInitial
		}
	}
	allWereFully := true
	for zone, state := range c.zoneStates {
		if _, ok := zoneConditions[zone]; !ok {
			delete(c.zoneStates, zone)
			continue
		}
		if state != stateFullDisruption {
			allWereFully = false
			break
		}
	}
	if allFully && allWereFully {
		return
	}
	if allFully {
		logger.Info("Controller detected that all Nodes are not-Ready. Entering master disruption mode")
		c.zoneMu.Unlock()
		for _, n := range nodes {
			if _, err := c.markNodeAsReachable(ctx, n); err != nil {
				logger.Error(err, "Failed to remove taints from Node", "node", klog.KObj(n))
			}
		}
		c.zoneMu.Lock()
		for zone := range c.zoneStates {
			c.queueFor(zone).swapLimiter(0)
			c.zoneStates[zone] = stateFullDisruption
		}
		return
	}
	if allWereFully {
		logger.Info("Controller detected that some Nodes are Ready. Exiting master disruption mode")
		// Every node gets a fresh grace period.
		now := c.now()
		c.healthMu.Lock()
		for _, n := range nodes {
			if h := c.health[n.Name]; h != nil {
				h = h.deepCopy()
				h.probeTimestamp, h.readyTransitionTimestamp = now, now
				c.health[n.Name] = h
			}
		}
		c.healthMu.Unlock()
		for zone := range c.zoneStates {
			c.setZoneLimiter(zone, len(zoneConditions[zone]), newStates[zone])
			c.zoneStates[zone] = newStates[zone]
		}
		return
	}
	for zone, state := range c.zoneStates {
		if state == newStates[zone] {
			continue
		}
		logger.Info("Controller detected that zone is now in new state", "zone", zone, "newState", newStates[zone])
		c.setZoneLimiter(zone, len(zoneConditions[zone]), newStates[zone])
		c.zoneStates[zone] = newStates[zone]
	}
}

// queueFor returns zone's queue, making it if a node of a new zone was
// seen between passes; zoneMu must be held.
func (c *Controller) queueFor(zone string) *zoneQueue {
	q, ok := c.zoneQueues[zone]
	if !ok {
		q = newZoneQueue(c.cfg.EvictionRate, c.clock)
		c.zoneQueues[zone] = q
	}
	return q
}

// setZoneLimiter sets the pace of a zone of size nodes in state; zoneMu
// must be held.
func (c *Controller) setZoneLimiter(zone string, size int, state zoneState) {
	switch state {
	case stateNormal, stateFullDisruption:
		c.queueFor(zone).swapLimiter(c.cfg.EvictionRate)
	case statePartialDisruption:
		qps := float32(0)
		if int32(size) > c.cfg.LargeClusterSizeThreshold {
			qps = c.cfg.SecondaryEvictionRate
		}
		c.queueFor(zone).swapLimiter(qps)
	}
}

// computeZoneState counts the not Ready nodes of a zone and judges it:
// fully disrupted with none Ready, partially with at least three and the
// unhealthy fraction not Ready, normal otherwise.
func (c *Controller) computeZoneState(conds []*corev1.NodeCondition) (int, zoneState) {
	ready, notReady := 0, 0
	for _, cond := range conds {
		if cond != nil && cond.Status == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return notReady, stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= c.cfg.UnhealthyZoneThreshold:
		return notReady, statePartialDisruption
	default:
		return notReady, stateNormal
	}
}

// classifyNodes splits nodes into new ones, known ones gone, and known
// ones of a zone with no state yet.
func (c *Controller) classifyNodes(nodes []*corev1.Node) (added, deleted, newZoneRepresentatives []*corev1.Node) {
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n.Name] = true
		if _, ok := c.knownNodes[n.Name]; !ok {
			added = append(added, n)
		} else if _, ok := c.zoneStates[nodetopology.GetZoneKey(n)]; !ok {
			newZoneRepresentatives = append(newZoneRepresentatives, n)
		}
	}
	for name, n := range c.knownNodes {
		if !present[name] {
			deleted = append(deleted, n)
		}
	}
	return added, deleted, newZoneRepresentatives
}

// addZone starts tracking the zone of node if it is new.
func (c *Controller) addZone(logger klog.Logger, node *corev1.Node) {
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	zone := nodetopology.GetZoneKey(node)
	if _, ok := c.zoneStates[zone]; !ok {
		logger.Info("Initializing eviction metric for zone", "zone", zone)
		c.zoneStates[zone] = stateInitial
		c.zoneQueues[zone] = newZoneQueue(c.cfg.EvictionRate, c.clock)
	}
}

// markNodeForTainting queues node for the NoExecute taint of status; a
// node that lost its taint is queued anew.
func (c *Controller) markNodeForTainting(node *corev1.Node, status corev1.ConditionStatus) bool {
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	q := c.queueFor(nodetopology.GetZoneKey(node))
	if status == corev1.ConditionFalse && !taintExists(node.Spec.Taints, notReadyTaint()) ||
		status == corev1.ConditionUnknown && !taintExists(node.Spec.Taints, unreachableTaint()) {
		q.remove(node.Name)
	}
	return q.add(node.Name, c.clock.Now())
}

// markNodeAsReachable removes both NoExecute taints and takes the node
// off its zone's queue.
func (c *Controller) markNodeAsReachable(ctx context.Context, node *corev1.Node) (bool, error) {
	for _, t := range []*corev1.Taint{unreachableTaint(), notReadyTaint()} {
		if !taintExists(node.Spec.Taints, t) {
			continue
		}
		if err := changeTaints(ctx, c.client, node.Name, nil, []*corev1.Taint{t}); err != nil {
			return false, fmt.Errorf("removing taint %s from node %s: %w", t.Key, node.Name, err)
		}
	}
	c.zoneMu.Lock()
	defer c.zoneMu.Unlock()
	return c.queueFor(nodetopology.GetZoneKey(node)).remove(node.Name), nil
}

// podUpdated queues pods newly bound to a node, which may be one already
// known unhealthy.
func (c *Controller) podUpdated(old, cur any) {
	pod, ok := cur.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if o, ok := old.(*corev1.Pod); ok && o.Spec.NodeName == pod.Spec.NodeName {
		return
	}
	c.podQueue.Add(cache.NewObjectName(pod.Namespace, pod.Name).String())
}

// syncPod marks a pod bound to a node that is not Ready as not Ready.
func (c *Controller) syncPod(ctx context.Context, key string) error {
	name, err := cache.ParseObjectName(key)
	if err != nil {
		return err
	}
	pod, err := c.pods.Pods(name.Namespace).Get(name.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pod %s from the cache: %w", key, err)
	}
	c.healthMu.RLock()
	health := c.health[pod.Spec.NodeName].deepCopy()
	c.healthMu.RUnlock()
	if health == nil {
		// The next health pass handles it.
		return nil
	}
	if _, err := c.nodes.Get(pod.Spec.NodeName); err != nil {
		return fmt.Errorf("reading node %s from the cache: %w", pod.Spec.NodeName, err)
	}
	ready := readyCondition(health.status)
	if ready == nil || ready.Status == corev1.ConditionTrue {
		return nil
	}
	return c.markPodsNotReady(ctx, []*corev1.Pod{pod}, pod.Spec.NodeName)
}

// markPodsNotReady sets the Ready condition of the pods on node False.
func (c *Controller) markPodsNotReady(ctx context.Context, onNode []*corev1.Pod, node string) error {
	logger := klog.FromContext(ctx)
	logger.V(2).Info("Update ready status of pods on node", "node", klog.KRef("", node))
	var errs []error
	for _, p := range onNode {
		if p.Spec.NodeName != node {
			continue
		}
		pod := p.DeepCopy()
		for _, cond := range pod.Status.Conditions {
			if cond.Type != corev1.PodReady {
				continue
			}
			cond.Status = corev1.ConditionFalse
			if !pods.UpdateCondition(&pod.Status, cond) {
				break
			}
			logger.V(2).Info("Updating ready status of pod to false", "pod", klog.KObj(pod))
			if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					break
				}
				errs = append(errs, fmt.Errorf("updating the status of pod %s/%s: %w", pod.Namespace, pod.Name, err))
			}
			c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
			break
		}
	}
	return utilerrors.NewAggregate(errs)
}

func nodeRef(node *corev1.Node) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
}

func (c *Controller) recordNodeEvent(node *corev1.Node, eventType, reason, event string) {
	c.recorder.Eventf(nodeRef(node), eventType, reason, "Node %s event: %s", node.Name, event)
}

func (c *Controller) recordNodeStatusChange(logger klog.Logger, node *corev1.Node, status string) {
	logger.V(2).Info("Recording status change event message for node", "status", status, "node", node.Name)
	c.recorder.Eventf(nodeRef(node), corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
