package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

func newPod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func withResources(requests, limits corev1.ResourceList) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: requests, Limits: limits}
	}
}

func cpuMem(cpu, mem string) corev1.ResourceList {
	l := corev1.ResourceList{}
	if cpu != "" {
		l[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		l[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return l
}

func createPod(t *testing.T, ns string, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	out, err := cluster.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod %s: %v", p.Name, err)
	}
	return out
}

func getPod(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting pod %s: %v", name, err)
	}
	return p
}

func bind(ns, name, node string) error {
	return cluster.client.CoreV1().Pods(ns).Bind(context.Background(), &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
}

func condition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func TestCreate(t *testing.T) {
	ns := namespace(t)
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		qos  corev1.PodQOSClass
		// gated is true when the pod must carry PodScheduled=False/SchedulingGated.
		gated bool
	}{
		{name: "besteffort", pod: newPod("besteffort"), qos: corev1.PodQOSBestEffort},
		{name: "guaranteed from limits", pod: newPod("guaranteed", withResources(nil, cpuMem("100m", "64Mi"))), qos: corev1.PodQOSGuaranteed},
		{name: "burstable", pod: newPod("burstable", withResources(cpuMem("100m", ""), cpuMem("200m", ""))), qos: corev1.PodQOSBurstable},
		{name: "scheduling gates", pod: newPod("gated", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		}), qos: corev1.PodQOSBestEffort, gated: true},
		{name: "client status is discarded", pod: newPod("status", func(p *corev1.Pod) {
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSGuaranteed, PodIP: "10.0.0.1"}
		}), qos: corev1.PodQOSBestEffort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := createPod(t, ns, tc.pod)
			if p.Status.Phase != corev1.PodPending {
				t.Errorf("phase = %q, want Pending", p.Status.Phase)
			}
			if p.Status.QOSClass != tc.qos {
				t.Errorf("qosClass = %q, want %q", p.Status.QOSClass, tc.qos)
			}
			if p.Generation != 1 {
				t.Errorf("generation = %d, want 1", p.Generation)
			}
			if p.Status.PodIP != "" {
				t.Errorf("podIP = %q, want it reset", p.Status.PodIP)
			}
			c := condition(p, corev1.PodScheduled)
			switch {
			case tc.gated && (c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonSchedulingGated ||
				c.Message != "Scheduling is blocked due to non-empty scheduling gates"):
				t.Errorf("PodScheduled condition = %+v, want False/SchedulingGated", c)
			case !tc.gated && c != nil:
				t.Errorf("unexpected PodScheduled condition %+v", c)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	pods := cluster.client.CoreV1().Pods(ns)
	p := createPod(t, ns, newPod("web"))

	// A spec change counts; a label change does not.
	p.Spec.Containers[0].Image = "busybox:1.36"
	p, err := pods.Update(ctx, p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Generation != 2 {
		t.Errorf("generation after image change = %d, want 2", p.Generation)
	}
	p.Labels["tier"] = "front"
	p.Status.Phase = corev1.PodFailed
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Generation != 2 {
		t.Errorf("generation after label change = %d, want 2", p.Generation)
	}
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("an update of the pod changed its status phase to %q", p.Status.Phase)
	}

	// The status subresource keeps the spec and the QoS class.
	p.Spec.Containers[0].Image = "ignored"
	p.Status.Phase = corev1.PodRunning
	p.Status.QOSClass = ""
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}}
	p.Status.PodIP = "10.42.0.7"
	if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Containers[0].Image != "busybox:1.36" {
		t.Errorf("a status update changed the image to %q", p.Spec.Containers[0].Image)
	}
	if p.Status.Phase != corev1.PodRunning || p.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %q/%q, want Running/BestEffort", p.Status.Phase, p.Status.QOSClass)
	}
	if p.Generation != 2 {
		t.Errorf("generation after status update = %d, want 2", p.Generation)
	}

	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "status.podIP=10.42.0.7,status.phase=Running"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("field selector on status matched %d pods, want 1", len(list.Items))
	}
}

func TestBinding(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	createPod(t, ns, newPod("bound"))

	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: "bound", Annotations: map[string]string{"scheduler.example.com/score": "7"}},
		Target:     corev1.ObjectReference{Kind: "Node", Name: "node-a"},
	}
	if err := cluster.client.CoreV1().Pods(ns).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("binding: %v", err)
	}
	p := getPod(t, ns, "bound")
	if p.Spec.NodeName != "node-a" {
		t.Errorf("nodeName = %q, want node-a", p.Spec.NodeName)
	}
	if c := condition(p, corev1.PodScheduled); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("PodScheduled = %+v, want True", c)
	}
	if p.Annotations["scheduler.example.com/score"] != "7" {
		t.Errorf("binding annotations not copied: %v", p.Annotations)
	}

	list, err := cluster.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("spec.nodeName=node-a matched %d pods, want 1", len(list.Items))
	}

	createPod(t, ns, newPod("other"))
	createPod(t, ns, newPod("gated", func(p *corev1.Pod) {
		p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	}))
	for _, tc := range []struct {
		name    string
		bind    func() error
		want    string
		isError func(error) bool
	}{
		{
			name:    "twice",
			bind:    func() error { return bind(ns, "bound", "node-b") },
			want:    `Operation cannot be fulfilled on pods/binding "bound": pod bound is already assigned to node "node-a"`,
			isError: apierrors.IsConflict,
		},
		{
			name: "legacy bindings resource, twice",
			bind: func() error {
				return cluster.client.CoreV1().RESTClient().Post().Namespace(ns).Resource("bindings").
					Body(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Target: corev1.ObjectReference{Name: "node-b"}}).
					Do(ctx).Error()
			},
			want:    `pod bound is already assigned to node "node-a"`,
			isError: apierrors.IsConflict,
		},
		{
			name: "uid precondition",
			bind: func() error {
				return cluster.client.CoreV1().Pods(ns).Bind(ctx, &corev1.Binding{
					ObjectMeta: metav1.ObjectMeta{Name: "other", UID: types.UID("not-the-pods-uid")},
					Target:     corev1.ObjectReference{Name: "node-a"},
				}, metav1.CreateOptions{})
			},
			want:    "Precondition failed: UID in precondition: not-the-pods-uid",
			isError: apierrors.IsConflict,
		},
		{
			name:    "scheduling gates",
			bind:    func() error { return bind(ns, "gated", "node-a") },
			want:    "pod gated has non-empty .spec.schedulingGates",
			isError: apierrors.IsConflict,
		},
		{
			name:    "missing pod",
			bind:    func() error { return bind(ns, "nobody", "node-a") },
			want:    `pods "nobody" not found`,
			isError: apierrors.IsNotFound,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.bind()
			if err == nil || !tc.isError(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}

	if err := cluster.client.CoreV1().RESTClient().Post().Namespace(ns).Resource("bindings").
		Body(&corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Target: corev1.ObjectReference{Name: "node-c"}}).
		Do(ctx).Error(); err != nil {
		t.Fatalf("binding through the bindings resource: %v", err)
	}
	if got := getPod(t, ns, "other").Spec.NodeName; got != "node-c" {
		t.Errorf("nodeName after legacy binding = %q, want node-c", got)
	}
}

// runningReady makes a bound pod look like a kubelet runs it and it is ready.
func runningReady(t *testing.T, ns, name string) *corev1.Pod {
	t.Helper()
	if err := bind(ns, name, "node-a"); err != nil {
		t.Fatalf("binding %s: %v", name, err)
	}
	p := getPod(t, ns, name)
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	p, err := cluster.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("setting status of %s: %v", name, err)
	}
	return p
}

func evict(ns, name string) error {
	return cluster.client.CoreV1().Pods(ns).EvictV1(context.Background(), &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
}

func TestEviction(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	pdbs := cluster.client.PolicyV1().PodDisruptionBudgets(ns)

	t.Run("no budget", func(t *testing.T) {
		runningReady(t, createPod(t, ns, newPod("free")).Namespace, "free")
		if err := evict(ns, "free"); err != nil {
			t.Fatalf("evicting: %v", err)
		}
		// Bound and running: the kubelet gets the grace period to stop it.
		p := getPod(t, ns, "free")
		if p.DeletionTimestamp == nil {
			t.Errorf("evicted pod has no deletionTimestamp")
		}
		if c := condition(p, corev1.DisruptionTarget); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "EvictionByEvictionAPI" {
			t.Errorf("DisruptionTarget = %+v, want True/EvictionByEvictionAPI", c)
		}
	})

	minAvailable := intstr.FromInt32(1)
	pdb, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "guard"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &minAvailable,
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The disruption controller would compute this status; set it by hand.
	setBudget := func(t *testing.T, allowed int32) {
		t.Helper()
		pdb, err := pdbs.Get(ctx, "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{
			ObservedGeneration: pdb.Generation,
			DisruptionsAllowed: allowed,
			CurrentHealthy:     1 + allowed,
			DesiredHealthy:     1,
			ExpectedPods:       1 + allowed,
		}
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("setting budget status: %v", err)
		}
	}
	_ = pdb

	guarded := func(name string) *corev1.Pod {
		return newPod(name, func(p *corev1.Pod) { p.Labels["app"] = "guarded" })
	}
	createPod(t, ns, guarded("g1"))
	runningReady(t, ns, "g1")

	t.Run("budget exhausted", func(t *testing.T) {
		setBudget(t, 0)
		err := evict(ns, "g1")
		if !apierrors.IsTooManyRequests(err) {
			t.Fatalf("error = %v, want 429 TooManyRequests", err)
		}
		status := err.(apierrors.APIStatus).Status()
		if status.Message != "Cannot evict pod as it would violate the pod's disruption budget." {
			t.Errorf("message = %q", status.Message)
		}
		wantCause := "The disruption budget guard needs 1 healthy pods and has 1 currently"
		if status.Details == nil || len(status.Details.Causes) != 1 || status.Details.Causes[0].Message != wantCause ||
			status.Details.Causes[0].Type != policyv1.DisruptionBudgetCause {
			t.Errorf("details = %+v, want one DisruptionBudget cause %q", status.Details, wantCause)
		}
		if p := getPod(t, ns, "g1"); p.DeletionTimestamp != nil || condition(p, corev1.DisruptionTarget) != nil {
			t.Errorf("a refused eviction touched the pod: %+v", p.Status.Conditions)
		}
	})

	t.Run("stale budget", func(t *testing.T) {
		pdb, err := pdbs.Get(ctx, "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Status.ObservedGeneration = pdb.Generation - 1
		pdb.Status.DisruptionsAllowed = 1
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// This 429 asks clients to come back in 10s, which client-go would
		// do ten times over: ask once.
		err = cluster.client.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name("g1").SubResource("eviction").
			Body(&policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "g1", Namespace: ns}}).MaxRetries(0).Do(ctx).Error()
		if !apierrors.IsTooManyRequests(err) || !strings.Contains(fmt.Sprint(err.(apierrors.APIStatus).Status().Details), "The disruption budget guard is still being processed by the server.") {
			t.Errorf("error = %v, want 429 with the budget still being processed", err)
		}
	})

	t.Run("pending pod ignores the budget", func(t *testing.T) {
		setBudget(t, 0)
		createPod(t, ns, guarded("waiting"))
		if err := evict(ns, "waiting"); err != nil {
			t.Fatalf("evicting a pending pod: %v", err)
		}
		// Never scheduled: deleted at once.
		if _, err := cluster.client.CoreV1().Pods(ns).Get(ctx, "waiting", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pending pod after eviction: err = %v, want NotFound", err)
		}
	})

	t.Run("budget allows one", func(t *testing.T) {
		setBudget(t, 1)
		if err := evict(ns, "g1"); err != nil {
			t.Fatalf("evicting: %v", err)
		}
		pdb, err := pdbs.Get(ctx, "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pdb.Status.DisruptionsAllowed != 0 {
			t.Errorf("disruptionsAllowed = %d, want 0", pdb.Status.DisruptionsAllowed)
		}
		if _, ok := pdb.Status.DisruptedPods["g1"]; !ok {
			t.Errorf("disruptedPods = %v, want g1 in it", pdb.Status.DisruptedPods)
		}
		if p := getPod(t, ns, "g1"); p.DeletionTimestamp == nil {
			t.Errorf("evicted pod is not being deleted")
		}
	})

	t.Run("unready pod", func(t *testing.T) {
		createPod(t, ns, guarded("unready"))
		if err := bind(ns, "unready", "node-a"); err != nil {
			t.Fatal(err)
		}
		p := getPod(t, ns, "unready")
		p.Status.Phase = corev1.PodRunning
		if _, err := cluster.client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The application has no healthy pod to spare and the policy
		// protects unready pods as well: refused.
		setBudget(t, 0)
		pdb, err := pdbs.Get(ctx, "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Status.CurrentHealthy = 0
		if _, err := pdbs.UpdateStatus(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := evict(ns, "unready"); !apierrors.IsTooManyRequests(err) {
			t.Errorf("evicting an unready pod under IfHealthyBudget: %v, want 429", err)
		}
		// AlwaysAllow lets unready pods go without using the budget.
		always := policyv1.AlwaysAllow
		pdb, err = pdbs.Get(ctx, "guard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pdb.Spec.UnhealthyPodEvictionPolicy = &always
		if _, err := pdbs.Update(ctx, pdb, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		setBudget(t, 0)
		if err := evict(ns, "unready"); err != nil {
			t.Fatalf("evicting an unready pod under AlwaysAllow: %v", err)
		}
		if p := getPod(t, ns, "unready"); p.DeletionTimestamp == nil {
			t.Errorf("unready pod is not being deleted")
		}
		if pdb, _ := pdbs.Get(ctx, "guard", metav1.GetOptions{}); pdb != nil && len(pdb.Status.DisruptedPods) != 0 {
			t.Errorf("an unready pod's eviction was counted against the budget: %v", pdb.Status.DisruptedPods)
		}
	})

	t.Run("two budgets", func(t *testing.T) {
		if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: "second"},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: &minAvailable,
				Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		createPod(t, ns, guarded("g2"))
		runningReady(t, ns, "g2")
		err := evict(ns, "g2")
		if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.") {
			t.Errorf("error = %v, want 500 about more than one budget", err)
		}
	})
}

func TestEphemeralContainers(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	pods := cluster.client.CoreV1().Pods(ns)
	createPod(t, ns, newPod("target"))

	// kubectl debug adds an ephemeral container through the subresource.
	if _, stderr, err := kubectl(t, "-n", ns, "debug", "target", "--image=busybox", "-c", "debugger", "--profile=general"); err != nil {
		t.Fatalf("kubectl debug: %v\n%s", err, stderr)
	}
	p := getPod(t, ns, "target")
	if len(p.Spec.EphemeralContainers) != 1 || p.Spec.EphemeralContainers[0].Name != "debugger" {
		t.Fatalf("ephemeral containers = %+v, want debugger", p.Spec.EphemeralContainers)
	}
	if p.Generation != 2 {
		t.Errorf("generation = %d, want 2", p.Generation)
	}

	for _, tc := range []struct {
		name  string
		patch string
		// want is a substring of the error, or "" for success.
		want  string
		check func(t *testing.T, p *corev1.Pod)
	}{
		{
			name:  "changing an ephemeral container",
			patch: `[{"op":"replace","path":"/spec/ephemeralContainers/0/image","value":"alpine"}]`,
			want:  `spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be changed`,
		},
		{
			name:  "removing an ephemeral container",
			patch: `[{"op":"remove","path":"/spec/ephemeralContainers/0"}]`,
			want:  `existing ephemeral containers "debugger" may not be removed`,
		},
		{
			name:  "other spec changes are dropped",
			patch: `[{"op":"replace","path":"/spec/containers/0/image","value":"alpine"},{"op":"add","path":"/metadata/labels/extra","value":"x"}]`,
			check: func(t *testing.T, p *corev1.Pod) {
				if p.Spec.Containers[0].Image != "busybox" || p.Labels["extra"] != "" {
					t.Errorf("image %q, labels %v: want the patch ignored", p.Spec.Containers[0].Image, p.Labels)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pods.Patch(ctx, "target", types.JSONPatchType, []byte(tc.patch), metav1.PatchOptions{}, "ephemeralcontainers")
			if tc.want != "" {
				if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error = %v, want Invalid containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

func TestResize(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	pods := cluster.client.CoreV1().Pods(ns)
	createPod(t, ns, newPod("elastic", withResources(cpuMem("100m", "64Mi"), cpuMem("200m", "128Mi"))))

	resize := func(requests, limits corev1.ResourceList) (*corev1.Pod, error) {
		p := getPod(t, ns, "elastic")
		p.Spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: requests, Limits: limits}
		p.Spec.Containers[0].Image = "not-applied"
		return pods.UpdateResize(ctx, "elastic", p, metav1.UpdateOptions{})
	}
	p, err := resize(cpuMem("150m", "64Mi"), cpuMem("300m", "128Mi"))
	if err != nil {
		t.Fatalf("resizing: %v", err)
	}
	if got := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; got.String() != "150m" {
		t.Errorf("cpu request = %s, want 150m", got.String())
	}
	if p.Spec.Containers[0].Image != "busybox" {
		t.Errorf("resize changed the image to %q", p.Spec.Containers[0].Image)
	}
	if p.Generation != 2 {
		t.Errorf("generation = %d, want 2", p.Generation)
	}

	for _, tc := range []struct {
		name             string
		requests, limits corev1.ResourceList
		want             string
	}{
		{"to guaranteed", cpuMem("300m", "128Mi"), cpuMem("300m", "128Mi"), "Pod QOS Class may not change as a result of resizing"},
		{"removing a limit", cpuMem("150m", "64Mi"), cpuMem("300m", ""), "spec.containers[0].resources.limits: Forbidden: resource limits cannot be removed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resize(tc.requests, tc.limits)
			if err == nil || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want Invalid containing %q", err, tc.want)
			}
		})
	}
}

func TestGracefulDelete(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	pods := cluster.client.CoreV1().Pods(ns)
	createPod(t, ns, newPod("unbound"))
	createPod(t, ns, newPod("bound"))
	createPod(t, ns, newPod("finished"))
	for _, name := range []string{"bound", "finished"} {
		if err := bind(ns, name, "node-a"); err != nil {
			t.Fatal(err)
		}
	}
	done := getPod(t, ns, "finished")
	done.Status.Phase = corev1.PodSucceeded
	if _, err := pods.UpdateStatus(ctx, done, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		pod  string
		// grace is the expected deletionGracePeriodSeconds; -1 means gone at once.
		grace int64
	}{
		{"unbound pod goes at once", "unbound", -1},
		{"bound pod waits for its kubelet", "bound", 30},
		{"finished pod goes at once", "finished", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := pods.Delete(ctx, tc.pod, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			p, err := pods.Get(ctx, tc.pod, metav1.GetOptions{})
			if tc.grace < 0 {
				if !apierrors.IsNotFound(err) {
					t.Errorf("get after delete: %v, want NotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("get after delete: %v", err)
			}
			if p.DeletionTimestamp == nil || p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != tc.grace {
				t.Errorf("deletionTimestamp %v, deletionGracePeriodSeconds %v, want set and %d", p.DeletionTimestamp, p.DeletionGracePeriodSeconds, tc.grace)
			}
		})
	}

	// kubectl delete --wait=false of a bound pod leaves it terminating.
	createPod(t, ns, newPod("kubectl"))
	if err := bind(ns, "kubectl", "node-a"); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := kubectl(t, "-n", ns, "delete", "pod", "kubectl", "--wait=false", "--grace-period=45"); err != nil {
		t.Fatalf("kubectl delete: %v\n%s", err, stderr)
	}
	if p := getPod(t, ns, "kubectl"); p.DeletionGracePeriodSeconds == nil || *p.DeletionGracePeriodSeconds != 45 {
		t.Errorf("deletionGracePeriodSeconds = %v, want 45", p.DeletionGracePeriodSeconds)
	}
}

// listenOn starts an HTTP (or HTTPS) test server on ip that answers every
// request with what it saw.
func listenOn(t *testing.T, ip string, tls bool, handler http.HandlerFunc) (string, int) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: handler}}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	host, portStr, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(portStr)
	return host, port
}

// fakeKubelet answers container log and other requests the way a kubelet
// does, on ip, and registers a Node pointing at itself.
func fakeKubelet(t *testing.T, node, ip string) {
	t.Helper()
	host, port := listenOn(t, ip, true, func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) == 4 && parts[0] == "exec" {
			fakeExec(t, w, r)
			return
		}
		if len(parts) == 4 && parts[0] == "containerLogs" {
			fmt.Fprintf(w, "log of %s/%s/%s tail=%s\n", parts[1], parts[2], parts[3], r.URL.Query().Get("tailLines"))
			return
		}
		fmt.Fprintf(w, "kubelet %s %s\n", r.Method, r.URL.Path)
	})
	ctx := context.Background()
	nodes := cluster.client.CoreV1().Nodes()
	n, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodes.Delete(context.Background(), node, metav1.DeleteOptions{}) })
	// The host name does not resolve: the IP must be preferred. The node
	// TTL controller writes the new node too, hence the retry.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if n, err = nodes.Get(ctx, node, metav1.GetOptions{}); err != nil {
			return err
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "no-such-host.invalid"}, {Type: corev1.NodeInternalIP, Address: host}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		_, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fakeExec serves a kubelet exec request over SPDY: it writes the command
// it was asked to run to stdout and reports success.
func fakeExec(t *testing.T, w http.ResponseWriter, r *http.Request) {
	if _, err := httpstream.Handshake(r, w, []string{"v4.channel.k8s.io"}); err != nil {
		return
	}
	want := 1 // the error stream
	for _, p := range []string{corev1.ExecStdinParam, corev1.ExecStdoutParam, corev1.ExecStderrParam} {
		if r.URL.Query().Get(p) == "1" {
			want++
		}
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	byType := map[string]httpstream.Stream{}
	timeout := time.After(5 * time.Second)
	for len(byType) < want {
		select {
		case s := <-streams:
			byType[s.Headers().Get(corev1.StreamType)] = s
		case <-timeout:
			t.Errorf("fake kubelet: got streams %v, want %d", byType, want)
			return
		}
	}
	fmt.Fprintf(byType[corev1.StreamTypeStdout], "ran %s in %s\n", strings.Join(r.URL.Query()["command"], " "), r.URL.Path)
	for _, s := range byType {
		s.Close()
	}
	// Let the client read before the connection goes.
	time.Sleep(100 * time.Millisecond)
}

func TestLogsAndStreams(t *testing.T) {
	ns := namespace(t)
	fakeKubelet(t, "log-node", "127.0.0.1")
	createPod(t, ns, newPod("unscheduled"))
	createPod(t, ns, newPod("two", func(p *corev1.Pod) {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
	}))
	createPod(t, ns, newPod("running"))
	if err := bind(ns, "running", "log-node"); err != nil {
		t.Fatal(err)
	}
	createPod(t, ns, newPod("lost"))
	if err := bind(ns, "lost", "node-without-object"); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		// stdout is the exact output on success; wantErr a substring of stderr on failure.
		stdout  string
		wantErr string
	}{
		{name: "logs of a pod without a node are empty", args: []string{"logs", "unscheduled"}},
		{name: "logs through the kubelet", args: []string{"logs", "running", "--tail=3"}, stdout: "log of " + ns + "/running/main tail=3\n"},
		{name: "logs of a container that does not exist", args: []string{"logs", "running", "-c", "nope"}, wantErr: "container nope is not valid for pod running"},
		{name: "exec through the kubelet", args: []string{"exec", "running", "--", "echo", "hi"}, stdout: "ran echo hi in /exec/" + ns + "/running/main\n"},
		{name: "exec without a node", args: []string{"exec", "unscheduled", "--", "true"}, wantErr: "Error from server (BadRequest): pod unscheduled does not have a host assigned"},
		{name: "attach without a node", args: []string{"attach", "unscheduled"}, wantErr: "pod unscheduled does not have a host assigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := kubectl(t, append([]string{"-n", ns}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(stderr, tc.wantErr) {
					t.Errorf("kubectl %v: err %v, stderr %q, want it to contain %q", tc.args, err, stderr, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("kubectl %v: %v\n%s", tc.args, err, stderr)
			}
			if stdout != tc.stdout {
				t.Errorf("kubectl %v printed %q, want %q", tc.args, stdout, tc.stdout)
			}
		})
	}

	// The API itself, for what kubectl checks on its own before asking.
	ctx := context.Background()
	for _, tc := range []struct {
		name, pod string
		opts      corev1.PodLogOptions
		want      string
	}{
		{"unknown container", "running", corev1.PodLogOptions{Container: "nope"}, "container nope is not valid for pod running"},
		{"several containers and none named", "two", corev1.PodLogOptions{}, "a container name must be specified for pod two, choose one of: [main side]"},
		{"negative tail", "running", corev1.PodLogOptions{TailLines: ptr(int64(-1))}, "tailLines: Invalid value: -1: must be greater than or equal to 0"},
		{"node object missing", "lost", corev1.PodLogOptions{}, `"node-without-object" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// client-go does not decode the Status of a failed log request;
			// its body is the Status.
			body, err := cluster.client.CoreV1().Pods(ns).GetLogs(tc.pod, &tc.opts).DoRaw(ctx)
			if err == nil || !strings.Contains(statusMessage(body), tc.want) {
				t.Errorf("error = %v, body %s, want a Status containing %q", err, body, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// statusMessage is the message of the Status in body, or body itself.
func statusMessage(body []byte) string {
	var status metav1.Status
	if err := json.Unmarshal(body, &status); err != nil || status.Kind != "Status" {
		return string(body)
	}
	return status.Message
}

// TestProxyRefusals covers the proxy subresources' address checks, which
// need no backend: a loopback kubelet and a pod without an IP are refused.
func TestProxyRefusals(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	fakeKubelet(t, "proxy-node", "127.0.0.1")
	createPod(t, ns, newPod("noip"))
	rc := cluster.client.CoreV1().RESTClient()
	for _, tc := range []struct {
		name string
		path string
		want string
	}{
		{"node proxy to loopback", "/api/v1/nodes/proxy-node/proxy/healthz", "address not allowed"},
		{"pod proxy without an IP", "/api/v1/namespaces/" + ns + "/pods/noip/proxy/", "address not allowed"},
		{"service proxy without endpoints", "/api/v1/namespaces/" + ns + "/services/nosvc/proxy/", `no endpoints available for service "nosvc"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			body, err := rc.Get().AbsPath(tc.path).DoRaw(ctx)
			if err == nil || !strings.Contains(statusMessage(body), tc.want) {
				t.Errorf("error = %v, body %s, want a Status containing %q", err, body, tc.want)
			}
		})
	}
}

// TestProxy sends requests through pods/proxy, services/proxy and
// nodes/proxy to backends on this host's address.
func TestProxy(t *testing.T) {
	ns := namespace(t)
	ctx := context.Background()
	fakeKubelet(t, "kubelet-node", cluster.hostIP)
	ip, port := listenOn(t, cluster.hostIP, false, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "backend %s %s\n", r.Method, r.URL.Path)
	})

	web := createPod(t, ns, newPod("web", func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: int32(port)}}
	}))
	web.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	web.Status.PodIP = ip
	if _, err := cluster.client.CoreV1().Pods(ns).UpdateStatus(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(port)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	portName, slicePort := "http", int32(port)
	if _, err := cluster.client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{ip},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web"},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: &portName, Port: &slicePort}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	rc := cluster.client.CoreV1().RESTClient()
	for _, tc := range []struct {
		name, path, want string
	}{
		{"pod, first container port", "/api/v1/namespaces/" + ns + "/pods/web/proxy/hello", "backend GET /hello\n"},
		{"pod, explicit port", fmt.Sprintf("/api/v1/namespaces/%s/pods/web:%d/proxy/a/b/", ns, port), "backend GET /a/b/\n"},
		{"service, port name", "/api/v1/namespaces/" + ns + "/services/web:http/proxy/x", "backend GET /x\n"},
		{"service, port number", "/api/v1/namespaces/" + ns + "/services/http:web:80/proxy/y", "backend GET /y\n"},
		{"node, kubelet port", "/api/v1/nodes/kubelet-node/proxy/healthz", "kubelet GET /healthz\n"},
		{"node, other port", fmt.Sprintf("/api/v1/nodes/http:kubelet-node:%d/proxy/z", port), "backend GET /z\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			body, err := rc.Get().AbsPath(tc.path).DoRaw(ctx)
			if err != nil || string(body) != tc.want {
				t.Errorf("GET %s = %q, %v; want %q", tc.path, body, err, tc.want)
			}
		})
	}
}
