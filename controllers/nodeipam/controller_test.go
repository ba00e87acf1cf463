package nodeipam

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCIDRSet(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		mask    int
		occupy  []string
		want    []string
	}{
		{name: "default /24 in /16", cluster: "10.42.0.0/16", mask: 24, want: []string{"10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"}},
		{name: "skips occupied", cluster: "10.42.0.0/16", mask: 24, occupy: []string{"10.42.1.0/24"}, want: []string{"10.42.0.0/24", "10.42.2.0/24"}},
		{name: "larger occupied range", cluster: "10.42.0.0/16", mask: 24, occupy: []string{"10.42.0.0/23"}, want: []string{"10.42.2.0/24"}},
		{name: "/26 nodes", cluster: "10.42.0.0/16", mask: 26, want: []string{"10.42.0.0/26", "10.42.0.64/26", "10.42.0.128/26", "10.42.0.192/26", "10.42.1.0/26"}},
		{name: "ipv6", cluster: "fd00:42::/56", mask: 64, want: []string{"fd00:42::/64", "fd00:42:0:1::/64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newCIDRSet(mustCIDR(t, tt.cluster), tt.mask)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.occupy {
				if err := s.occupy(mustCIDR(t, o)); err != nil {
					t.Fatal(err)
				}
			}
			for _, w := range tt.want {
				got, err := s.allocateNext()
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != w {
					t.Fatalf("allocated %s, want %s", got, w)
				}
			}
		})
	}
	t.Run("exhaustion and release", func(t *testing.T) {
		s, err := newCIDRSet(mustCIDR(t, "10.0.0.0/24"), 25)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := s.allocateNext()
		if _, err := s.allocateNext(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.allocateNext(); err != errNoCIDRsRemaining {
			t.Fatalf("third allocation: %v, want %v", err, errNoCIDRsRemaining)
		}
		if err := s.release(a); err != nil {
			t.Fatal(err)
		}
		got, err := s.allocateNext()
		if err != nil || got.String() != a.String() {
			t.Fatalf("after release got %v, %v; want %s", got, err, a)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		s, _ := newCIDRSet(mustCIDR(t, "10.42.0.0/16"), 24)
		if err := s.occupy(mustCIDR(t, "10.50.0.0/24")); err == nil {
			t.Fatal("occupying a CIDR outside the cluster CIDR succeeded")
		}
	})
}

// TestController runs the allocator on a fake clientset: recovery of held
// subnets, allocation, release on delete and the CIDRNotAvailable event.
func TestController(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	held := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "held"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/25", PodCIDRs: []string{"10.0.0.0/25"}}}
	client := fake.NewClientset(held)
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, inf.Core().V1().Nodes(), Options{ClusterCIDRs: []*net.IPNet{mustCIDR(t, "10.0.0.0/24")}, NodeMaskSizes: []int{25}})
	if err != nil {
		t.Fatal(err)
	}
	inf.Start(ctx.Done())
	go c.Run(ctx, 2)

	podCIDR := func(name string) string {
		var got string
		_ = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			got = n.Spec.PodCIDR
			return got != "", nil
		})
		return got
	}
	create := func(name string) {
		t.Helper()
		if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "uid-" + "name"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	create("a")
	if got := podCIDR("a"); got != "10.0.0.128/25" {
		t.Fatalf("node a got %q, want 10.0.0.128/25 (10.0.0.0/25 is held by node held)", got)
	}
	n, _ := client.CoreV1().Nodes().Get(ctx, "a", metav1.GetOptions{})
	if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		t.Fatalf("podCIDRs %v do not match podCIDR %s", n.Spec.PodCIDRs, n.Spec.PodCIDR)
	}

	create("b")
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "CIDRNotAvailable" && e.InvolvedObject.Name == "b" {
				if want := "Node b status is now: CIDRNotAvailable"; !strings.Contains(e.Message, want) {
					t.Errorf("event message %q, want %q", e.Message, want)
				}
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no CIDRNotAvailable event for node b: %v", err)
	}

	if err := client.CoreV1().Nodes().Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := podCIDR("b"); got != "10.0.0.0/25" {
		t.Fatalf("node b got %q after held was deleted, want 10.0.0.0/25", got)
	}
}
