package disruption_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestBudgets runs the disruption controller in a real server: budget
// status follows the pods (marked ready by the test, as no kubelet runs)
// and the scale of their controller, and the eviction API obeys it.
func TestBudgets(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := testserver.Namespace(t, client)

	// A ReplicaSet of 3 (no replicaset controller acts here: the test makes
	// its pods) and its pods, all ready.
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	rs, err = client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owner := metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	for i := range 3 {
		readyPod(t, client, ns, fmt.Sprintf("web-%d", i), map[string]string{"app": "web"}, owner)
	}

	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, client, ns, "web", func(st policyv1.PodDisruptionBudgetStatus) bool { return st.DisruptionsAllowed == 1 })
	if got.Status.ExpectedPods != 3 || got.Status.CurrentHealthy != 3 || got.Status.DesiredHealthy != 2 || got.Status.ObservedGeneration != got.Generation {
		t.Errorf("status %+v", got.Status)
	}
	cond := apimeta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition)
	if cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != policyv1.SufficientPodsReason {
		t.Errorf("condition %+v", cond)
	}

	// One eviction is allowed; the pod then counts as disrupted, so a
	// second one is refused with upstream's 429.
	evict := func(name string) error {
		return client.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}})
	}
	if err := evict("web-0"); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	got = waitStatus(t, client, ns, "web", func(st policyv1.PodDisruptionBudgetStatus) bool {
		return st.DisruptionsAllowed == 0 && st.CurrentHealthy == 2
	})
	if cond := apimeta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition); cond == nil || cond.Reason != policyv1.InsufficientPodsReason {
		t.Errorf("condition after an eviction %+v", cond)
	}
	err = evict("web-1")
	if !apierrors.IsTooManyRequests(err) || err.Error() != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Errorf("second eviction: %v, want 429 with upstream's message", err)
	}

	// minAvailable as a number needs no controller: pods without one count.
	for i := range 2 {
		readyPod(t, client, ns, fmt.Sprintf("loose-%d", i), map[string]string{"app": "loose"}, nil)
	}
	loose := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "loose"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "loose"}},
		},
	}
	if _, err := client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, loose, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, ns, "loose", func(st policyv1.PodDisruptionBudgetStatus) bool {
		return st.ExpectedPods == 2 && st.CurrentHealthy == 2 && st.DesiredHealthy == 1 && st.DisruptionsAllowed == 1
	})
}

func readyPod(t *testing.T, client kubernetes.Interface, ns, name string, labels map[string]string, owner *metav1.OwnerReference) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	created, err := client.CoreV1().Pods(ns).Create(t.Context(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitStatus(t *testing.T, client kubernetes.Interface, ns, name string, ok func(policyv1.PodDisruptionBudgetStatus) bool) *policyv1.PodDisruptionBudget {
	t.Helper()
	var last *policyv1.PodDisruptionBudget
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pdb, err := client.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = pdb
		return ok(pdb.Status), nil
	})
	if err != nil {
		t.Fatalf("budget %s/%s never reached the expected status; last %+v", ns, name, last.Status)
	}
	return last
}
