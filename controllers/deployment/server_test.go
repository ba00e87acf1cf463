package deployment_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/controllers/deployment"
	"github.com/skiff-dev/skiff/internal/testserver"
)

var cluster struct {
	server *testserver.Server
	client kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{ExtraArgs: testserver.WithoutScheduler}, func(s *testserver.Server) {
		cfg, err := s.RESTConfig()
		if err != nil {
			panic(fmt.Sprintf("client config: %v", err))
		}
		cfg.QPS, cfg.Burst = 100, 200
		cluster.server = s
		cluster.client = kubernetes.NewForConfigOrDie(cfg)
	}))
}

func namespace(t *testing.T) string {
	t.Helper()
	ns := testserver.Namespace(t, cluster.client)
	poll(t, "default service account", func(ctx context.Context) (bool, error) {
		_, err := cluster.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return ns
}

func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 45*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func kubectl(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, _, err := cluster.server.Kubectl(t, append([]string{"-n", ns}, args...)...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

func pods(t *testing.T, ns, app string) []corev1.Pod {
	t.Helper()
	list, err := cluster.client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// markReady does what a kubelet would: the pod runs and is ready.
func markReady(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) error {
	now := metav1.Now()
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	_, err := client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

// kubelet marks every pod of app ready until the returned stop is called.
func kubelet(t *testing.T, ns, app string) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			list, err := cluster.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
			if err == nil {
				for i := range list.Items {
					if p := &list.Items[i]; !isReady(p) && p.DeletionTimestamp == nil {
						_ = markReady(ctx, cluster.client, p)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

func replicaSets(t *testing.T, ns string, app string) []appsv1.ReplicaSet {
	t.Helper()
	list, err := cluster.client.AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func getDeployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := cluster.client.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newRSOf returns the ReplicaSet of the deployment's current template,
// checking that it is named and labelled with upstream's hash.
func newRSOf(t *testing.T, ns string, d *appsv1.Deployment) *appsv1.ReplicaSet {
	t.Helper()
	hash := deployment.ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	var rs *appsv1.ReplicaSet
	poll(t, "replica set "+d.Name+"-"+hash, func(ctx context.Context) (bool, error) {
		got, err := cluster.client.AppsV1().ReplicaSets(ns).Get(ctx, d.Name+"-"+hash, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		rs = got
		return true, nil
	})
	if rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Errorf("replica set %s lacks pod-template-hash %s: labels %v selector %v", rs.Name, hash, rs.Labels, rs.Spec.Selector)
	}
	if ref := metav1.GetControllerOf(rs); ref == nil || ref.UID != d.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Errorf("replica set %s controller reference %+v", rs.Name, ref)
	}
	return rs
}

// complete reports whether the deployment's rollout finished as
// `kubectl rollout status` sees it.
func complete(d *appsv1.Deployment) bool {
	s := d.Status
	return d.Generation <= s.ObservedGeneration && s.UpdatedReplicas == *d.Spec.Replicas &&
		s.Replicas == s.UpdatedReplicas && s.AvailableReplicas == s.UpdatedReplicas
}

// rollOut plays a slow kubelet, one pod ready per step, until the rollout
// completes, asserting at every observed state that the ReplicaSets stay
// within maxSurge and the ready pods within maxUnavailable.
func rollOut(t *testing.T, ns, name string, maxTotal, minReady int32) (steps int) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		d := getDeployment(t, ns, name)
		var total int32
		for _, rs := range replicaSets(t, ns, name) {
			total += *rs.Spec.Replicas
		}
		ps := pods(t, ns, name)
		var ready int32
		var unready *corev1.Pod
		for i := range ps {
			if isReady(&ps[i]) {
				ready++
			} else if unready == nil {
				unready = &ps[i]
			}
		}
		if total > maxTotal {
			t.Fatalf("step %d: replica sets want %d pods, more than %d", steps, total, maxTotal)
		}
		if ready < minReady {
			t.Fatalf("step %d: %d pods ready, fewer than %d", steps, ready, minReady)
		}
		if complete(d) && unready == nil && int32(len(ps)) == *d.Spec.Replicas {
			return steps
		}
		if unready != nil {
			if err := markReady(ctx, cluster.client, unready); err != nil {
				t.Logf("marking %s ready: %v", unready.Name, err)
			}
			steps++
		}
		time.Sleep(150 * time.Millisecond)
	}
	t.Fatalf("rollout of %s did not complete: %+v", name, getDeployment(t, ns, name).Status)
	return steps
}

func condition(d *appsv1.Deployment, ct appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == ct {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func waitForCondition(t *testing.T, ns, name string, ct appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason string) *appsv1.DeploymentCondition {
	t.Helper()
	var cond *appsv1.DeploymentCondition
	poll(t, fmt.Sprintf("%s condition %s/%s", ct, status, reason), func(ctx context.Context) (bool, error) {
		cond = condition(getDeployment(t, ns, name), ct)
		return cond != nil && cond.Status == status && cond.Reason == reason, nil
	})
	return cond
}

func events(t *testing.T, ns, name, reason string) []string {
	t.Helper()
	list, err := cluster.client.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name && e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}

func waitForEvent(t *testing.T, ns, name, reason, message string) {
	t.Helper()
	poll(t, fmt.Sprintf("event %s %q", reason, message), func(ctx context.Context) (bool, error) {
		for _, m := range events(t, ns, name, reason) {
			if m == message {
				return true, nil
			}
		}
		return false, nil
	})
}

func TestRollingUpdate(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	d := newDeployment("web", 4, "nginx:1")
	one, two := intstr.FromInt32(1), intstr.FromInt32(1)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &one, MaxUnavailable: &two}}
	if _, err := cluster.client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d = getDeployment(t, ns, "web")
	rs1 := newRSOf(t, ns, d)
	if got := rs1.Annotations; got["deployment.kubernetes.io/revision"] != "1" || got["deployment.kubernetes.io/desired-replicas"] != "4" ||
		got["deployment.kubernetes.io/max-replicas"] != "5" {
		t.Errorf("replica set annotations %v", got)
	}
	waitForEvent(t, ns, "web", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to 4", rs1.Name))
	waitForCondition(t, ns, "web", appsv1.DeploymentProgressing, corev1.ConditionTrue, "ReplicaSetUpdated")

	stop := kubelet(t, ns, "web")
	kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=60s")
	stop()
	cond := waitForCondition(t, ns, "web", appsv1.DeploymentProgressing, corev1.ConditionTrue, "NewReplicaSetAvailable")
	if want := fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs1.Name); cond.Message != want {
		t.Errorf("Progressing message %q, want %q", cond.Message, want)
	}
	avail := waitForCondition(t, ns, "web", appsv1.DeploymentAvailable, corev1.ConditionTrue, "MinimumReplicasAvailable")
	if avail.Message != "Deployment has minimum availability." {
		t.Errorf("Available message %q", avail.Message)
	}
	d = getDeployment(t, ns, "web")
	if s := d.Status; s.Replicas != 4 || s.UpdatedReplicas != 4 || s.ReadyReplicas != 4 || s.AvailableReplicas != 4 || s.UnavailableReplicas != 0 ||
		s.TerminatingReplicas == nil || *s.TerminatingReplicas != 0 || d.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Errorf("status %+v annotations %v", s, d.Annotations)
	}
	fields := strings.Fields(kubectl(t, ns, "get", "deploy", "web", "--no-headers"))
	if len(fields) < 4 || fields[1] != "4/4" || fields[2] != "4" || fields[3] != "4" {
		t.Errorf("kubectl get deploy: %v, want READY 4/4 UP-TO-DATE 4 AVAILABLE 4", fields)
	}

	t.Run("scale", func(t *testing.T) {
		kubectl(t, ns, "scale", "deployment/web", "--replicas=5")
		stop := kubelet(t, ns, "web")
		defer stop()
		kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=60s")
		waitForEvent(t, ns, "web", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 4 to 5", rs1.Name))
		kubectl(t, ns, "scale", "deployment/web", "--replicas=4")
		waitForEvent(t, ns, "web", "ScalingReplicaSet", fmt.Sprintf("Scaled down replica set %s from 5 to 4", rs1.Name))
		kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=60s")
	})

	var rs2 *appsv1.ReplicaSet
	t.Run("set image rolls out step by step", func(t *testing.T) {
		kubectl(t, ns, "set", "image", "deployment/web", "app=nginx:2")
		rs2 = newRSOf(t, ns, getDeployment(t, ns, "web"))
		steps := rollOut(t, ns, "web", 5, 3)
		if steps < 4 {
			t.Errorf("rollout took %d steps, want one per new pod", steps)
		}
		kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=30s")
		poll(t, "old replica set scaled to 0", func(ctx context.Context) (bool, error) {
			rs, err := cluster.client.AppsV1().ReplicaSets(ns).Get(ctx, rs1.Name, metav1.GetOptions{})
			return err == nil && *rs.Spec.Replicas == 0 && rs.Status.Replicas == 0, nil
		})
		rs2 = newRSOf(t, ns, getDeployment(t, ns, "web"))
		if rs2.Annotations["deployment.kubernetes.io/revision"] != "2" {
			t.Errorf("new replica set revision %q, want 2", rs2.Annotations["deployment.kubernetes.io/revision"])
		}
	})

	t.Run("history and undo", func(t *testing.T) {
		hist := kubectl(t, ns, "rollout", "history", "deployment/web")
		for _, rev := range []string{"1", "2"} {
			if !containsLineStarting(hist, rev+" ") {
				t.Errorf("history lacks revision %s:\n%s", rev, hist)
			}
		}
		detail := kubectl(t, ns, "rollout", "history", "deployment/web", "--revision=1")
		if !strings.Contains(detail, "nginx:1") {
			t.Errorf("revision 1 detail lacks its image:\n%s", detail)
		}
		kubectl(t, ns, "rollout", "undo", "deployment/web")
		stop := kubelet(t, ns, "web")
		kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=60s")
		stop()
		d := getDeployment(t, ns, "web")
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "nginx:1" {
			t.Fatalf("image after undo %s, want nginx:1", img)
		}
		// The first ReplicaSet is the new one again, now as revision 3.
		rs := newRSOf(t, ns, d)
		if rs.Name != rs1.Name || rs.Annotations["deployment.kubernetes.io/revision"] != "3" ||
			rs.Annotations["deployment.kubernetes.io/revision-history"] != "1" || d.Annotations["deployment.kubernetes.io/revision"] != "3" {
			t.Errorf("after undo: replica set %s annotations %v, deployment annotations %v", rs.Name, rs.Annotations, d.Annotations)
		}
		hist = kubectl(t, ns, "rollout", "history", "deployment/web")
		if !containsLineStarting(hist, "2 ") || !containsLineStarting(hist, "3 ") || containsLineStarting(hist, "1 ") {
			t.Errorf("history after undo, want revisions 2 and 3:\n%s", hist)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		kubectl(t, ns, "rollout", "pause", "deployment/web")
		cond := waitForCondition(t, ns, "web", appsv1.DeploymentProgressing, corev1.ConditionUnknown, "DeploymentPaused")
		if cond.Message != "Deployment is paused" {
			t.Errorf("paused message %q", cond.Message)
		}
		kubectl(t, ns, "set", "image", "deployment/web", "app=nginx:3")
		time.Sleep(time.Second)
		for _, rs := range replicaSets(t, ns, "web") {
			if rs.Spec.Template.Spec.Containers[0].Image == "nginx:3" {
				t.Fatalf("paused deployment rolled out %s", rs.Name)
			}
		}
		kubectl(t, ns, "rollout", "resume", "deployment/web")
		stop := kubelet(t, ns, "web")
		kubectl(t, ns, "rollout", "status", "deployment/web", "--timeout=60s")
		stop()
		rs := newRSOf(t, ns, getDeployment(t, ns, "web"))
		if rs.Spec.Template.Spec.Containers[0].Image != "nginx:3" || rs.Annotations["deployment.kubernetes.io/revision"] != "4" {
			t.Errorf("after resume: %s image %s revision %s", rs.Name, rs.Spec.Template.Spec.Containers[0].Image, rs.Annotations["deployment.kubernetes.io/revision"])
		}
	})

	t.Run("restart", func(t *testing.T) {
		before := newRSOf(t, ns, getDeployment(t, ns, "web"))
		kubectl(t, ns, "rollout", "restart", "deployment/web")
		d := getDeployment(t, ns, "web")
		if d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
			t.Fatalf("no restartedAt annotation: %v", d.Spec.Template.Annotations)
		}
		after := newRSOf(t, ns, d)
		if after.Name == before.Name {
			t.Fatalf("restart kept replica set %s", before.Name)
		}
		rollOut(t, ns, "web", 5, 3)
	})

	t.Run("revision history limit", func(t *testing.T) {
		if n := len(replicaSets(t, ns, "web")); n != 4 {
			t.Fatalf("%d replica sets before the limit, want 4", n)
		}
		kubectl(t, ns, "patch", "deployment/web", "-p", `{"spec":{"revisionHistoryLimit":1}}`)
		poll(t, "old replica sets cleaned up", func(ctx context.Context) (bool, error) {
			return len(replicaSets(t, ns, "web")) == 2, nil
		})
	})
}

func containsLineStarting(s, prefix string) bool {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func TestRecreate(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	d := newDeployment("batch", 2, "busybox:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := cluster.client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := kubelet(t, ns, "batch")
	kubectl(t, ns, "rollout", "status", "deployment/batch", "--timeout=60s")
	stop()
	old := newRSOf(t, ns, getDeployment(t, ns, "batch"))
	kubectl(t, ns, "set", "image", "deployment/batch", "app=busybox:2")
	// Old and new pods never run side by side.
	deadline := time.Now().Add(45 * time.Second)
	for {
		images := map[string]int{}
		for _, p := range pods(t, ns, "batch") {
			images[p.Spec.Containers[0].Image]++
			if !isReady(&p) {
				_ = markReady(t.Context(), cluster.client, &p)
			}
		}
		if images["busybox:1"] > 0 && images["busybox:2"] > 0 {
			t.Fatalf("old and new pods at once: %v", images)
		}
		if d := getDeployment(t, ns, "batch"); complete(d) && images["busybox:2"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreate did not complete: %+v", getDeployment(t, ns, "batch").Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kubectl(t, ns, "rollout", "status", "deployment/batch", "--timeout=30s")
	waitForEvent(t, ns, "batch", "ScalingReplicaSet", fmt.Sprintf("Scaled down replica set %s from 2 to 0", old.Name))
	rs := newRSOf(t, ns, getDeployment(t, ns, "batch"))
	waitForEvent(t, ns, "batch", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to 2", rs.Name))
}

func TestProgressDeadlineExceeded(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	d := newDeployment("stuck", 1, "nginx:1")
	d.Spec.ProgressDeadlineSeconds = ptr(int32(2))
	if _, err := cluster.client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := newRSOf(t, ns, getDeployment(t, ns, "stuck"))
	cond := waitForCondition(t, ns, "stuck", appsv1.DeploymentProgressing, corev1.ConditionFalse, "ProgressDeadlineExceeded")
	if want := fmt.Sprintf("ReplicaSet %q has timed out progressing.", rs.Name); cond.Message != want {
		t.Errorf("message %q, want %q", cond.Message, want)
	}
	avail := waitForCondition(t, ns, "stuck", appsv1.DeploymentAvailable, corev1.ConditionFalse, "MinimumReplicasUnavailable")
	if avail.Message != "Deployment does not have minimum availability." {
		t.Errorf("Available message %q", avail.Message)
	}
	_, stderr, err := cluster.server.Kubectl(t, "-n", ns, "rollout", "status", "deployment/stuck", "--timeout=20s")
	if err == nil || !strings.Contains(stderr, `deployment "stuck" exceeded its progress deadline`) {
		t.Errorf("rollout status: err %v stderr %q", err, stderr)
	}
	fields := strings.Fields(kubectl(t, ns, "get", "deploy", "stuck", "--no-headers"))
	if len(fields) < 4 || fields[1] != "0/1" || fields[2] != "1" || fields[3] != "0" {
		t.Errorf("kubectl get deploy: %v, want READY 0/1 UP-TO-DATE 1 AVAILABLE 0", fields)
	}
}

func ptr[T any](v T) *T { return &v }

// TestProportionalScaling scales a deployment in the middle of a stuck
// rollout: the replicas added are spread over the old and the new
// ReplicaSet in proportion to their size, as upstream does.
func TestProportionalScaling(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	d := newDeployment("prop", 10, "nginx:1")
	surge, unavailable := intstr.FromInt32(3), intstr.FromInt32(2)
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}}
	if _, err := cluster.client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop := kubelet(t, ns, "prop")
	kubectl(t, ns, "rollout", "status", "deployment/prop", "--timeout=60s")
	stop()
	old := newRSOf(t, ns, getDeployment(t, ns, "prop"))
	// The new pods never get ready: the rollout stops at 8 old and 5 new.
	kubectl(t, ns, "set", "image", "deployment/prop", "app=nginx:2")
	cur := newRSOf(t, ns, getDeployment(t, ns, "prop"))
	sizes := func(wantOld, wantNew int32) {
		t.Helper()
		poll(t, fmt.Sprintf("replica sets at %d old and %d new", wantOld, wantNew), func(ctx context.Context) (bool, error) {
			o, err := cluster.client.AppsV1().ReplicaSets(ns).Get(ctx, old.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			n, err := cluster.client.AppsV1().ReplicaSets(ns).Get(ctx, cur.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return *o.Spec.Replicas == wantOld && *n.Spec.Replicas == wantNew, nil
		})
	}
	sizes(8, 5)
	kubectl(t, ns, "scale", "deployment/prop", "--replicas=20")
	sizes(14, 9)
	waitForEvent(t, ns, "prop", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 8 to 14", old.Name))
	waitForEvent(t, ns, "prop", "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 5 to 9", cur.Name))
}

// TestReplicaFailure shows a ReplicaSet's failure to create pods on its
// deployment, as upstream surfaces quota errors.
func TestReplicaFailure(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resourceQuantity("1")}}}
	if _, err := cluster.client.CoreV1().ResourceQuotas(ns).Create(t.Context(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "quota status", func(ctx context.Context) (bool, error) {
		q, err := cluster.client.CoreV1().ResourceQuotas(ns).Get(ctx, "pods", metav1.GetOptions{})
		return err == nil && q.Status.Hard != nil, nil
	})
	if _, err := cluster.client.AppsV1().Deployments(ns).Create(t.Context(), newDeployment("capped", 2, "nginx:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cond := waitForCondition(t, ns, "capped", appsv1.DeploymentReplicaFailure, corev1.ConditionTrue, "FailedCreate")
	if !strings.Contains(cond.Message, "exceeded quota: pods") {
		t.Errorf("ReplicaFailure message %q", cond.Message)
	}
}

func resourceQuantity(s string) resource.Quantity { return resource.MustParse(s) }
