package hollow_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
	"github.com/skiff-dev/skiff/kubelet/hollow"
)

// smokeNodes hollow nodes serve every test of the package; the smoke test
// spreads its pods over all of them.
const smokeNodes = 200

var server *testserver.Server

func TestMain(m *testing.M) {
	// Every controller runs, node lifecycle and pod GC included: the
	// hollow kubelet must hold its own beside them, as a kubelet does.
	os.Exit(testserver.Main(m, testserver.Options{HollowNodes: smokeNodes}, func(s *testserver.Server) { server = s }))
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func nodeName(i int) string { return fmt.Sprintf("hollow-node-%d", i) }

// allNodesReady waits until every hollow node is Ready with a pod CIDR.
func allNodesReady(t *testing.T, c kubernetes.Interface, timeout time.Duration) {
	t.Helper()
	poll(t, timeout, "all hollow nodes Ready", func(ctx context.Context) (bool, error) {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range nodes.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue && n.Spec.PodCIDR != "" {
					ready++
				}
			}
		}
		return ready == smokeNodes, nil
	})
}

func TestNodesReadyWithLeases(t *testing.T) {
	c := clientset(t)
	allNodesReady(t, c, 2*time.Minute)
	n, err := c.CoreV1().Nodes().Get(context.Background(), nodeName(0), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[corev1.NodeConditionType]string{
		corev1.NodeReady: "KubeletReady", corev1.NodeMemoryPressure: "KubeletHasSufficientMemory",
		corev1.NodeDiskPressure: "KubeletHasNoDiskPressure", corev1.NodePIDPressure: "KubeletHasSufficientPID",
	}
	for _, cond := range n.Status.Conditions {
		if r, ok := want[cond.Type]; ok && r == cond.Reason {
			delete(want, cond.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("conditions without kubelet's reasons: %v (have %+v)", want, n.Status.Conditions)
	}
	for k, v := range map[string]string{corev1.LabelHostname: nodeName(0), corev1.LabelOSStable: "linux"} {
		if n.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	if n.Status.NodeInfo.KubeletVersion == "" || n.Status.DaemonEndpoints.KubeletEndpoint.Port != hollow.KubeletPort || len(n.Status.Addresses) == 0 {
		t.Errorf("incomplete status: %+v", n.Status)
	}
	if q := n.Status.Capacity[corev1.ResourcePods]; q.Value() != 110 {
		t.Errorf("pods capacity %s, want 110", q.String())
	}

	leases := c.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	first, err := leases.Get(context.Background(), nodeName(0), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(first.Spec.LeaseDurationSeconds, 0) != 40 || ptr.Deref(first.Spec.HolderIdentity, "") != nodeName(0) {
		t.Errorf("lease spec %+v, want duration 40 held by %s", first.Spec, nodeName(0))
	}
	if len(first.OwnerReferences) != 1 || first.OwnerReferences[0].UID != n.UID {
		t.Errorf("lease owners %+v, want the node %s", first.OwnerReferences, n.UID)
	}
	poll(t, 25*time.Second, "the lease to be renewed", func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, nodeName(0), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return l.Spec.RenewTime.After(first.Spec.RenewTime.Time), nil
	})
}

func newPod(name, node string, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func TestPodRunsWithIPFromNodeCIDR(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	ctx := context.Background()
	pods := c.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, newPod("web", nodeName(1), func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"sh", "-c", "sleep 1"}}}
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	poll(t, 30*time.Second, "pod web Ready", func(ctx context.Context) (bool, error) {
		var err error
		pod, err = pods.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		r := podCondition(pod, corev1.PodReady)
		return r != nil && r.Status == corev1.ConditionTrue, nil
	})
	node, err := c.CoreV1().Nodes().Get(ctx, nodeName(1), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
	if err != nil {
		t.Fatalf("node %s pod CIDR %q: %v", node.Name, node.Spec.PodCIDR, err)
	}
	if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !cidr.Contains(ip) || len(pod.Status.PodIPs) != 1 {
		t.Errorf("pod IP %q (%v) not in node pod CIDR %s", pod.Status.PodIP, pod.Status.PodIPs, cidr)
	}
	if pod.Status.Phase != corev1.PodRunning || pod.Status.HostIP == "" || pod.Status.StartTime == nil || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status %+v", pod.Status)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReadyToStartContainers} {
		if cond := podCondition(pod, ct); cond == nil || cond.Status != corev1.ConditionTrue {
			t.Errorf("condition %s: %+v", ct, cond)
		}
	}
	if len(pod.Status.InitContainerStatuses) != 1 || pod.Status.InitContainerStatuses[0].State.Terminated == nil ||
		pod.Status.InitContainerStatuses[0].State.Terminated.Reason != "Completed" {
		t.Errorf("init container statuses %+v", pod.Status.InitContainerStatuses)
	}
	if len(pod.Status.ContainerStatuses) != 1 {
		t.Fatalf("container statuses %+v", pod.Status.ContainerStatuses)
	}
	cs := pod.Status.ContainerStatuses[0]
	if !cs.Ready || !ptr.Deref(cs.Started, false) || cs.State.Running == nil || !strings.HasPrefix(cs.ContainerID, hollow.RuntimePrefix) || cs.ImageID == "" {
		t.Errorf("container status %+v", cs)
	}
}

func TestPodsRunToCompletion(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	tests := []struct {
		name        string
		command     []string
		annotations map[string]string
		policy      corev1.RestartPolicy
		wantPhase   corev1.PodPhase
		wantExit    int32
	}{
		{name: "sleep", command: []string{"sleep", "1"}, policy: corev1.RestartPolicyNever, wantPhase: corev1.PodSucceeded},
		{name: "shell-sleep", command: []string{"/bin/sh", "-c", "sleep 1"}, policy: corev1.RestartPolicyOnFailure, wantPhase: corev1.PodSucceeded},
		{name: "annotated-failure", annotations: map[string]string{hollow.DurationAnnotation: "1s", hollow.ExitCodeAnnotation: "2"},
			policy: corev1.RestartPolicyNever, wantPhase: corev1.PodFailed, wantExit: 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pods := c.CoreV1().Pods(ns)
			start := time.Now()
			if _, err := pods.Create(context.Background(), newPod(tt.name, nodeName(2+i), func(p *corev1.Pod) {
				p.Annotations = tt.annotations
				p.Spec.RestartPolicy = tt.policy
				p.Spec.Containers[0].Command = tt.command
			}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var pod *corev1.Pod
			poll(t, 30*time.Second, "a terminal phase", func(ctx context.Context) (bool, error) {
				var err error
				pod, err = pods.Get(ctx, tt.name, metav1.GetOptions{})
				return err == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed), err
			})
			if took := time.Since(start); took < 900*time.Millisecond {
				t.Errorf("terminal after %s, before the container's 1s", took)
			}
			if pod.Status.Phase != tt.wantPhase {
				t.Fatalf("phase %s, want %s", pod.Status.Phase, tt.wantPhase)
			}
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.ExitCode != tt.wantExit {
				t.Fatalf("terminated state %+v, want exit code %d", term, tt.wantExit)
			}
			if r := podCondition(pod, corev1.PodReady); r == nil || r.Status != corev1.ConditionFalse {
				t.Errorf("Ready condition of a finished pod: %+v", r)
			}
		})
	}
}

func TestRestartAlwaysCountsRestarts(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	pods := c.CoreV1().Pods(ns)
	if _, err := pods.Create(context.Background(), newPod("restarter", nodeName(6), func(p *corev1.Pod) {
		p.Spec.Containers[0].Command = []string{"sleep", "0"}
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Kubelet's first back-off is 10s.
	poll(t, 30*time.Second, "a restart", func(ctx context.Context) (bool, error) {
		pod, err := pods.Get(ctx, "restarter", metav1.GetOptions{})
		if err != nil || len(pod.Status.ContainerStatuses) == 0 {
			return false, err
		}
		cs := pod.Status.ContainerStatuses[0]
		if pod.Status.Phase != corev1.PodRunning {
			return false, fmt.Errorf("phase %s of a restartPolicy Always pod", pod.Status.Phase)
		}
		return cs.RestartCount >= 1 && cs.LastTerminationState.Terminated != nil, nil
	})
}

func TestReadinessGate(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	ctx := context.Background()
	pods := c.CoreV1().Pods(ns)
	const gate = "example.com/ready"
	if _, err := pods.Create(ctx, newPod("gated", nodeName(7), func(p *corev1.Pod) {
		p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "Ready False for the gate", func(ctx context.Context) (bool, error) {
		pod, err := pods.Get(ctx, "gated", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		r, cr := podCondition(pod, corev1.PodReady), podCondition(pod, corev1.ContainersReady)
		return r != nil && cr != nil && cr.Status == corev1.ConditionTrue && r.Status == corev1.ConditionFalse && r.Reason == "ReadinessGatesNotReady" &&
			r.Message == `corresponding condition of pod readiness gate "example.com/ready" does not exist.`, nil
	})
	pod, err := pods.Get(ctx, "gated", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	if _, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "Ready True once the gate is", func(ctx context.Context) (bool, error) {
		pod, err := pods.Get(ctx, "gated", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		r := podCondition(pod, corev1.PodReady)
		return r != nil && r.Status == corev1.ConditionTrue && podCondition(pod, gate) != nil, nil
	})
}

func TestDeletedPodGoesAfterGracePeriod(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	ctx := context.Background()
	pods := c.CoreV1().Pods(ns)
	if _, err := pods.Create(ctx, newPod("doomed", nodeName(8), nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "pod Running", func(ctx context.Context) (bool, error) {
		pod, err := pods.Get(ctx, "doomed", metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, err
	})
	start := time.Now()
	if err := pods.Delete(ctx, "doomed", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}); err != nil {
		t.Fatal(err)
	}
	pod, err := pods.Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod went before its grace period: %v", err)
	}
	if pod.DeletionTimestamp == nil {
		t.Fatal("no deletionTimestamp on a deleted pod")
	}
	poll(t, 20*time.Second, "the pod to be gone", func(ctx context.Context) (bool, error) {
		_, err := pods.Get(ctx, "doomed", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("gone after %s, before its 1s grace period", took)
	}
}

// TestSmoke binds ten pods to each hollow node at once and waits for all
// of them to run with distinct IPs from their node's CIDR, then deletes
// one on each node.
func TestSmoke(t *testing.T) {
	c := clientset(t)
	allNodesReady(t, c, 2*time.Minute)
	ns := testserver.Namespace(t, c)
	ctx := context.Background()
	pods := c.CoreV1().Pods(ns)
	const total = 10 * smokeNodes
	start := time.Now()
	parallel(t, total, func(i int) error {
		p := newPod(fmt.Sprintf("p-%d", i), nodeName(i%smokeNodes), nil)
		p.Labels = map[string]string{"smoke": "yes"}
		_, err := pods.Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	created := time.Since(start)
	var list *corev1.PodList
	poll(t, 3*time.Minute, "all pods Ready", func(ctx context.Context) (bool, error) {
		var err error
		list, err = pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for i := range list.Items {
			if r := podCondition(&list.Items[i], corev1.PodReady); r != nil && r.Status == corev1.ConditionTrue {
				ready++
			}
		}
		return ready == total, nil
	})
	t.Logf("%d pods on %d nodes: created in %s, all Ready after %s", total, smokeNodes, created, time.Since(start))

	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cidrs := map[string]*net.IPNet{}
	for _, n := range nodes.Items {
		_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			t.Fatalf("node %s pod CIDR %q: %v", n.Name, n.Spec.PodCIDR, err)
		}
		cidrs[n.Name] = cidr
	}
	seen := map[string]string{}
	for _, p := range list.Items {
		if other, dup := seen[p.Status.PodIP]; dup {
			t.Fatalf("pods %s and %s share IP %s", other, p.Name, p.Status.PodIP)
		}
		seen[p.Status.PodIP] = p.Name
		if !cidrs[p.Spec.NodeName].Contains(net.ParseIP(p.Status.PodIP)) {
			t.Fatalf("pod %s IP %s outside node %s CIDR %s", p.Name, p.Status.PodIP, p.Spec.NodeName, cidrs[p.Spec.NodeName])
		}
	}

	start = time.Now()
	// One by one in parallel, as a ReplicaSet scaling down would: the API
	// server deletes a collection with one worker, as upstream's default.
	// (bench/hollow deletes them all; one per node keeps make test short.)
	parallel(t, smokeNodes, func(i int) error {
		return pods.Delete(ctx, fmt.Sprintf("p-%d", i), metav1.DeleteOptions{})
	})
	poll(t, 3*time.Minute, "the deleted pods gone", func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{})
		return err == nil && len(list.Items) == total-smokeNodes, err
	})
	t.Logf("%d pods deleted (grace 30s, capped) in %s", smokeNodes, time.Since(start))
}

// parallel runs f(0..n-1) on 16 goroutines and fails on the first error.
func parallel(t *testing.T, n int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRemovedNodeIsForgotten deletes a hollow node (so it comes last: the
// other tests count on every node): its pods are left as they are, as
// they would be by a kubelet that is gone.
func TestRemovedNodeIsForgotten(t *testing.T) {
	c := clientset(t)
	ns := testserver.Namespace(t, c)
	ctx := context.Background()
	pods := c.CoreV1().Pods(ns)
	node := nodeName(smokeNodes - 1)
	if _, err := pods.Create(ctx, newPod("orphan", node, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "pod Running", func(ctx context.Context) (bool, error) {
		pod, err := pods.Get(ctx, "orphan", metav1.GetOptions{})
		return err == nil && pod.Status.Phase == corev1.PodRunning, err
	})
	if err := c.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Give the hollow kubelet time to see the node go.
	time.Sleep(2 * time.Second)
	if err := pods.Delete(ctx, "orphan", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	pod, err := pods.Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the pod of a removed node was deleted by its kubelet: %v", err)
	}
	if pod.Status.Phase != corev1.PodRunning {
		t.Errorf("the pod of a removed node went %s", pod.Status.Phase)
	}
	if _, err := c.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the removed node came back: %v", err)
	}
}
