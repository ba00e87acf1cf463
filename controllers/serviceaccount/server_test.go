package serviceaccount_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/controllers/serviceaccount"
	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestServer runs the controller inside a real skiff server: a new
// namespace gets its default ServiceAccount within seconds, and gets it
// back after it is deleted.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns := testserver.Namespace(t, client)

	first := waitForAccount(t, client, ns, "")
	if err := client.CoreV1().ServiceAccounts(ns).Delete(t.Context(), serviceaccount.DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the default service account: %v", err)
	}
	waitForAccount(t, client, ns, string(first.UID))

	// kube-system and default exist from bootstrap, before the controller
	// started: they get an account too.
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem} {
		waitForAccount(t, client, ns, "")
	}
}

// waitForAccount waits up to 10s for the default ServiceAccount of ns, one
// whose UID is not notUID.
func waitForAccount(t *testing.T, client kubernetes.Interface, ns string, notUID string) *corev1.ServiceAccount {
	t.Helper()
	var sa *corev1.ServiceAccount
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, serviceaccount.DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		sa = got
		return notUID == "" || string(got.UID) != notUID, nil
	})
	if err != nil {
		t.Fatalf("waiting for service account %s/%s: %v", ns, serviceaccount.DefaultName, err)
	}
	return sa
}
