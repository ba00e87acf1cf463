package scheduler_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-dev/skiff/internal/testserver"
)

type nodeSpec struct {
	name   string
	cpu    string
	labels map[string]string
	taints []corev1.Taint
	unsch  bool
}

type env struct {
	t      *testing.T
	client kubernetes.Interface
	ns     string
}

func (e *env) nodes(specs ...nodeSpec) {
	e.t.Helper()
	ctx := context.Background()
	for _, s := range specs {
		lbl := map[string]string{corev1.LabelHostname: s.name}
		for k, v := range s.labels {
			lbl[k] = v
		}
		cpu := s.cpu
		if cpu == "" {
			cpu = "4"
		}
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: s.name, Labels: lbl},
			Spec:       corev1.NodeSpec{Taints: s.taints, Unschedulable: s.unsch},
		}
		created, err := e.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("110")}
		// Controllers (node TTL, for one) write the new node too: each
		// step retries on a fresh copy.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := e.client.CoreV1().Nodes().Get(ctx, created.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Status.Capacity, n.Status.Allocatable = alloc, alloc
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
			_, err = e.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
		// TaintNodesByCondition admission taints a new node not-ready; the
		// node lifecycle controller lifts it once the node is Ready.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := e.client.CoreV1().Nodes().Get(ctx, created.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			n.Spec.Taints = s.taints
			_, err = e.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
		name := s.name
		e.t.Cleanup(func() { _ = e.client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
}

type podOpt func(*corev1.Pod)

func withCPU(q string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
}
func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func (e *env) pod(name string, opts ...podOpt) *corev1.Pod {
	e.t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	for _, o := range opts {
		o(p)
	}
	out, err := e.client.CoreV1().Pods(e.ns).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// bound waits for the pod to be bound and returns its node.
func (e *env) bound(name string) string {
	e.t.Helper()
	var node string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	if err != nil {
		e.t.Fatalf("pod %s not bound: %v", name, err)
	}
	return node
}

// unschedulable waits for PodScheduled=False and returns its message.
func (e *env) unschedulable(name string) string {
	e.t.Helper()
	var msg string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.client.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" {
			return false, fmt.Errorf("pod %s was bound to %s", name, p.Spec.NodeName)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				msg = c.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		e.t.Fatalf("pod %s not unschedulable: %v", name, err)
	}
	return msg
}

func TestScheduler(t *testing.T) {
	s := testserver.Start(t, testserver.Options{
		// The test owns its nodes: no node controller changes them.
		ExtraArgs: []string{"--controllers=*,-node-ipam-controller,-node-lifecycle-controller,-taint-eviction-controller,-pod-garbage-collector,-daemon-set-controller"}})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, pc := range []struct {
		name  string
		value int32
	}{{"sched-low", 10}, {"sched-high", 1000}} {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: pc.name}, Value: pc.value}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	noSchedule := []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}

	tests := []struct {
		name string
		run  func(e *env)
	}{
		{"resources vs allocatable", func(e *env) {
			e.nodes(nodeSpec{name: "small", cpu: "1"}, nodeSpec{name: "big", cpu: "2"})
			e.pod("p", withCPU("1500m"))
			if n := e.bound("p"); n != "big" {
				t.Errorf("bound to %s, want big", n)
			}
			want := "Successfully assigned " + e.ns + "/p to big"
			var out string
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
				out, _, _ = s.Kubectl(t, "-n", e.ns, "describe", "pod", "p")
				return strings.Contains(out, want), nil
			})
			if err != nil || !regexp.MustCompile(`Normal\s+Scheduled\s+.*default-scheduler\s+`+regexp.QuoteMeta(want)).MatchString(out) {
				t.Errorf("describe lacks the Scheduled event from default-scheduler:\n%s", out)
			}
		}},
		{"nodeName is left alone and counted", func(e *env) {
			e.nodes(nodeSpec{name: "a", cpu: "2"}, nodeSpec{name: "b", cpu: "2"})
			e.pod("fixed", withCPU("1500m"), func(p *corev1.Pod) { p.Spec.NodeName = "a" })
			e.pod("p", withCPU("1"))
			if n := e.bound("p"); n != "b" {
				t.Errorf("bound to %s, want b", n)
			}
		}},
		{"nodeSelector", func(e *env) {
			e.nodes(nodeSpec{name: "plain"}, nodeSpec{name: "ssd", labels: map[string]string{"disk": "ssd"}})
			e.pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
			if n := e.bound("p"); n != "ssd" {
				t.Errorf("bound to %s, want ssd", n)
			}
		}},
		{"required and preferred node affinity", func(e *env) {
			e.nodes(nodeSpec{name: "z1", labels: map[string]string{"zone": "z1"}}, nodeSpec{name: "z2", labels: map[string]string{"zone": "z2"}},
				nodeSpec{name: "z3", labels: map[string]string{"zone": "z3"}})
			e.pod("p", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z2", "z3"}}}}}},
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 100, Preference: corev1.NodeSelectorTerm{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z3"}}}}}},
				}}
			})
			if n := e.bound("p"); n != "z3" {
				t.Errorf("bound to %s, want z3", n)
			}
		}},
		{"taints and tolerations", func(e *env) {
			e.nodes(nodeSpec{name: "tainted", taints: noSchedule}, nodeSpec{name: "clean", cpu: "1"})
			e.pod("plain", withCPU("500m"))
			if n := e.bound("plain"); n != "clean" {
				t.Errorf("untolerating pod bound to %s, want clean", n)
			}
			e.pod("tolerant", withCPU("1"), func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
			})
			if n := e.bound("tolerant"); n != "tainted" {
				t.Errorf("tolerating pod bound to %s, want tainted", n)
			}
		}},
		{"pod anti-affinity spreads replicas", func(e *env) {
			e.nodes(nodeSpec{name: "n1"}, nodeSpec{name: "n2"}, nodeSpec{name: "n3"})
			anti := func(p *corev1.Pod) {
				p.Labels = map[string]string{"app": "web"}
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: corev1.LabelHostname}}}}
			}
			seen := map[string]bool{}
			for i := range 3 {
				name := fmt.Sprintf("web-%d", i)
				e.pod(name, anti)
				seen[e.bound(name)] = true
			}
			if len(seen) != 3 {
				t.Errorf("replicas on %v, want 3 distinct nodes", seen)
			}
			e.pod("web-3", anti)
			want := "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
			if msg := e.unschedulable("web-3"); msg != want {
				t.Errorf("message\n got %q\nwant %q", msg, want)
			}
		}},
		{"pod affinity waits for its peer", func(e *env) {
			e.nodes(nodeSpec{name: "f1"}, nodeSpec{name: "f2"})
			e.pod("follower", func(p *corev1.Pod) {
				p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "leader"}}, TopologyKey: corev1.LabelHostname}}}}
			})
			want := "0/2 nodes are available: 2 node(s) didn't match pod affinity rules. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
			if msg := e.unschedulable("follower"); msg != want {
				t.Errorf("message\n got %q\nwant %q", msg, want)
			}
			// Placing the leader is a pod event that requeues the follower.
			e.pod("leader", withLabels(map[string]string{"app": "leader"}))
			if l, f := e.bound("leader"), e.bound("follower"); l != f {
				t.Errorf("leader on %s, follower on %s", l, f)
			}
		}},
		{"topology spread", func(e *env) {
			e.nodes(nodeSpec{name: "a1", labels: map[string]string{"zone": "a"}}, nodeSpec{name: "a2", labels: map[string]string{"zone": "a"}},
				nodeSpec{name: "b1", labels: map[string]string{"zone": "b"}})
			zones := map[string]int{}
			for i := range 4 {
				name := fmt.Sprintf("s-%d", i)
				e.pod(name, func(p *corev1.Pod) {
					p.Labels = map[string]string{"app": "spread"}
					p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
						WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}}}
				})
				zones[map[string]string{"a1": "a", "a2": "a", "b1": "b"}[e.bound(name)]]++
			}
			if zones["a"] != 2 || zones["b"] != 2 {
				t.Errorf("zones %v, want 2 and 2", zones)
			}
		}},
		{"host port conflict", func(e *env) {
			e.nodes(nodeSpec{name: "h1"}, nodeSpec{name: "h2"})
			port := func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			}
			e.pod("p1", port)
			e.pod("p2", port)
			if a, b := e.bound("p1"), e.bound("p2"); a == b {
				t.Errorf("both on %s", a)
			}
			e.pod("p3", port)
			want := "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
			if msg := e.unschedulable("p3"); msg != want {
				t.Errorf("message\n got %q\nwant %q", msg, want)
			}
		}},
		{"unschedulable node", func(e *env) {
			e.nodes(nodeSpec{name: "cordoned", unsch: true})
			e.pod("p")
			want := "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
			if msg := e.unschedulable("p"); msg != want {
				t.Errorf("message\n got %q\nwant %q", msg, want)
			}
			// Uncordoning is a node event that requeues the pod.
			if _, err := e.client.CoreV1().Nodes().Patch(ctx, "cordoned", "application/merge-patch+json", []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := e.bound("p"); n != "cordoned" {
				t.Errorf("bound to %s", n)
			}
		}},
		{"other schedulerName is ignored", func(e *env) {
			e.nodes(nodeSpec{name: "any"})
			e.pod("other", func(p *corev1.Pod) { p.Spec.SchedulerName = "my-scheduler" })
			e.pod("mine")
			e.bound("mine")
			time.Sleep(time.Second)
			p, err := e.client.CoreV1().Pods(e.ns).Get(ctx, "other", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
				t.Errorf("pod of another scheduler was touched: node %q conditions %v", p.Spec.NodeName, p.Status.Conditions)
			}
		}},
		{"FailedScheduling message for a mixed case", func(e *env) {
			e.nodes(nodeSpec{name: "m1", cpu: "2"}, nodeSpec{name: "m2", taints: noSchedule}, nodeSpec{name: "m3", taints: noSchedule})
			e.pod("filler", withCPU("1500m"), func(p *corev1.Pod) { p.Spec.NodeName = "m1" })
			e.pod("p", withCPU("1"))
			want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
			if msg := e.unschedulable("p"); msg != want {
				t.Errorf("condition message\n got %q\nwant %q", msg, want)
			}
			var out string
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
				out, _, _ = s.Kubectl(t, "-n", e.ns, "get", "events", "--field-selector", "involvedObject.name=p,reason=FailedScheduling",
					"-o", "jsonpath={.items[*].message}|{.items[*].source.component}{.items[*].reportingComponent}")
				return strings.Contains(out, want), nil
			})
			if err != nil {
				t.Errorf("no FailedScheduling event with the message: %q", out)
			}
			if !strings.Contains(out, "default-scheduler") {
				t.Errorf("event not from default-scheduler: %q", out)
			}
		}},
		{"preemption", func(e *env) {
			e.nodes(nodeSpec{name: "only", cpu: "2"})
			e.pod("low", withCPU("1500m"), func(p *corev1.Pod) { p.Spec.PriorityClassName = "sched-low" })
			e.bound("low")
			e.pod("high", withCPU("1500m"), func(p *corev1.Pod) { p.Spec.PriorityClassName = "sched-high" })
			var victim *corev1.Pod
			err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
				p, err := e.client.CoreV1().Pods(e.ns).Get(ctx, "low", metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, nil
				}
				if err != nil {
					return false, err
				}
				victim = p
				return p.DeletionTimestamp != nil, nil
			})
			if err != nil {
				t.Fatalf("victim not deleted: %v", err)
			}
			if victim != nil {
				found := false
				for _, c := range victim.Status.Conditions {
					if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonPreemptionByScheduler &&
						c.Message == "default-scheduler: preempting to accommodate a higher priority pod" {
						found = true
					}
				}
				if !found {
					t.Errorf("victim conditions %+v lack DisruptionTarget", victim.Status.Conditions)
				}
				high, err := e.client.CoreV1().Pods(e.ns).Get(ctx, "high", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if high.Status.NominatedNodeName != "only" && high.Spec.NodeName == "" {
					// The nomination is written right after the deletion.
					time.Sleep(time.Second)
					high, _ = e.client.CoreV1().Pods(e.ns).Get(ctx, "high", metav1.GetOptions{})
					if high.Status.NominatedNodeName != "only" {
						t.Errorf("nominatedNodeName %q, want only", high.Status.NominatedNodeName)
					}
				}
				// No kubelet: finish the graceful deletion as one would.
				zero := int64(0)
				if err := e.client.CoreV1().Pods(e.ns).Delete(ctx, "low", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
					t.Fatal(err)
				}
			}
			if n := e.bound("high"); n != "only" {
				t.Errorf("preemptor bound to %s", n)
			}
		}},
		{"scheduling gates hold a pod", func(e *env) {
			e.nodes(nodeSpec{name: "g1"})
			e.pod("gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/hold"}} })
			time.Sleep(time.Second)
			p, err := e.client.CoreV1().Pods(e.ns).Get(ctx, "gated", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Spec.NodeName != "" {
				t.Fatalf("gated pod bound to %s", p.Spec.NodeName)
			}
			if _, err := e.client.CoreV1().Pods(e.ns).Patch(ctx, "gated", "application/strategic-merge-patch+json", []byte(`{"spec":{"schedulingGates":null}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if n := e.bound("gated"); n != "g1" {
				t.Errorf("bound to %s", n)
			}
		}},
		{"replicas spread across nodes by scoring", func(e *env) {
			e.nodes(nodeSpec{name: "r1"}, nodeSpec{name: "r2"}, nodeSpec{name: "r3"})
			count := map[string]int{}
			for i := range 6 {
				name := fmt.Sprintf("r-%d", i)
				e.pod(name, withCPU("200m"), withLabels(map[string]string{"app": "r"}))
				count[e.bound(name)]++
			}
			for _, n := range []string{"r1", "r2", "r3"} {
				if count[n] != 2 {
					t.Errorf("placement %v, want 2 per node", count)
					break
				}
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{t: t, client: client, ns: fmt.Sprintf("sched-%d", i)}
			if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				zero := int64(0)
				_ = client.CoreV1().Pods(e.ns).DeleteCollection(context.Background(), metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
			})
			tt.run(e)
		})
	}
}
