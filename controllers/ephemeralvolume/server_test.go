package ephemeralvolume_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"), HollowNodes: 1}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// podWithScratch is a pod with one generic ephemeral volume "scratch" of
// the default StorageClass.
func podWithScratch(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "app", Image: "registry.k8s.io/pause:3.10",
				VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}},
			}},
			Volumes: []corev1.Volume{{
				Name: "scratch",
				VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{
					VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kind": "scratch"}, Annotations: map[string]string{"note": "from-template"}},
						Spec: corev1.PersistentVolumeClaimSpec{
							AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
							Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
						},
					},
				}},
			}},
		},
	}
}

// TestEphemeralVolumeLifecycle: the claim is made from the template, owned
// by the pod; the pod runs on it; the claim goes with the pod.
func TestEphemeralVolumeLifecycle(t *testing.T) {
	c := clientFor(t)
	ctx := t.Context()
	ns := testserver.Namespace(t, c)
	pod, err := c.CoreV1().Pods(ns).Create(ctx, podWithScratch("app"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod Running", 60*time.Second, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, err
	})
	pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "app-scratch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: "app", UID: pod.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	if len(pvc.OwnerReferences) != 1 || !reflect.DeepEqual(pvc.OwnerReferences[0], want) {
		t.Errorf("owner references %+v, want %+v", pvc.OwnerReferences, want)
	}
	if pvc.Labels["kind"] != "scratch" || pvc.Annotations["note"] != "from-template" {
		t.Errorf("claim metadata %v %v", pvc.Labels, pvc.Annotations)
	}
	if ptr.Deref(pvc.Spec.StorageClassName, "") != "local-path" || pvc.Status.Phase != corev1.ClaimBound {
		t.Errorf("claim class %v phase %s", pvc.Spec.StorageClassName, pvc.Status.Phase)
	}
	out, _, err := server.Kubectl(t, "get", "pvc", "-n", ns)
	if err != nil || !strings.Contains(out, "app-scratch") || !strings.Contains(out, "Bound") {
		t.Errorf("kubectl get pvc: %v\n%s", err, out)
	}

	if err := c.CoreV1().Pods(ns).Delete(ctx, "app", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "claim collected with its pod", 60*time.Second, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "app-scratch", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// TestEphemeralVolumeConflict: a claim of the volume's name that the pod
// does not own is not used; the pod waits and says why.
func TestEphemeralVolumeConflict(t *testing.T) {
	c := clientFor(t)
	ctx := t.Context()
	ns := testserver.Namespace(t, c)
	foreign := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "taken-scratch"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, podWithScratch("taken"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantMsg := fmt.Sprintf("ephemeral volume scratch: PVC %s/taken-scratch was not created for pod %s/taken (pod is not owner)", ns, ns)
	waitFor(t, "FailedBinding event", 30*time.Second, func(ctx context.Context) (bool, error) {
		list, err := c.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod,involvedObject.name=taken,reason=FailedBinding"})
		if err != nil {
			return false, err
		}
		for _, e := range list.Items {
			if e.Message == wantMsg && e.Type == corev1.EventTypeWarning && e.Source.Component == "ephemeral_volume" {
				return true, nil
			}
		}
		return false, nil
	})
	p, err := c.CoreV1().Pods(ns).Get(ctx, "taken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
		t.Errorf("pod with a foreign claim: node %q phase %s", p.Spec.NodeName, p.Status.Phase)
	}
	pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "taken-scratch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pvc.OwnerReferences) != 0 {
		t.Errorf("the foreign claim was taken over: %+v", pvc.OwnerReferences)
	}
}
