package statefulset_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"), ExtraArgs: testserver.WithoutScheduler}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSet(name string, replicas int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	lbls := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(replicas),
			ServiceName:         name,
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
}

// livePods returns the names of the set's pods not being deleted.
func livePods(t *testing.T, client kubernetes.Interface, ns, app string) map[string]corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p
		}
	}
	return out
}

func names(m map[string]corev1.Pod) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var lastErr error
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		lastErr = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last: %v)", what, err, lastErr)
	}
}

func waitForPods(t *testing.T, client kubernetes.Interface, ns, app string, want ...string) map[string]corev1.Pod {
	t.Helper()
	slices.Sort(want)
	var got map[string]corev1.Pod
	waitFor(t, fmt.Sprintf("pods %v", want), func() (bool, error) {
		got = livePods(t, client, ns, app)
		return slices.Equal(names(got), want), fmt.Errorf("pods %v", names(got))
	})
	return got
}

// markReady sets the pod Running and Ready, as a kubelet would.
func markReady(t *testing.T, client kubernetes.Interface, ns, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		pod, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		now := metav1.Now()
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		_, err = client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("marking pod %s ready: %v", name, err)
	}
}

// markAllReady marks every live pod of the set ready that is not yet.
func markAllReady(t *testing.T, client kubernetes.Interface, ns, app string) {
	t.Helper()
	for name, p := range livePods(t, client, ns, app) {
		if p.Status.Phase != corev1.PodRunning {
			markReady(t, client, ns, name)
		}
	}
}

func TestOrderedReady(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	set := newSet("web", 3, appsv1.OrderedReadyPodManagement)
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	created, err := client.AppsV1().StatefulSets(ns).Create(t.Context(), set, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		want := make([]string, i+1)
		for j := range want {
			want[j] = fmt.Sprintf("web-%d", j)
		}
		pods := waitForPods(t, client, ns, "web", want...)
		// The next ordinal waits for this one to be Ready.
		time.Sleep(500 * time.Millisecond)
		if got := names(livePods(t, client, ns, "web")); len(got) != i+1 {
			t.Fatalf("pods %v exist before web-%d is ready", got, i)
		}
		pod := pods[fmt.Sprintf("web-%d", i)]
		t.Run(pod.Name, func(t *testing.T) {
			wantLabels := map[string]string{
				appsv1.StatefulSetPodNameLabel: pod.Name,
				appsv1.PodIndexLabel:           fmt.Sprint(i),
			}
			for k, v := range wantLabels {
				if pod.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, pod.Labels[k], v)
				}
			}
			if !strings.HasPrefix(pod.Labels[appsv1.StatefulSetRevisionLabel], "web-") {
				t.Errorf("revision label %q", pod.Labels[appsv1.StatefulSetRevisionLabel])
			}
			if pod.Spec.Hostname != pod.Name || pod.Spec.Subdomain != "web" {
				t.Errorf("hostname %q subdomain %q", pod.Spec.Hostname, pod.Spec.Subdomain)
			}
			claim := fmt.Sprintf("data-web-%d", i)
			found := false
			for _, v := range pod.Spec.Volumes {
				found = found || v.Name == "data" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim
			}
			if !found {
				t.Errorf("volumes %+v do not mount claim %s", pod.Spec.Volumes, claim)
			}
			pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), claim, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("claim of %s: %v", pod.Name, err)
			}
			if pvc.Labels["app"] != "web" {
				t.Errorf("claim labels %v lack the selector's", pvc.Labels)
			}
			if ref := metav1.GetControllerOf(&pod); ref == nil || ref.UID != created.UID {
				t.Errorf("controller ref %+v", ref)
			}
		})
		markReady(t, client, ns, pod.Name)
	}
	waitForEvent(t, client, ns, "web", "SuccessfulCreate", "Create Pod web-0 in StatefulSet web successful")
	waitForEvent(t, client, ns, "web", "SuccessfulCreate", "Create Claim data-web-0 Pod web-0 in StatefulSet web success")

	waitFor(t, "status", func() (bool, error) {
		got, err := client.AppsV1().StatefulSets(ns).Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := got.Status
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.CurrentReplicas == 3 && s.UpdatedReplicas == 3 &&
			s.CurrentRevision != "" && s.CurrentRevision == s.UpdateRevision && s.ObservedGeneration == got.Generation, fmt.Errorf("status %+v", s)
	})
	server.Kubectl(t, "rollout", "status", "-n", ns, "statefulset/web", "--timeout=20s")

	// Scale down removes the highest ordinal first, one at a time.
	w, err := client.CoreV1().Pods(ns).Watch(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, _, err := server.Kubectl(t, "scale", "-n", ns, "statefulset/web", "--replicas=1"); err != nil {
		t.Fatal(err)
	}
	var deleted []string
	timeout := time.After(20 * time.Second)
	for len(deleted) < 2 {
		select {
		case ev := <-w.ResultChan():
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Deleted {
				deleted = append(deleted, p.Name)
			}
		case <-timeout:
			t.Fatalf("pods deleted on scale down: %v", deleted)
		}
	}
	if !slices.Equal(deleted, []string{"web-2", "web-1"}) {
		t.Errorf("scale down deleted %v, want web-2 then web-1", deleted)
	}
	waitForPods(t, client, ns, "web", "web-0")
	// Claims outlive their pods by default.
	for i := range 3 {
		if _, err := client.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), fmt.Sprintf("data-web-%d", i), metav1.GetOptions{}); err != nil {
			t.Errorf("claim data-web-%d: %v", i, err)
		}
	}
}

func TestParallel(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	set := newSet("par", 3, appsv1.ParallelPodManagement)
	set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	if _, err := client.AppsV1().StatefulSets(ns).Create(t.Context(), set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// None is ready, yet all start together.
	waitForPods(t, client, ns, "par", "par-5", "par-6", "par-7")
	if _, _, err := server.Kubectl(t, "scale", "-n", ns, "statefulset/par", "--replicas=1"); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, client, ns, "par", "par-5")
}

func TestPartitionedRollingUpdate(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	set := newSet("part", 3, appsv1.OrderedReadyPodManagement)
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}}
	if _, err := client.AppsV1().StatefulSets(ns).Create(t.Context(), set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("part-%d", i)
		waitFor(t, name, func() (bool, error) { _, ok := livePods(t, client, ns, "part")[name]; return ok, nil })
		markReady(t, client, ns, name)
	}
	server.Kubectl(t, "rollout", "status", "-n", ns, "statefulset/part", "--timeout=20s")
	first := livePods(t, client, ns, "part")
	oldRev := first["part-0"].Labels[appsv1.StatefulSetRevisionLabel]

	if _, _, err := server.Kubectl(t, "set", "image", "-n", ns, "statefulset/part", "c=registry.k8s.io/pause:3.9"); err != nil {
		t.Fatal(err)
	}
	revisionOf := func() map[string]string {
		out := map[string]string{}
		for n, p := range livePods(t, client, ns, "part") {
			out[n] = p.Labels[appsv1.StatefulSetRevisionLabel]
		}
		return out
	}
	// Ordinals at or above the partition roll, highest first.
	waitFor(t, "part-2 updated", func() (bool, error) {
		r := revisionOf()
		return r["part-2"] != "" && r["part-2"] != oldRev, fmt.Errorf("revisions %v", r)
	})
	time.Sleep(500 * time.Millisecond)
	if r := revisionOf(); r["part-1"] != oldRev {
		t.Fatalf("part-1 updated before part-2 was ready: %v", r)
	}
	markReady(t, client, ns, "part-2")
	waitFor(t, "part-1 updated", func() (bool, error) {
		r := revisionOf()
		return r["part-1"] != "" && r["part-1"] != oldRev, fmt.Errorf("revisions %v", r)
	})
	markReady(t, client, ns, "part-1")
	waitFor(t, "partitioned status", func() (bool, error) {
		got, err := client.AppsV1().StatefulSets(ns).Get(t.Context(), "part", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := got.Status
		return s.UpdatedReplicas == 2 && s.CurrentReplicas == 1 && s.ReadyReplicas == 3 && s.CurrentRevision == oldRev && s.UpdateRevision != oldRev, fmt.Errorf("status %+v", s)
	})
	time.Sleep(500 * time.Millisecond)
	if r := revisionOf(); r["part-0"] != oldRev {
		t.Fatalf("part-0, below the partition, was updated: %v", r)
	}
	out, _, err := server.Kubectl(t, "rollout", "status", "-n", ns, "statefulset/part", "--timeout=20s")
	if err != nil || !strings.Contains(out, "partitioned roll out complete") {
		t.Errorf("rollout status: %v\n%s", err, out)
	}

	// Lowering the partition finishes the rollout.
	if _, _, err := server.Kubectl(t, "patch", "-n", ns, "statefulset/part", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "part-0 updated", func() (bool, error) {
		r := revisionOf()
		return r["part-0"] != "" && r["part-0"] != oldRev, fmt.Errorf("revisions %v", r)
	})
	markReady(t, client, ns, "part-0")
	server.Kubectl(t, "rollout", "status", "-n", ns, "statefulset/part", "--timeout=20s")
	waitFor(t, "update revision current", func() (bool, error) {
		got, err := client.AppsV1().StatefulSets(ns).Get(t.Context(), "part", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.CurrentRevision == got.Status.UpdateRevision && got.Status.CurrentReplicas == 3, fmt.Errorf("status %+v", got.Status)
	})

	out, _, err = server.Kubectl(t, "rollout", "history", "-n", ns, "statefulset/part")
	if err != nil || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history: %v\n%s", err, out)
	}
	if _, _, err := server.Kubectl(t, "rollout", "undo", "-n", ns, "statefulset/part"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rolled back", func() (bool, error) {
		markAllReady(t, client, ns, "part")
		r := revisionOf()
		for _, rev := range r {
			if rev != oldRev {
				return false, fmt.Errorf("revisions %v", r)
			}
		}
		return len(r) == 3, fmt.Errorf("revisions %v", r)
	})
}

func TestClaimRetentionDeleteOnScaleDown(t *testing.T) {
	client := clientFor(t)
	ns := testserver.Namespace(t, client)
	set := newSet("ret", 2, appsv1.ParallelPodManagement)
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	set.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	if _, err := client.AppsV1().StatefulSets(ns).Create(t.Context(), set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPods(t, client, ns, "ret", "ret-0", "ret-1")
	markAllReady(t, client, ns, "ret")
	if _, _, err := server.Kubectl(t, "scale", "-n", ns, "statefulset/ret", "--replicas=1"); err != nil {
		t.Fatal(err)
	}
	// The condemned pod's claim gets the pod as owner before the pod goes,
	// so the garbage collector deletes it after.
	waitForPods(t, client, ns, "ret", "ret-0")
	pvc, err := client.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), "data-ret-1", metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err == nil {
		ref := metav1.GetControllerOf(pvc)
		if ref == nil || ref.Kind != "Pod" || ref.Name != "ret-1" {
			t.Errorf("claim of the scaled-down pod is owned by %+v, want pod ret-1", ref)
		}
	}
	pvc0, err := client.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), "data-ret-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(pvc0); ref != nil {
		t.Errorf("claim of a kept pod is owned by %+v", ref)
	}
}

// waitForEvent waits for an event on the object named about with reason and
// message, as kubectl describe shows them.
func waitForEvent(t *testing.T, client kubernetes.Interface, ns, about, reason, message string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("event %s %q", reason, message), func() (bool, error) {
		events, err := client.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + about})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Message == message && e.Source.Component == "statefulset-controller" {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d events", len(events.Items))
	})
}
