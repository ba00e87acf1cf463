// Package hollow is a hollow kubelet: it plays the kubelet of many nodes in
// one process, through client-go only, without running any container. Its
// nodes register, heartbeat through Leases and report status as a kubelet
// does, and the pods bound to them go through the phases and statuses a
// kubelet writes, so that the scheduler and the workload controllers can be
// exercised at scale (the role kubemark's hollow nodes and kwok play
// upstream).
//
// It scales by sharing: one client, one pod informer for every node, one
// node informer, two work queues and one ticker that renews a tenth of the
// leases each second.
package hollow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/component-base/version"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Kubelet's timing, as upstream's defaults.
const (
	// LeaseDuration is kubelet's nodeLeaseDurationSeconds.
	LeaseDuration = 40 * time.Second
	// LeaseRenewInterval is a quarter of the lease duration, as kubelet's.
	LeaseRenewInterval = 10 * time.Second
	// StatusReportFrequency is kubelet's nodeStatusReportFrequency: with
	// leases, an unchanged status is only written this often.
	StatusReportFrequency = 5 * time.Minute
	// KubeletPort is the port in status.daemonEndpoints.
	KubeletPort = 10250
	// RuntimePrefix starts every container ID, as containerd:// does.
	RuntimePrefix = "hollow://"
)

// Annotations steer the containers of a pod.
const (
	// DurationAnnotation ("30s") makes every container of the pod (not
	// its init containers) that has no `sleep N` command exit after that
	// long.
	DurationAnnotation = "hollow.skiff.dev/duration"
	// ExitCodeAnnotation is the exit code of containers that exit by
	// themselves (default 0).
	ExitCodeAnnotation = "hollow.skiff.dev/exit-code"
)

// Options say which nodes to play and how.
type Options struct {
	// Nodes is how many nodes to register.
	Nodes int
	// Prefix names the nodes Prefix0..PrefixN-1; default "hollow-node-".
	Prefix string
	// Capacity of each node; default cpu 4, memory 16Gi, pods 110,
	// ephemeral-storage 100Gi.
	Capacity corev1.ResourceList
	// Allocatable of each node; default Capacity less kubelet's default
	// hard eviction thresholds (memory 100Mi, 10% of ephemeral-storage).
	Allocatable corev1.ResourceList
	// NodeIPs is the range node i takes its InternalIP from (the i+1-th
	// address); default 198.18.0.0/15, the block reserved for benchmarks.
	NodeIPs *net.IPNet
	// TerminationCap bounds how long a deleted pod takes to stop, whatever
	// its grace period; default 2s.
	TerminationCap time.Duration
	// PodWorkers and NodeWorkers are the goroutines writing pod and node
	// state, enough to hide the API's latency; default 32 each.
	PodWorkers, NodeWorkers int
}

func (o *Options) defaults() {
	if o.Prefix == "" {
		o.Prefix = "hollow-node-"
	}
	if o.Capacity == nil {
		o.Capacity = corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("4"),
			corev1.ResourceMemory:           resource.MustParse("16Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
			"hugepages-1Gi":                 resource.MustParse("0"),
			"hugepages-2Mi":                 resource.MustParse("0"),
		}
	}
	if o.Allocatable == nil {
		o.Allocatable = o.Capacity.DeepCopy()
		if m, ok := o.Allocatable[corev1.ResourceMemory]; ok {
			m.Sub(resource.MustParse("100Mi"))
			o.Allocatable[corev1.ResourceMemory] = m
		}
		if e, ok := o.Allocatable[corev1.ResourceEphemeralStorage]; ok {
			o.Allocatable[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(e.Value()*9/10, resource.BinarySI)
		}
	}
	if o.NodeIPs == nil {
		_, o.NodeIPs, _ = net.ParseCIDR("198.18.0.0/15")
	}
	if o.TerminationCap == 0 {
		o.TerminationCap = 2 * time.Second
	}
	if o.PodWorkers == 0 {
		o.PodWorkers = 32
	}
	if o.NodeWorkers == 0 {
		o.NodeWorkers = 32
	}
}

// Kubelet plays the kubelet of Options.Nodes nodes.
type Kubelet struct {
	opts   Options
	client kubernetes.Interface
	nodes  map[string]*node // fixed after New
	order  []*node

	nodeInformer cache.SharedIndexInformer
	podInformer  cache.SharedIndexInformer
	nodeQueue    workqueue.TypedRateLimitingInterface[nodeWork]
	podQueue     workqueue.TypedRateLimitingInterface[string]

	mu   sync.Mutex
	pods map[string]*podState // by namespace/name
}

// NewForConfig builds a Kubelet on one client from config. Whoever calls it
// chooses the identity; skiff gives its hollow nodes a user in
// system:masters, as kwok does, since a test tool playing a thousand nodes
// would otherwise need a thousand node credentials.
func NewForConfig(config *rest.Config, opts Options) (*Kubelet, error) {
	config = rest.CopyConfig(config)
	// One client carries every node's traffic: a kubelet's default of 5 qps
	// times the number of nodes.
	if config.QPS == 0 {
		config.QPS = float32(max(50, 5*opts.Nodes))
		config.Burst = int(config.QPS) * 2
	}
	rest.AddUserAgent(config, "hollow-kubelet")
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("hollow kubelet client: %w", err)
	}
	return New(client, opts)
}

// New returns a Kubelet writing through client.
func New(client kubernetes.Interface, opts Options) (*Kubelet, error) {
	opts.defaults()
	if opts.Nodes < 0 {
		return nil, fmt.Errorf("hollow nodes: %d nodes", opts.Nodes)
	}
	k := &Kubelet{
		opts:   opts,
		client: client,
		nodes:  make(map[string]*node, opts.Nodes),
		pods:   map[string]*podState{},
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[nodeWork](),
			workqueue.TypedRateLimitingQueueConfig[nodeWork]{Name: "hollow_nodes"}),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow_pods"}),
	}
	base := new(big.Int).SetBytes(ipBytes(opts.NodeIPs.IP.Mask(opts.NodeIPs.Mask)))
	for i := range opts.Nodes {
		ip := make(net.IP, len(ipBytes(opts.NodeIPs.IP)))
		new(big.Int).Add(base, big.NewInt(int64(i+1))).FillBytes(ip)
		if !opts.NodeIPs.Contains(ip) {
			return nil, fmt.Errorf("hollow nodes: %d nodes do not fit node IP range %s", opts.Nodes, opts.NodeIPs)
		}
		n := &node{name: opts.Prefix + strconv.Itoa(i), index: i, ip: ip.String()}
		k.nodes[n.name] = n
		k.order = append(k.order, n)
	}
	// Tens of thousands of pods are cached: managed fields, which nothing
	// here reads, would be most of them.
	strip := func(obj any) (any, error) {
		if m, ok := obj.(metav1.Object); ok {
			m.SetManagedFields(nil)
		}
		return obj, nil
	}
	k.nodeInformer = coreinformers.NewNodeInformer(client, 0, cache.Indexers{})
	if err := k.nodeInformer.SetTransform(strip); err != nil {
		return nil, err
	}
	// One informer watches the pods of every node.
	k.podInformer = coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, 0, cache.Indexers{nodeNameIndex: indexByNodeName},
		func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" })
	if err := k.podInformer.SetTransform(strip); err != nil {
		return nil, err
	}
	if _, err := k.nodeInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.nodeChanged(obj) },
		UpdateFunc: func(_, obj any) { k.nodeChanged(obj) },
		DeleteFunc: k.nodeDeleted,
	}); err != nil {
		return nil, err
	}
	if _, err := k.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    k.enqueuePod,
		UpdateFunc: func(_, obj any) { k.enqueuePod(obj) },
		DeleteFunc: k.enqueuePod,
	}); err != nil {
		return nil, err
	}
	return k, nil
}

// NodeNames are the names of the nodes played, in order.
func (k *Kubelet) NodeNames() []string {
	names := make([]string, len(k.order))
	for i, n := range k.order {
		names[i] = n.name
	}
	return names
}

// Run registers the nodes and plays them until ctx ends.
func (k *Kubelet) Run(ctx context.Context) {
	defer utilruntime.HandleCrashWithContext(ctx)
	logger := klog.FromContext(ctx)
	logger.Info("Starting hollow kubelet", "nodes", len(k.order), "prefix", k.opts.Prefix)
	var wg sync.WaitGroup
	defer func() {
		k.nodeQueue.ShutDown()
		k.podQueue.ShutDown()
		wg.Wait()
	}()
	wg.Go(func() { k.nodeInformer.Run(ctx.Done()) })
	wg.Go(func() { k.podInformer.Run(ctx.Done()) })
	if !cache.WaitForNamedCacheSyncWithContext(ctx, k.nodeInformer.HasSynced, k.podInformer.HasSynced) {
		return
	}
	for _, n := range k.order {
		k.nodeQueue.Add(nodeWork{n.name, workRegister})
	}
	for range k.opts.NodeWorkers {
		wg.Go(func() {
			for k.nextNodeWork(ctx) {
			}
		})
	}
	for range k.opts.PodWorkers {
		wg.Go(func() {
			for k.nextPod(ctx) {
			}
		})
	}
	wg.Go(func() { k.tick(ctx) })
	<-ctx.Done()
}

// tick is the one timer of every node: each second it renews the leases of
// a tenth of the nodes and reports the status of those due.
func (k *Kubelet) tick(ctx context.Context) {
	buckets := int(LeaseRenewInterval / time.Second)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for second := 0; ; second++ {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for i := second % buckets; i < len(k.order); i += buckets {
				n := k.order[i]
				if !n.isActive() {
					continue
				}
				k.nodeQueue.Add(nodeWork{n.name, workLease})
				if now.Sub(n.lastReport()) >= StatusReportFrequency {
					k.nodeQueue.Add(nodeWork{n.name, workStatus})
				}
			}
		}
	}
}

type workKind int

const (
	workRegister workKind = iota
	workLease
	workStatus
)

type nodeWork struct {
	name string
	kind workKind
}

func (k *Kubelet) nextNodeWork(ctx context.Context) bool {
	w, quit := k.nodeQueue.Get()
	if quit {
		return false
	}
	defer k.nodeQueue.Done(w)
	n := k.nodes[w.name]
	var err error
	switch w.kind {
	case workRegister:
		err = k.register(ctx, n)
	case workLease:
		err = k.renewLease(ctx, n)
	case workStatus:
		err = k.reportStatus(ctx, n)
	}
	if err != nil && ctx.Err() == nil {
		klog.FromContext(ctx).V(2).Info("Hollow node work failed, retrying", "node", n.name, "work", w.kind, "err", err)
		k.nodeQueue.AddRateLimited(w)
		return true
	}
	k.nodeQueue.Forget(w)
	return true
}

// node is one hollow node's state.
type node struct {
	name  string
	index int
	ip    string

	mu         sync.Mutex
	uid        types.UID
	registered bool
	removed    bool
	reported   time.Time
	lease      *coordinationv1.Lease
	pool       *ipPool
	started    metav1.Time // for Ready's lastTransitionTime on first report
}

func (n *node) isActive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.registered && !n.removed
}

func (n *node) lastReport() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reported
}

func (n *node) ipPool() *ipPool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return nil
	}
	return n.pool
}

// initialNode is what kubelet registers: labels it sets itself, the
// attach/detach annotation, and a full status.
func (k *Kubelet) initialNode(n *node) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.name,
			Labels: map[string]string{
				corev1.LabelHostname:      n.name,
				corev1.LabelOSStable:      "linux",
				corev1.LabelArchStable:    runtime.GOARCH,
				"beta.kubernetes.io/os":   "linux",
				"beta.kubernetes.io/arch": runtime.GOARCH,
			},
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		},
		Status: k.nodeStatus(n, nil, time.Now()),
	}
}

// nodeStatus is the status kubelet would compute now, keeping the
// transition times of conditions that did not change in old.
func (k *Kubelet) nodeStatus(n *node, old *corev1.Node, now time.Time) corev1.NodeStatus {
	heartbeat := metav1.NewTime(now).Rfc3339Copy()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: heartbeat, LastTransitionTime: heartbeat}
		if old != nil {
			for _, o := range old.Status.Conditions {
				if o.Type == t && o.Status == s {
					c.LastTransitionTime = o.LastTransitionTime
				}
			}
		}
		return c
	}
	sum := sha256.Sum256([]byte(n.name))
	id := hex.EncodeToString(sum[:16])
	return corev1.NodeStatus{
		Capacity:    k.opts.Capacity.DeepCopy(),
		Allocatable: k.opts.Allocatable.DeepCopy(),
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.ip},
			{Type: corev1.NodeHostName, Address: n.name},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: KubeletPort}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               id,
			SystemUUID:              id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32],
			BootID:                  id,
			KernelVersion:           "6.1.0-hollow",
			OSImage:                 "skiff hollow node",
			ContainerRuntimeVersion: RuntimePrefix + "1.0.0",
			KubeletVersion:          kubeletVersion(),
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
		},
	}
}

func kubeletVersion() string {
	if v := version.Get().GitVersion; v != "" && v != "v0.0.0-master+$Format:%H$" {
		return v
	}
	return "v1.37.2"
}

// register creates the node, or takes over the one of that name, then
// reports its status and starts its lease.
func (k *Kubelet) register(ctx context.Context, n *node) error {
	created, err := k.client.CoreV1().Nodes().Create(ctx, k.initialNode(n), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = k.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("registering node %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.uid = created.UID
	n.registered = true
	n.mu.Unlock()
	k.nodeChanged(created)
	if err := k.reportStatus(ctx, n); err != nil {
		return err
	}
	klog.FromContext(ctx).V(2).Info("Registered hollow node", "node", n.name)
	// Pods bound before the node was registered were passed over.
	k.enqueuePodsOf(n.name)
	return k.renewLease(ctx, n)
}

// reportStatus patches the node's status as kubelet's status loop does.
func (k *Kubelet) reportStatus(ctx context.Context, n *node) error {
	if !n.isActive() {
		return nil
	}
	var old *corev1.Node
	if obj, ok, _ := k.nodeInformer.GetStore().GetByKey(n.name); ok {
		old = obj.(*corev1.Node)
	}
	now := time.Now()
	patch, err := nodeStatusPatch(k.nodeStatus(n, old, now))
	if err != nil {
		return err
	}
	if _, err := k.client.CoreV1().Nodes().PatchStatus(ctx, n.name, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // nodeDeleted forgets it
		}
		return fmt.Errorf("updating the status of node %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.reported = now
	n.mu.Unlock()
	return nil
}

func nodeStatusPatch(status corev1.NodeStatus) ([]byte, error) {
	type patch struct {
		Status corev1.NodeStatus `json:"status"`
	}
	b, err := jsonMarshal(patch{status})
	if err != nil {
		return nil, fmt.Errorf("encoding a node status patch: %w", err)
	}
	return b, nil
}

// renewLease renews the node's lease in kube-node-lease, creating it
// owned by the node when missing, as kubelet's lease controller does.
func (k *Kubelet) renewLease(ctx context.Context, n *node) error {
	n.mu.Lock()
	lease, uid, active := n.lease, n.uid, n.registered && !n.removed
	n.mu.Unlock()
	if !active {
		return nil
	}
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	var err error
	if lease != nil {
		l := lease.DeepCopy()
		l.Spec.RenewTime = &now
		l.Spec.HolderIdentity = ptr.To(n.name)
		lease, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			lease = nil
		}
	}
	if lease == nil {
		// Creating first saves a request per node on a fresh cluster.
		lease, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.name, Namespace: corev1.NamespaceNodeLease,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: uid}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(n.name),
				LeaseDurationSeconds: ptr.To(int32(LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		created := err == nil
		if apierrors.IsAlreadyExists(err) {
			lease, err = leases.Get(ctx, n.name, metav1.GetOptions{})
		}
		if err == nil && !created {
			l := lease.DeepCopy()
			l.Spec.RenewTime = &now
			l.Spec.HolderIdentity = ptr.To(n.name)
			l.Spec.LeaseDurationSeconds = ptr.To(int32(LeaseDuration / time.Second))
			if len(l.OwnerReferences) == 0 {
				l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.name, UID: uid}}
			}
			lease, err = leases.Update(ctx, l, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		n.mu.Lock()
		n.lease = nil
		n.mu.Unlock()
		return fmt.Errorf("renewing the lease of node %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.lease = lease
	n.mu.Unlock()
	return nil
}

// nodeChanged follows a node of ours: its pod CIDR gives pods their IPs,
// and a status that someone else changed (the node lifecycle controller
// marking it Unknown, say) is corrected at once, as kubelet's
// change-triggered report does.
func (k *Kubelet) nodeChanged(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	n := k.nodes[node.Name]
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.removed || !n.registered || node.UID != n.uid {
		n.mu.Unlock()
		return
	}
	if len(node.Spec.PodCIDRs) > 0 && (n.pool == nil || n.pool.cidr.String() != node.Spec.PodCIDRs[0]) {
		if _, cidr, err := net.ParseCIDR(node.Spec.PodCIDRs[0]); err == nil {
			n.pool = newIPPool(cidr)
		}
	}
	n.mu.Unlock()
	if !statusLooksOurs(node) {
		k.nodeQueue.Add(nodeWork{n.name, workStatus})
	}
}

func statusLooksOurs(node *corev1.Node) bool {
	want := map[corev1.NodeConditionType]corev1.ConditionStatus{
		corev1.NodeReady: corev1.ConditionTrue, corev1.NodeMemoryPressure: corev1.ConditionFalse,
		corev1.NodeDiskPressure: corev1.ConditionFalse, corev1.NodePIDPressure: corev1.ConditionFalse,
	}
	for _, c := range node.Status.Conditions {
		if s, ok := want[c.Type]; ok && s == c.Status {
			delete(want, c.Type)
		}
	}
	return len(want) == 0 && len(node.Status.Addresses) > 0
}

// nodeDeleted forgets a node that was removed, with its pods and lease.
func (k *Kubelet) nodeDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	n := k.nodes[node.Name]
	if n == nil {
		return
	}
	n.mu.Lock()
	if node.UID != n.uid {
		n.mu.Unlock()
		return
	}
	n.removed = true
	n.lease = nil
	n.pool = nil
	n.mu.Unlock()
	k.mu.Lock()
	for key, p := range k.pods {
		if p.node == n {
			delete(k.pods, key)
		}
	}
	k.mu.Unlock()
	klog.InfoS("Hollow node was deleted; forgetting it and its pods", "node", node.Name)
}

// ipBytes is ip in its shortest form.
func ipBytes(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// twoWayStatusPatch is the strategic merge patch from old to new status,
// with the pod's UID as precondition, as kubelet's status manager sends.
func twoWayStatusPatch(uid types.UID, old, new *corev1.PodStatus) ([]byte, error) {
	type podPatch struct {
		Metadata struct {
			UID types.UID `json:"uid"`
		} `json:"metadata"`
		Status *corev1.PodStatus `json:"status"`
	}
	var a, b podPatch
	a.Metadata.UID, b.Metadata.UID = uid, uid
	a.Status, b.Status = old, new
	oldJSON, err := jsonMarshal(a)
	if err != nil {
		return nil, err
	}
	newJSON, err := jsonMarshal(b)
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("computing a pod status patch: %w", err)
	}
	// The UID is the same on both sides, so it is put back as precondition.
	return addUIDPrecondition(patch, uid)
}

const nodeNameIndex = "spec.nodeName"

func indexByNodeName(obj any) ([]string, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		return []string{pod.Spec.NodeName}, nil
	}
	return nil, nil
}

func (k *Kubelet) enqueuePodsOf(nodeName string) {
	keys, err := k.podInformer.GetIndexer().IndexKeys(nodeNameIndex, nodeName)
	if err != nil {
		return
	}
	for _, key := range keys {
		k.podQueue.Add(key)
	}
}
