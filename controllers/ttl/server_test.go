package ttl_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestServer: hollow nodes registering with a server get the TTL of a
// small cluster, and get it back when someone changes it.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{HollowNodes: 2})
	client, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	allAnnotated := func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, n := range nodes.Items {
			if n.Annotations[corev1.ObjectTTLAnnotationKey] != "0" {
				return false, nil
			}
		}
		return len(nodes.Items) == 2, nil
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, allAnnotated); err != nil {
		out, _, _ := s.Kubectl(t, "get", "nodes", "-o", "yaml")
		t.Fatalf("waiting for the ttl annotation on both nodes: %v\n%s", err, out)
	}
	nodes, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := nodes.Items[0].Name
	if _, _, err := s.Kubectl(t, "annotate", "node", name, "--overwrite", corev1.ObjectTTLAnnotationKey+"=600"); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, allAnnotated); err != nil {
		t.Fatalf("waiting for the ttl annotation of %s to be restored: %v", name, err)
	}
}
