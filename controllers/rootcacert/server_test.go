package rootcacert_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/controllers/rootcacert"
	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestServer runs the publisher inside a real skiff server: a new namespace
// gets kube-root-ca.crt holding the CA the admin kubeconfig trusts, and gets
// it back after it is deleted or edited.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	cfg, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	ca := cfg.TLSClientConfig.CAData
	if len(ca) == 0 && cfg.TLSClientConfig.CAFile != "" {
		if ca, err = os.ReadFile(cfg.TLSClientConfig.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	if len(ca) == 0 {
		t.Fatal("the admin kubeconfig names no CA")
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := testserver.Namespace(t, client)
	cms := client.CoreV1().ConfigMaps(ns)

	tests := []struct {
		name   string
		change func(ctx context.Context) error
	}{
		{name: "new namespace", change: func(context.Context) error { return nil }},
		{name: "deleted", change: func(ctx context.Context) error {
			return cms.Delete(ctx, rootcacert.ConfigMapName, metav1.DeleteOptions{})
		}},
		{name: "edited", change: func(ctx context.Context) error {
			_, err := cms.Update(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: rootcacert.ConfigMapName},
				Data:       map[string]string{rootcacert.DataKey: "not a CA"},
			}, metav1.UpdateOptions{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.change(t.Context()); err != nil {
				t.Fatal(err)
			}
			var last *corev1.ConfigMap
			err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
				cm, err := cms.Get(ctx, rootcacert.ConfigMapName, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return false, nil
				}
				if err != nil {
					return false, err
				}
				last = cm
				return cm.Data[rootcacert.DataKey] == string(ca) &&
					cm.Annotations[rootcacert.DescriptionAnnotation] == rootcacert.Description, nil
			})
			if err != nil {
				t.Fatalf("waiting for %s/%s with the cluster CA: %v; last seen: %v", ns, rootcacert.ConfigMapName, err, last)
			}
		})
	}
}
