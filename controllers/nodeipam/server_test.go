package nodeipam_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// TestServer runs the allocator inside a real server, acting as the
// node-controller service account: a cluster CIDR with room for two nodes
// of --node-cidr-mask-size 25 gives them distinct CIDRs, the third node
// gets a CIDRNotAvailable event, then the CIDR of a deleted node.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{ExtraArgs: []string{"--cluster-cidr", "10.99.0.0/24", "--node-cidr-mask-size", "25"}})
	c, err := s.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	podCIDR := func(name string) string {
		t.Helper()
		var got string
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			got = n.Spec.PodCIDR
			return got != "" && len(n.Spec.PodCIDRs) == 1 && n.Spec.PodCIDRs[0] == got, nil
		})
		if err != nil {
			t.Fatalf("node %s got no pod CIDR: %v", name, err)
		}
		return got
	}
	for _, name := range []string{"a", "b"} {
		if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := podCIDR("a"), podCIDR("b")
	if a == b || (a != "10.99.0.0/25" && a != "10.99.0.128/25") || (b != "10.99.0.0/25" && b != "10.99.0.128/25") {
		t.Fatalf("pod CIDRs %s and %s, want the two halves of 10.99.0.0/24", a, b)
	}
	if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := c.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{
			FieldSelector: fields.Set{"involvedObject.name": "c", "reason": "CIDRNotAvailable"}.String()})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Message == "Node c status is now: CIDRNotAvailable" && e.Source.Component == "cidrAllocator" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no CIDRNotAvailable event for node c: %v", err)
	}
	if err := c.CoreV1().Nodes().Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := podCIDR("c"); got != a {
		t.Fatalf("node c got %s, want %s which node a held", got, a)
	}
}
