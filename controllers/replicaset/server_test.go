package replicaset_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

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

// namespace makes a namespace for the test and waits for its default
// ServiceAccount, without which no pod is admitted.
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
	if err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}}}},
	}
}

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
}

// activePods lists the pods with label app=app that are not being deleted.
func activePods(t *testing.T, ns, app string) []corev1.Pod {
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
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func waitForPods(t *testing.T, ns, app string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	poll(t, fmt.Sprintf("%d pods app=%s", n, app), func(ctx context.Context) (bool, error) {
		pods = activePods(t, ns, app)
		return len(pods) == n, nil
	})
	// And that it stays there: a controller that overshoots shows now.
	time.Sleep(300 * time.Millisecond)
	if pods = activePods(t, ns, app); len(pods) != n {
		t.Fatalf("%d pods app=%s, want %d", len(pods), app, n)
	}
	return pods
}

// markReady does what a kubelet would: the pod runs and is ready.
func markReady(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	now := metav1.Now()
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Ready: true, Image: p.Spec.Containers[0].Image,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
	if _, err := cluster.client.CoreV1().Pods(p.Namespace).UpdateStatus(t.Context(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("marking pod %s ready: %v", p.Name, err)
	}
}

func checkControllerRef(t *testing.T, pod *corev1.Pod, kind, name string, uid types.UID) {
	t.Helper()
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != kind || ref.Name != name || ref.UID != uid ||
		ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		t.Fatalf("pod %s controller reference = %+v, want %s %s (%s) blocking owner deletion", pod.Name, ref, kind, name, uid)
	}
}

func waitForRSStatus(t *testing.T, ns, name string, want func(s appsv1.ReplicaSetStatus) bool) *appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	poll(t, "replicaset "+name+" status", func(ctx context.Context) (bool, error) {
		got, err := cluster.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		rs = got
		return got.Status.ObservedGeneration == got.Generation && want(got.Status), nil
	})
	return rs
}

// events returns the messages of the events of reason on the object named
// name.
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

func TestReplicaSet(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	c := cluster.client
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, newRS("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitForPods(t, ns, "web", 3)
	for i := range pods {
		checkControllerRef(t, &pods[i], "ReplicaSet", "web", rs.UID)
		if !strings.HasPrefix(pods[i].Name, "web-") {
			t.Errorf("pod name %s, want prefix web-", pods[i].Name)
		}
	}
	waitForRSStatus(t, ns, "web", func(s appsv1.ReplicaSetStatus) bool {
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ReadyReplicas == 0 && s.TerminatingReplicas != nil
	})
	poll(t, "SuccessfulCreate events", func(ctx context.Context) (bool, error) {
		return len(events(t, ns, "web", "SuccessfulCreate")) == 3, nil
	})
	for _, m := range events(t, ns, "web", "SuccessfulCreate") {
		if !strings.HasPrefix(m, "Created pod: web-") {
			t.Errorf("SuccessfulCreate message %q", m)
		}
	}

	for i := range pods {
		markReady(t, &pods[i])
	}
	waitForRSStatus(t, ns, "web", func(s appsv1.ReplicaSetStatus) bool {
		return s.ReadyReplicas == 3 && s.AvailableReplicas == 3
	})

	t.Run("a deleted pod is replaced", func(t *testing.T) {
		if err := c.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		now := waitForPods(t, ns, "web", 3)
		for _, p := range now {
			if p.Name == pods[0].Name {
				t.Fatalf("deleted pod %s still there", p.Name)
			}
		}
		pods = now
	})

	t.Run("a relabelled pod is released and replaced", func(t *testing.T) {
		victim := pods[1].Name
		patch := []byte(`{"metadata":{"labels":{"app":"elsewhere"}}}`)
		if _, err := c.CoreV1().Pods(ns).Patch(ctx, victim, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		poll(t, "the release of "+victim, func(ctx context.Context) (bool, error) {
			p, err := c.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return metav1.GetControllerOf(p) == nil, nil
		})
		pods = waitForPods(t, ns, "web", 3)
	})

	t.Run("scale down deletes unready and cheap pods first", func(t *testing.T) {
		for i := range pods {
			markReady(t, &pods[i])
		}
		waitForRSStatus(t, ns, "web", func(s appsv1.ReplicaSetStatus) bool { return s.ReadyReplicas == 3 })
		// pods[0]: expensive; pods[1]: cheap; pods[2]: not ready.
		setCost := func(name, cost string) {
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{"controller.kubernetes.io/pod-deletion-cost":%q}}}`, cost)
			if _, err := c.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		setCost(pods[0].Name, "100")
		setCost(pods[1].Name, "-5")
		setCost(pods[2].Name, "1000")
		p2, err := c.CoreV1().Pods(ns).Get(ctx, pods[2].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p2.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.Now()}}
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(ctx, p2, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForRSStatus(t, ns, "web", func(s appsv1.ReplicaSetStatus) bool { return s.ReadyReplicas == 2 })

		scale(t, ns, "web", 1)
		left := waitForPods(t, ns, "web", 1)
		if left[0].Name != pods[0].Name {
			t.Fatalf("kept %s, want the ready pod with the highest deletion cost %s", left[0].Name, pods[0].Name)
		}
		poll(t, "SuccessfulDelete events", func(ctx context.Context) (bool, error) {
			return len(events(t, ns, "web", "SuccessfulDelete")) >= 2, nil
		})
		for _, name := range []string{pods[1].Name, pods[2].Name} {
			found := false
			for _, m := range events(t, ns, "web", "SuccessfulDelete") {
				found = found || m == "Deleted pod: "+name
			}
			if !found {
				t.Errorf("no SuccessfulDelete event \"Deleted pod: %s\"", name)
			}
		}
		waitForRSStatus(t, ns, "web", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 1 && s.AvailableReplicas == 1 })
	})
}

func scale(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	rs, err := cluster.client.AppsV1().ReplicaSets(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs.Spec.Replicas = &replicas
	if _, err := cluster.client.AppsV1().ReplicaSets(ns).Update(t.Context(), rs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaSetAdoptsOrphans(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	c := cluster.client
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "adopt"}}, Spec: podTemplate("adopt").Spec}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A controller whose pod cache has not seen the orphan yet rightly
	// creates two pods and deletes one later. Once it counts a pod created
	// after the orphan, its cache holds the orphan too.
	if _, err := c.AppsV1().ReplicaSets(ns).Create(ctx, newRS("probe", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForRSStatus(t, ns, "probe", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 1 })
	rs, err := c.AppsV1().ReplicaSets(ns).Create(ctx, newRS("adopt", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitForPods(t, ns, "adopt", 2)
	// Adoption is a patch of its own, which may land after the new pod.
	var pods []corev1.Pod
	poll(t, "both pods owned by the ReplicaSet", func(ctx context.Context) (bool, error) {
		pods = activePods(t, ns, "adopt")
		for _, p := range pods {
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != rs.UID {
				return false, nil
			}
		}
		return len(pods) == 2, nil
	})
	found := false
	for i := range pods {
		checkControllerRef(t, &pods[i], "ReplicaSet", "adopt", rs.UID)
		found = found || pods[i].Name == "orphan"
	}
	if !found {
		t.Fatalf("the orphan was not kept: %v", pods)
	}
	poll(t, "SuccessfulCreate event", func(ctx context.Context) (bool, error) {
		return len(events(t, ns, "adopt", "SuccessfulCreate")) > 0, nil
	})
	if n := len(events(t, ns, "adopt", "SuccessfulCreate")); n != 1 {
		t.Errorf("%d pods created, want 1 besides the adopted orphan", n)
	}
}

func TestReplicaSetMinReadySeconds(t *testing.T) {
	ns := namespace(t)
	rs := newRS("slow", 1)
	rs.Spec.MinReadySeconds = 2
	if _, err := cluster.client.AppsV1().ReplicaSets(ns).Create(t.Context(), rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := waitForPods(t, ns, "slow", 1)
	// The ready condition's time is stored in whole seconds.
	readyAt := time.Now().Truncate(time.Second)
	markReady(t, &pods[0])
	waitForRSStatus(t, ns, "slow", func(s appsv1.ReplicaSetStatus) bool { return s.ReadyReplicas == 1 && s.AvailableReplicas == 0 })
	waitForRSStatus(t, ns, "slow", func(s appsv1.ReplicaSetStatus) bool { return s.AvailableReplicas == 1 })
	if d := time.Since(readyAt); d < 2*time.Second {
		t.Errorf("available after %s, before minReadySeconds", d)
	}
}

func TestReplicaSetQuotaFailure(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	c := cluster.client
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "pods"}, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}}}
	if _, err := c.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "quota status", func(ctx context.Context) (bool, error) {
		q, err := c.CoreV1().ResourceQuotas(ns).Get(ctx, "pods", metav1.GetOptions{})
		return err == nil && q.Status.Hard != nil, nil
	})
	if _, err := c.AppsV1().ReplicaSets(ns).Create(ctx, newRS("quota", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs := waitForRSStatus(t, ns, "quota", func(s appsv1.ReplicaSetStatus) bool {
		for _, cond := range s.Conditions {
			if cond.Type == appsv1.ReplicaSetReplicaFailure {
				return true
			}
		}
		return false
	})
	cond := rs.Status.Conditions[0]
	if cond.Status != corev1.ConditionTrue || cond.Reason != "FailedCreate" || !strings.Contains(cond.Message, "exceeded quota") {
		t.Errorf("ReplicaFailure condition %+v, want True FailedCreate exceeded quota", cond)
	}
	if n := len(activePods(t, ns, "quota")); n != 1 {
		t.Errorf("%d pods, want the 1 the quota allows", n)
	}
	poll(t, "FailedCreate event", func(ctx context.Context) (bool, error) {
		for _, m := range events(t, ns, "quota", "FailedCreate") {
			if strings.HasPrefix(m, "Error creating: pods ") && strings.Contains(m, "is forbidden: exceeded quota: pods") {
				return true, nil
			}
		}
		return false, nil
	})

	// With room again the condition goes.
	if err := c.CoreV1().ResourceQuotas(ns).Delete(ctx, "pods", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForRSStatus(t, ns, "quota", func(s appsv1.ReplicaSetStatus) bool { return s.Replicas == 3 && len(s.Conditions) == 0 })
}

func TestReplicationController(t *testing.T) {
	ns := namespace(t)
	ctx := t.Context()
	c := cluster.client
	replicas := int32(2)
	tmpl := podTemplate("rc")
	rc, err := c.CoreV1().ReplicationControllers(ns).Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc"},
		Spec:       corev1.ReplicationControllerSpec{Replicas: &replicas, Selector: map[string]string{"app": "rc"}, Template: &tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := waitForPods(t, ns, "rc", 2)
	for i := range pods {
		checkControllerRef(t, &pods[i], "ReplicationController", "rc", rc.UID)
		markReady(t, &pods[i])
	}
	waitRC := func(want func(corev1.ReplicationControllerStatus) bool) {
		t.Helper()
		poll(t, "replication controller status", func(ctx context.Context) (bool, error) {
			got, err := c.CoreV1().ReplicationControllers(ns).Get(ctx, "rc", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return got.Status.ObservedGeneration == got.Generation && want(got.Status), nil
		})
	}
	waitRC(func(s corev1.ReplicationControllerStatus) bool {
		return s.Replicas == 2 && s.FullyLabeledReplicas == 2 && s.ReadyReplicas == 2 && s.AvailableReplicas == 2
	})
	if err := c.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, ns, "rc", 2)
	if _, _, err := cluster.server.Kubectl(t, "-n", ns, "scale", "rc", "rc", "--replicas=1"); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, ns, "rc", 1)
	waitRC(func(s corev1.ReplicationControllerStatus) bool { return s.Replicas == 1 })
	poll(t, "SuccessfulDelete event on the replication controller", func(ctx context.Context) (bool, error) {
		return len(events(t, ns, "rc", "SuccessfulDelete")) > 0, nil
	})
	if _, err := c.CoreV1().ReplicationControllers(ns).Get(ctx, "rc", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		t.Fatal("replication controller gone")
	}
}
