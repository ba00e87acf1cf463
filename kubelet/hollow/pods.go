package hollow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Kubelet's container restart back-off: 10s doubling up to 5 minutes.
const (
	initialBackOff = 10 * time.Second
	maxBackOff     = 5 * time.Minute
	// noCIDRRetry is how soon a pod waiting for its node's pod CIDR is
	// looked at again.
	noCIDRRetry = time.Second
)

// Exit code and reason of a container stopped at the end of its pod's
// grace period.
const (
	killedExitCode = 137
)

func (k *Kubelet) enqueuePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		k.podQueue.Add(tomb.Key)
		return
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || k.nodes[pod.Spec.NodeName] == nil {
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
		k.podQueue.Add(key)
	}
}

func (k *Kubelet) nextPod(ctx context.Context) bool {
	key, quit := k.podQueue.Get()
	if quit {
		return false
	}
	defer k.podQueue.Done(key)
	after, err := k.syncPod(ctx, key)
	switch {
	case err != nil && ctx.Err() == nil:
		klog.FromContext(ctx).V(2).Info("Hollow pod sync failed, retrying", "pod", key, "err", err)
		k.podQueue.AddRateLimited(key)
	default:
		k.podQueue.Forget(key)
		if after > 0 {
			k.podQueue.AddAfter(key, after)
		}
	}
	return true
}

// podState is what the hollow runtime knows of one pod: its sandbox and
// its containers.
type podState struct {
	uid     types.UID
	node    *node
	pool    *ipPool
	ip      net.IP // nil until the sandbox exists; the node's for host network
	started metav1.Time
	init    []*ctr
	ctrs    []*ctr
	killAt  time.Time
	// done means the terminal status was written; the pod runs no more.
	done          bool
	restartPolicy corev1.RestartPolicy
}

// ctr is one container's life in the hollow runtime.
type ctr struct {
	name      string
	sidecar   bool
	runFor    time.Duration // how long each run lasts; 0 is for ever
	exitCode  int32
	id        string
	startedAt metav1.Time // as reported: whole seconds
	// runningSince is when the run began, to the nanosecond, so that a
	// run never ends before runFor has passed.
	runningSince time.Time
	running      bool
	terminated   *corev1.ContainerStateTerminated
	last         *corev1.ContainerStateTerminated
	restarts     int32
	backOffUntil time.Time
	backOff      time.Duration
}

func (c *ctr) start(now time.Time) {
	c.id = newContainerID()
	c.startedAt = metav1.NewTime(now).Rfc3339Copy()
	c.runningSince = now
	c.running = true
	if c.terminated != nil {
		c.last = c.terminated
		c.terminated = nil
		c.restarts++
	}
}

func (c *ctr) stop(at time.Time, code int32) {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.running = false
	c.terminated = &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: c.startedAt,
		FinishedAt: metav1.NewTime(at).Rfc3339Copy(), ContainerID: c.id,
	}
}

// exitsAt is when a running container exits by itself.
func (c *ctr) exitsAt() time.Time {
	if !c.running || c.runFor == 0 {
		return time.Time{}
	}
	return c.runningSince.Add(c.runFor)
}

func newContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return RuntimePrefix + hex.EncodeToString(b)
}

// syncPod plays the kubelet for one pod, returning how soon to look again.
func (k *Kubelet) syncPod(ctx context.Context, key string) (time.Duration, error) {
	obj, exists, err := k.podInformer.GetIndexer().GetByKey(key)
	if err != nil {
		return 0, err
	}
	if !exists {
		k.forget(key, "")
		return 0, nil
	}
	pod := obj.(*corev1.Pod)
	n := k.nodes[pod.Spec.NodeName]
	if n == nil || !n.isActive() {
		k.forget(key, "")
		return 0, nil
	}
	k.mu.Lock()
	st := k.pods[key]
	k.mu.Unlock()
	if st != nil && st.uid != pod.UID {
		k.forget(key, st.uid)
		st = nil
	}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if terminal && (st == nil || st.done) {
		// A grace period of 0 is this kubelet's own delete, which the
		// pod's finalizers hold up.
		if pod.DeletionTimestamp != nil && ptr.Deref(pod.DeletionGracePeriodSeconds, 1) != 0 {
			return 0, k.deletePod(ctx, key, pod)
		}
		return 0, nil
	}
	now := time.Now()
	if st == nil {
		st = newPodState(pod, n, now)
		k.mu.Lock()
		k.pods[key] = st
		k.mu.Unlock()
	}

	if pod.DeletionTimestamp != nil {
		if st.killAt.IsZero() {
			grace := time.Duration(ptr.Deref(pod.DeletionGracePeriodSeconds, 0)) * time.Second
			st.killAt = now.Add(min(grace, k.opts.TerminationCap))
		}
		if wait := st.killAt.Sub(now); wait > 0 {
			return wait, nil
		}
		if st.ip != nil && !st.done {
			for _, c := range append(append([]*ctr{}, st.init...), st.ctrs...) {
				if c.running {
					c.stop(now, killedExitCode)
				}
			}
			if err := k.writeStatus(ctx, pod, st, n, now); err != nil {
				return 0, err
			}
		}
		return 0, k.deletePod(ctx, key, pod)
	}

	if st.ip == nil {
		if ok, err := st.createSandbox(pod, n); err != nil {
			return 0, err
		} else if !ok {
			return noCIDRRetry, nil
		}
	}
	next := st.advance(now)
	if err := k.writeStatus(ctx, pod, st, n, now); err != nil {
		return 0, err
	}
	if st.phase() == corev1.PodSucceeded || st.phase() == corev1.PodFailed {
		st.done = true
		st.releaseIP()
		return 0, nil
	}
	if next.IsZero() {
		return 0, nil
	}
	return max(next.Sub(now), 10*time.Millisecond), nil
}

func (k *Kubelet) deletePod(ctx context.Context, key string, pod *corev1.Pod) error {
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting pod %s: %w", key, err)
	}
	k.forget(key, pod.UID)
	return nil
}

// forget drops the state of the pod at key (only of uid, if given) and
// gives its address back.
func (k *Kubelet) forget(key string, uid types.UID) {
	k.mu.Lock()
	st := k.pods[key]
	if st != nil && (uid == "" || st.uid == uid) {
		delete(k.pods, key)
	} else {
		st = nil
	}
	k.mu.Unlock()
	if st != nil {
		st.releaseIP()
	}
}

func newPodState(pod *corev1.Pod, n *node, now time.Time) *podState {
	st := &podState{uid: pod.UID, node: n, restartPolicy: pod.Spec.RestartPolicy}
	runFor, _ := time.ParseDuration(pod.Annotations[DurationAnnotation])
	code := int32(0)
	if c, err := strconv.ParseInt(pod.Annotations[ExitCodeAnnotation], 10, 32); err == nil {
		code = int32(c)
	}
	for _, c := range pod.Spec.InitContainers {
		d, _ := sleepDuration(&c)
		st.init = append(st.init, &ctr{name: c.Name, sidecar: c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways, runFor: d})
	}
	for _, c := range pod.Spec.Containers {
		d, ok := sleepDuration(&c)
		if !ok {
			d = runFor
		}
		st.ctrs = append(st.ctrs, &ctr{name: c.Name, runFor: d, exitCode: code})
	}
	st.adopt(pod)
	return st
}

// adopt takes over what an earlier run of the hollow kubelet started, so
// that a restart neither changes a pod's IP nor restarts its containers.
func (st *podState) adopt(pod *corev1.Pod) {
	if pod.Status.PodIP == "" || pod.Status.StartTime == nil {
		return
	}
	st.started = *pod.Status.StartTime
	st.ip = net.ParseIP(pod.Status.PodIP)
	if !pod.Spec.HostNetwork {
		if pool := st.node.ipPool(); pool != nil && pool.occupy(st.ip) {
			st.pool = pool
		}
	}
	take := func(cs []*ctr, statuses []corev1.ContainerStatus) {
		for _, c := range cs {
			for _, s := range statuses {
				if s.Name != c.name || s.ContainerID == "" {
					continue
				}
				c.id, c.restarts, c.last = s.ContainerID, s.RestartCount, s.LastTerminationState.Terminated
				switch {
				case s.State.Running != nil:
					c.running, c.startedAt = true, s.State.Running.StartedAt
					// The status keeps whole seconds: rounding up never
					// ends the run early.
					c.runningSince = c.startedAt.Add(time.Second - time.Nanosecond)
				case s.State.Terminated != nil:
					c.terminated = s.State.Terminated.DeepCopy()
					c.startedAt = c.terminated.StartedAt
				}
			}
		}
	}
	take(st.init, pod.Status.InitContainerStatuses)
	take(st.ctrs, pod.Status.ContainerStatuses)
}

// createSandbox gives the pod its address, reporting false while the node
// has no pod CIDR yet (a kubelet's network is not ready then either).
func (st *podState) createSandbox(pod *corev1.Pod, n *node) (bool, error) {
	if pod.Spec.HostNetwork {
		st.ip = net.ParseIP(n.ip)
		st.started = metav1.Now().Rfc3339Copy()
		return true, nil
	}
	pool := n.ipPool()
	if pool == nil {
		return false, nil
	}
	ip, err := pool.allocate()
	if err != nil {
		return false, fmt.Errorf("pod %s/%s on node %s: %w", pod.Namespace, pod.Name, n.name, err)
	}
	st.ip, st.pool = ip, pool
	st.started = metav1.Now().Rfc3339Copy()
	return true, nil
}

func (st *podState) releaseIP() {
	if st.pool != nil && st.ip != nil {
		st.pool.release(st.ip)
		st.pool = nil
	}
}

// advance runs the pod's containers up to now, as the kubelet's pod worker
// would: init containers one after another (restartable ones stay up),
// then every container, exits when their time is up and restarts after
// back-off as the restart policy says. It returns the next moment
// something happens, or zero.
func (st *podState) advance(now time.Time) time.Time {
	policy := st.restartPolicy
	var next time.Time
	soonest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	// run moves c forward to now and reports whether it has completed
	// (for a regular init container: exited 0).
	run := func(c *ctr, restartable func(code int32) bool) {
		for {
			switch {
			case c.running:
				at := c.exitsAt()
				if at.IsZero() || at.After(now) {
					soonest(at)
					return
				}
				c.stop(at, c.exitCode)
			case c.terminated == nil && c.id == "":
				c.start(now)
			case c.terminated != nil && restartable(c.terminated.ExitCode):
				if c.backOffUntil.IsZero() {
					c.backOff = min(max(c.backOff*2, initialBackOff), maxBackOff)
					c.backOffUntil = c.terminated.FinishedAt.Add(c.backOff)
				}
				if c.backOffUntil.After(now) {
					soonest(c.backOffUntil)
					return
				}
				c.backOffUntil = time.Time{}
				c.start(now)
			default:
				return
			}
		}
	}
	always := func(int32) bool { return true }
	never := func(int32) bool { return false }
	onFailure := func(code int32) bool { return code != 0 }
	byPolicy := never
	switch policy {
	case corev1.RestartPolicyAlways:
		byPolicy = always
	case corev1.RestartPolicyOnFailure:
		byPolicy = onFailure
	}
	initRestart := onFailure
	if policy == corev1.RestartPolicyNever {
		initRestart = never
	}
	for _, c := range st.init {
		if c.sidecar {
			run(c, always)
			continue
		}
		// Init containers here exit 0 unless killed.
		c.exitCode = 0
		run(c, initRestart)
		if c.terminated == nil || c.terminated.ExitCode != 0 {
			return next
		}
	}
	for _, c := range st.ctrs {
		run(c, byPolicy)
	}
	return next
}

func (st *podState) initDone() bool {
	for _, c := range st.init {
		if !c.sidecar && (c.terminated == nil || c.terminated.ExitCode != 0) {
			return false
		}
	}
	return true
}

// phase is kubelet's getPhase for the hollow runtime's states.
func (st *podState) phase() corev1.PodPhase {
	if st.ip == nil {
		return corev1.PodPending
	}
	if !st.killAt.IsZero() {
		// A pod stopped for its deletion ends terminal whatever it was
		// doing: Succeeded only if every container had exited 0.
		for _, c := range st.ctrs {
			if c.terminated == nil || c.terminated.ExitCode != 0 {
				return corev1.PodFailed
			}
		}
		return corev1.PodSucceeded
	}
	for _, c := range st.init {
		if !c.sidecar && c.terminated != nil && c.terminated.ExitCode != 0 && !c.running && st.restartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
	}
	if !st.initDone() {
		return corev1.PodPending
	}
	stopped, succeeded := 0, 0
	for _, c := range st.ctrs {
		switch {
		case c.running || c.id == "":
			return corev1.PodRunning
		case c.terminated != nil:
			code := c.terminated.ExitCode
			if st.restartPolicy == corev1.RestartPolicyAlways || (st.restartPolicy == corev1.RestartPolicyOnFailure && code != 0) {
				return corev1.PodRunning
			}
			stopped++
			if code == 0 {
				succeeded++
			}
		}
	}
	if stopped == len(st.ctrs) {
		if succeeded == stopped {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	}
	return corev1.PodRunning
}

var (
	sleepArg   = regexp.MustCompile(`^\s*(?:exec\s+)?sleep\s+(\S+)\s*;?\s*$`)
	shellNames = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true}
)

// sleepDuration reads `sleep N` or `sh -c "sleep N"` from a container's
// command line; "infinity" and anything else runs for ever.
func sleepDuration(c *corev1.Container) (time.Duration, bool) {
	argv := append(append([]string{}, c.Command...), c.Args...)
	if len(argv) == 0 {
		return 0, false
	}
	var arg string
	switch base := path.Base(argv[0]); {
	case base == "sleep" && len(argv) == 2:
		arg = argv[1]
	case shellNames[base] && len(argv) == 3 && argv[1] == "-c":
		m := sleepArg.FindStringSubmatch(argv[2])
		if m == nil {
			return 0, false
		}
		arg = m[1]
	default:
		return 0, false
	}
	if arg == "infinity" {
		return 0, true
	}
	unit := time.Second
	switch {
	case strings.HasSuffix(arg, "s"):
		arg = strings.TrimSuffix(arg, "s")
	case strings.HasSuffix(arg, "m"):
		arg, unit = strings.TrimSuffix(arg, "m"), time.Minute
	case strings.HasSuffix(arg, "h"):
		arg, unit = strings.TrimSuffix(arg, "h"), time.Hour
	case strings.HasSuffix(arg, "d"):
		arg, unit = strings.TrimSuffix(arg, "d"), 24*time.Hour
	}
	f, err := strconv.ParseFloat(arg, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	// A sleep of 0 exits at once; time 0 here would mean "for ever".
	return max(time.Duration(f*float64(unit)), time.Nanosecond), true
}

// writeStatus sends the status kubelet would report, if it differs from
// what the API holds.
func (k *Kubelet) writeStatus(ctx context.Context, pod *corev1.Pod, st *podState, n *node, now time.Time) error {
	status := st.apiStatus(pod, n, now)
	if apiequality.Semantic.DeepEqual(&pod.Status, status) {
		return nil
	}
	patch, err := twoWayStatusPatch(pod.UID, &pod.Status, status)
	if err != nil {
		return err
	}
	_, err = k.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// apiStatus is kubelet's generateAPIPodStatus for the hollow runtime.
func (st *podState) apiStatus(pod *corev1.Pod, n *node, now time.Time) *corev1.PodStatus {
	s := pod.Status.DeepCopy()
	phase := st.phase()
	if old := pod.Status.Phase; old == corev1.PodSucceeded || old == corev1.PodFailed {
		phase = old // the API refuses to leave a terminal phase
	}
	s.Phase = phase
	s.ObservedGeneration = pod.Generation
	s.HostIP = n.ip
	s.HostIPs = []corev1.HostIP{{IP: n.ip}}
	if st.ip != nil {
		s.PodIP = st.ip.String()
		s.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
		if s.StartTime == nil {
			s.StartTime = ptr.To(st.started)
		}
	}
	if s.StartTime == nil {
		s.StartTime = ptr.To(metav1.NewTime(now).Rfc3339Copy())
	}
	s.InitContainerStatuses = containerStatuses(pod.Spec.InitContainers, st.init, true, pod, st)
	s.ContainerStatuses = containerStatuses(pod.Spec.Containers, st.ctrs, false, pod, st)

	conds := make([]corev1.PodCondition, 0, len(pod.Status.Conditions)+5)
	for _, c := range pod.Status.Conditions {
		if !ownedByKubelet(c.Type) {
			conds = append(conds, c)
		}
	}
	gen := pod.Generation
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, ObservedGeneration: gen, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		c.LastTransitionTime = metav1.NewTime(now).Rfc3339Copy()
		for _, o := range pod.Status.Conditions {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	terminalReason := ""
	switch phase {
	case corev1.PodSucceeded:
		terminalReason = "PodCompleted"
	case corev1.PodFailed:
		terminalReason = "PodFailed"
	}

	// Kubelet's PodSandboxNotReady messages: none yet, or stopped once
	// the pod is done.
	sandboxMsg := "no pod sandbox exists"
	if st.ip != nil {
		sandboxMsg = "pod sandbox is not ready"
	}
	conds = append(conds, cond(corev1.PodReadyToStartContainers, st.ip != nil && terminalReason == "", "PodSandboxNotReady", sandboxMsg))

	var incomplete []string
	for _, c := range st.init {
		if c.sidecar {
			if !c.running {
				incomplete = append(incomplete, c.name)
			}
		} else if c.terminated == nil || c.terminated.ExitCode != 0 {
			incomplete = append(incomplete, c.name)
		}
	}
	anyStarted := false
	for _, c := range st.ctrs {
		anyStarted = anyStarted || c.id != ""
	}
	switch {
	case phase == corev1.PodSucceeded:
		c := cond(corev1.PodInitialized, true, "", "")
		c.Reason = "PodCompleted"
		conds = append(conds, c)
	case len(incomplete) == 0 || anyStarted:
		conds = append(conds, cond(corev1.PodInitialized, true, "", ""))
	default:
		conds = append(conds, cond(corev1.PodInitialized, false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: %s", incomplete)))
	}

	var ready corev1.PodCondition
	var containersReady corev1.PodCondition
	if terminalReason != "" {
		containersReady = cond(corev1.ContainersReady, false, terminalReason, "")
		ready = cond(corev1.PodReady, false, terminalReason, "")
	} else {
		var unready []string
		for _, cs := range append(append([]corev1.ContainerStatus{}, sidecarStatuses(pod, s.InitContainerStatuses)...), s.ContainerStatuses...) {
			if !cs.Ready {
				unready = append(unready, cs.Name)
			}
		}
		if len(unready) > 0 {
			msg := fmt.Sprintf("containers with unready status: %s", unready)
			containersReady = cond(corev1.ContainersReady, false, "ContainersNotReady", msg)
			ready = cond(corev1.PodReady, false, "ContainersNotReady", msg)
		} else {
			containersReady = cond(corev1.ContainersReady, true, "", "")
			var gates []string
			for _, rg := range pod.Spec.ReadinessGates {
				var found *corev1.PodCondition
				for i := range pod.Status.Conditions {
					if pod.Status.Conditions[i].Type == rg.ConditionType {
						found = &pod.Status.Conditions[i]
					}
				}
				switch {
				case found == nil:
					gates = append(gates, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(rg.ConditionType)))
				case found.Status != corev1.ConditionTrue:
					gates = append(gates, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(rg.ConditionType), found.Status))
				}
			}
			if len(gates) > 0 {
				ready = cond(corev1.PodReady, false, "ReadinessGatesNotReady", strings.Join(gates, ", "))
			} else {
				ready = cond(corev1.PodReady, true, "", "")
			}
		}
	}
	conds = append(conds, ready, containersReady)
	conds = append(conds, cond(corev1.PodScheduled, true, "", ""))
	s.Conditions = conds
	return s
}

func sidecarStatuses(pod *corev1.Pod, statuses []corev1.ContainerStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways && i < len(statuses) {
			out = append(out, statuses[i])
		}
	}
	return out
}

func ownedByKubelet(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers,
		corev1.PodResizePending, corev1.PodResizeInProgress:
		return true
	}
	return false
}

func containerStatuses(spec []corev1.Container, cs []*ctr, init bool, pod *corev1.Pod, st *podState) []corev1.ContainerStatus {
	if len(spec) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(spec))
	for i, c := range spec {
		r := cs[i]
		s := corev1.ContainerStatus{
			Name:         c.Name,
			Image:        c.Image,
			ImageID:      imageID(c.Image),
			RestartCount: r.restarts,
			ContainerID:  r.id,
			Started:      ptr.To(r.running),
		}
		if r.last != nil {
			s.LastTerminationState.Terminated = r.last.DeepCopy()
		}
		switch {
		case r.running:
			s.State.Running = &corev1.ContainerStateRunning{StartedAt: r.startedAt}
			// Probes succeed at once in the hollow runtime; a regular init
			// container is never ready while it runs.
			s.Ready = c.RestartPolicy != nil || !init
		case r.terminated != nil && !r.backOffUntil.IsZero():
			s.LastTerminationState.Terminated = r.terminated.DeepCopy()
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", r.backOff, c.Name, pod.Name, pod.Namespace, pod.UID)}
			s.ContainerID = ""
		case r.terminated != nil:
			s.State.Terminated = r.terminated.DeepCopy()
			// A regular init container that completed is ready.
			s.Ready = init && c.RestartPolicy == nil && r.terminated.ExitCode == 0
		default:
			reason := "ContainerCreating"
			if init {
				reason = "PodInitializing"
			}
			if !init && !st.initDone() {
				reason = "PodInitializing"
			}
			s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason}
			s.ImageID, s.Started = "", ptr.To(false)
		}
		out[i] = s
	}
	return out
}

// imageID is a stable digest reference for an image, as a runtime reports
// the image it pulled.
func imageID(image string) string {
	repo := image
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	sum := sha256.Sum256([]byte(image))
	return repo + "@sha256:" + hex.EncodeToString(sum[:])
}
