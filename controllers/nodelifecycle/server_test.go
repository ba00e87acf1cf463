package nodelifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// kubelet stands in for a node's kubelet: it registers the node, renews
// its lease and posts its Ready condition, as upstream's integration tests
// do without kubelets.
type kubelet struct {
	t      *testing.T
	client kubernetes.Interface
	name   string
}

func startKubelet(t *testing.T, client kubernetes.Interface, name string) *kubelet {
	t.Helper()
	ctx := t.Context()
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	k := &kubelet{t: t, client: client, name: name}
	k.post(corev1.ConditionTrue)
	lease := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
		Spec: coordv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &metav1.MicroTime{Time: time.Now()}}}
	if _, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	go wait.UntilWithContext(ctx, func(ctx context.Context) {
		l, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return
		}
		l.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		_, _ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, l, metav1.UpdateOptions{})
	}, time.Second)
	return k
}

// post writes the Ready condition with a fresh heartbeat.
func (k *kubelet) post(status corev1.ConditionStatus) {
	k.t.Helper()
	ctx := k.t.Context()
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := k.client.CoreV1().Nodes().Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		now := metav1.Now()
		cond := corev1.NodeCondition{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: now, LastTransitionTime: now}
		if status != corev1.ConditionTrue {
			cond.Reason, cond.Message = "KubeletNotReady", "container runtime network not ready"
		}
		n.Status.Conditions = []corev1.NodeCondition{cond}
		_, err = k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		k.t.Fatalf("posting Ready=%s for node %s: %v", status, k.name, err)
	}
}

func notReadyToleration(seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

func createPod(t *testing.T, client kubernetes.Interface, ns, name, node string, tolerations ...corev1.Toleration) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			Tolerations:                   tolerations,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](30),
			Containers:                    []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	// The service account admission waits for the namespace's default
	// service account.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if apierrors.IsForbidden(err) || apierrors.IsServerTimeout(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("creating pod %s/%s: %v", ns, name, err)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, timeout, true, f); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) *corev1.Taint {
	for i, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return &n.Spec.Taints[i]
		}
	}
	return nil
}

// TestServer runs the node lifecycle and taint eviction controllers with
// kube-controller-manager's defaults in a real server: a node whose
// kubelet reports NotReady is tainted not-ready, its pods go as their
// tolerations say, and its taints go when it is Ready again.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns := testserver.Namespace(t, client)
	// Two nodes, so that one going down is not a whole zone down, which
	// stops all tainting.
	healthy := startKubelet(t, client, "healthy")
	sick := startKubelet(t, client, "sick")
	_ = healthy

	createPod(t, client, ns, "immediate", "sick", notReadyToleration(ptr.To[int64](0)))
	createPod(t, client, ns, "delayed", "sick", notReadyToleration(ptr.To[int64](4)))
	createPod(t, client, ns, "forever", "sick", notReadyToleration(nil))
	createPod(t, client, ns, "elsewhere", "healthy")

	// The controller has seen both nodes Ready once it registered them.
	waitFor(t, "the nodes to be registered", 30*time.Second, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		seen := 0
		for _, e := range events.Items {
			if e.Reason == "RegisteredNode" && e.Source.Component == "node-controller" &&
				(e.Message == "Node sick event: Registered Node sick in Controller" || e.Message == "Node healthy event: Registered Node healthy in Controller") {
				seen++
			}
		}
		return seen >= 2, nil
	})

	sick.post(corev1.ConditionFalse)
	var noExecute *corev1.Taint
	waitFor(t, "the not-ready taints", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, "sick", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		noExecute = hasTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
		return noExecute != nil && hasTaint(n, corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule) != nil, nil
	})
	if noExecute.TimeAdded == nil {
		t.Fatalf("taint %v has no timeAdded", noExecute)
	}

	terminating := func(ctx context.Context, name string) (*corev1.Pod, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("pod %s is gone, it should wait for its kubelet", name)
		}
		if err != nil || p.DeletionTimestamp == nil {
			return nil, err
		}
		return p, nil
	}
	for _, name := range []string{"immediate", "delayed"} {
		var p *corev1.Pod
		waitFor(t, "the eviction of "+name, 30*time.Second, func(ctx context.Context) (bool, error) {
			var err error
			p, err = terminating(ctx, name)
			return p != nil, err
		})
		var cond *corev1.PodCondition
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.DisruptionTarget {
				cond = &p.Status.Conditions[i]
			}
		}
		if cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != "DeletionByTaintManager" || cond.Message != "Taint manager: deleting due to NoExecute taint" {
			t.Errorf("pod %s has DisruptionTarget condition %+v", name, cond)
		}
		if name == "delayed" {
			// Deleted once its 4 s toleration ran out; the pod's deletion
			// timestamp is its grace period after the deletion.
			deletedAt := p.DeletionTimestamp.Add(-time.Duration(*p.DeletionGracePeriodSeconds) * time.Second)
			if waited := deletedAt.Sub(noExecute.TimeAdded.Time); waited < 3*time.Second {
				t.Errorf("pod %s deleted %v after the taint, before its toleration ran out", name, waited)
			}
		}
	}
	waitFor(t, "the eviction event", 10*time.Second, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == "TaintManagerEviction" && e.Source.Component == "taint-eviction-controller" &&
				e.Message == fmt.Sprintf("Marking for deletion Pod %s/immediate", ns) && e.InvolvedObject.Name == "immediate" {
				return true, nil
			}
		}
		return false, nil
	})
	for _, name := range []string{"forever", "elsewhere"} {
		if p, err := terminating(t.Context(), name); err != nil || p != nil {
			t.Errorf("pod %s was evicted (%v)", name, err)
		}
	}

	sick.post(corev1.ConditionTrue)
	waitFor(t, "the taints to go", 30*time.Second, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, "sick", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(n.Spec.Taints) == 0, nil
	})
}
