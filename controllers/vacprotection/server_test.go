package vacprotection_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

const finalizer = "kubernetes.io/vac-protection"

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN")}, func(s *testserver.Server) { server = s }))
}

func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func createClass(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	vac := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: name}, DriverName: "skiff.dev/test", Parameters: map[string]string{"iops": "100"}}
	if _, err := c.StorageV1().VolumeAttributesClasses().Create(t.Context(), vac, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func waitClassGone(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	waitFor(t, "class "+name+" gone", func(ctx context.Context) (bool, error) {
		_, err := c.StorageV1().VolumeAttributesClasses().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func TestVolumeAttributesClassProtection(t *testing.T) {
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := testserver.Namespace(t, c)

	t.Run("the finalizer is put back", func(t *testing.T) {
		createClass(t, c, "restored")
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := c.StorageV1().VolumeAttributesClasses().Patch(ctx, "restored", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "finalizer restored", func(ctx context.Context) (bool, error) {
			vac, err := c.StorageV1().VolumeAttributesClasses().Get(ctx, "restored", metav1.GetOptions{})
			return err == nil && slices.Contains(vac.Finalizers, finalizer), err
		})
	})

	t.Run("an unused class is deleted", func(t *testing.T) {
		createClass(t, c, "unused")
		if err := c.StorageV1().VolumeAttributesClasses().Delete(ctx, "unused", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitClassGone(t, c, "unused")
	})

	t.Run("a class in use stays until its claim goes", func(t *testing.T) {
		createClass(t, c, "fast")
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:               []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:                 corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				VolumeAttributesClassName: ptr.To("fast"),
			},
		}
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := server.Kubectl(t, "delete", "volumeattributesclass", "fast", "--wait=false"); err != nil {
			t.Fatalf("kubectl delete: %v\n%s", err, stderr)
		}
		// Long enough for the controller to have removed the finalizer
		// if it were going to.
		time.Sleep(2 * time.Second)
		vac, err := c.StorageV1().VolumeAttributesClasses().Get(ctx, "fast", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("class in use: %v", err)
		}
		if vac.DeletionTimestamp == nil || !slices.Contains(vac.Finalizers, finalizer) {
			t.Fatalf("class in use: deletion %v finalizers %v", vac.DeletionTimestamp, vac.Finalizers)
		}
		if err := c.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitClassGone(t, c, "fast")
	})
}
