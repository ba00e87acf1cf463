package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestControllersActAsTheirServiceAccounts shows the controllers hold no
// more than their upstream roles: without the binding of
// system:controller:service-account-controller, a new namespace gets no
// default service account; with it back, it does.
func TestControllersActAsTheirServiceAccounts(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, name := range []string{"namespace-controller", "service-account-controller", "root-ca-cert-publisher", "clusterrole-aggregation-controller", "token-cleaner", "service-cidrs-controller", "resourcequota-controller"} {
		if _, err := client.CoreV1().ServiceAccounts("kube-system").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("service account kube-system/%s: %v", name, err)
		}
	}

	const bindingName = "system:controller:service-account-controller"
	binding, err := client.RbacV1().ClusterRoleBindings().Get(ctx, bindingName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.RbacV1().ClusterRoleBindings().Delete(ctx, bindingName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Let the deletion reach the RBAC cache before the namespace exists.
	time.Sleep(time.Second)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if _, err := client.CoreV1().ServiceAccounts("unbound").Get(ctx, "default", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("default service account without the controller's binding: err=%v, want NotFound", err)
	}

	restored := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: bindingName, Labels: binding.Labels, Annotations: binding.Annotations},
		RoleRef: binding.RoleRef, Subjects: binding.Subjects}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, restored, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 45*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("unbound").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default service account once the binding was back")
	}

	// The controllers' writes carry kube-controller-manager's field manager,
	// as upstream's (the first word of the client's user agent).
	cm, err := client.CoreV1().ConfigMaps("unbound").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cm.ManagedFields) == 0 || cm.ManagedFields[0].Manager != "kube-controller-manager" {
		t.Errorf("kube-root-ca.crt managed fields %+v, want manager kube-controller-manager", cm.ManagedFields)
	}
}

// TestControllerManagerLease: the controllers run under the
// kube-controller-manager Lease, held by this server and renewed, so that a
// second server on the same datastore would wait.
func TestControllerManagerLease(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var first *coordinationv1.Lease
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil || l.Spec.RenewTime == nil {
			return false, nil
		}
		first = l
		return true, nil
	})
	if err != nil {
		t.Fatal("no kube-controller-manager lease is held")
	}
	host, _ := os.Hostname()
	if !strings.HasPrefix(*first.Spec.HolderIdentity, host+"_") || first.Spec.LeaseDurationSeconds == nil || *first.Spec.LeaseDurationSeconds != 15 {
		t.Errorf("lease %+v", first.Spec)
	}
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 15*time.Second, false, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first.Spec.RenewTime.Time) && *l.Spec.HolderIdentity == *first.Spec.HolderIdentity, nil
	})
	if err != nil {
		t.Error("the lease is not renewed by its holder")
	}

	// A restarted server is the same candidate, so it takes the lease back
	// at once even if it was not released.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if client, err = s.Clientset(); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == *first.Spec.HolderIdentity &&
			l.Spec.RenewTime.After(first.Spec.RenewTime.Time), nil
	})
	if err != nil {
		t.Error("the restarted server did not take its lease back within 10 s")
	}
}

// TestTwoServersOneDatastore: of two servers on one datastore only the
// lease holder runs the controllers and the scheduler; the other serves the
// API and takes over when the first one stops. Two kine instances on one
// SQLite file stand in for a shared datastore.
func TestTwoServersOneDatastore(t *testing.T) {
	a := testserver.Start(t, testserver.Options{})
	b := testserver.Start(t, testserver.Options{ExtraArgs: []string{
		"--datastore-endpoint", "sqlite://" + filepath.Join(a.DataDir(), "server", "db", "state.db")}})
	ctx := t.Context()
	readID := func(s *testserver.Server) string {
		id, err := os.ReadFile(filepath.Join(s.DataDir(), "server", "id"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(id))
	}
	idA, idB := readID(a), readID(b)
	clientB, err := b.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	holders := func(id string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
				l, err := clientB.CoordinationV1().Leases("kube-system").Get(ctx, name, metav1.GetOptions{})
				if err != nil || l.Spec.HolderIdentity == nil || !strings.HasSuffix(*l.Spec.HolderIdentity, "_"+id) {
					return false, nil
				}
			}
			return true, nil
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, holders(idA)); err != nil {
		t.Fatal("the first server does not hold both leases")
	}
	// Work asked of the second server is done by the first one's
	// controllers, and the second one never starts its own.
	if _, err := clientB.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "via-b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.WaitForDefaultServiceAccount(t, clientB, "via-b")
	if strings.Contains(b.LogTail(100000), "Leading; starting controllers") {
		t.Fatal("the second server started controllers while the first one held the lease")
	}

	// The first server stops (and releases its leases): the second one
	// takes over.
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 45*time.Second, true, holders(idB)); err != nil {
		t.Fatal("the second server did not take both leases over")
	}
	if _, err := clientB.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "after-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testserver.WaitForDefaultServiceAccount(t, clientB, "after-a")
}
