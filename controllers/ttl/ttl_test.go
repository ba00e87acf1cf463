package ttl

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func node(i int) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("n%d", i)}}
}

// TestDesiredTTL walks the cluster size up and down across the steps:
// each step is entered above its predecessor's maximum and left below its
// own minimum, so sizes in the overlap keep the TTL they have.
func TestDesiredTTL(t *testing.T) {
	client := fake.NewClientset()
	c, err := New(client, informers.NewSharedInformerFactory(client, 0).Core().V1().Nodes())
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	resize := func(to int) {
		for ; size < to; size++ {
			c.addNode(node(size))
		}
		for ; size > to; size-- {
			c.deleteNode(cache.DeletedFinalStateUnknown{Obj: node(size - 1)})
		}
	}
	steps := []struct {
		size int
		want int
	}{
		{1, 0}, {100, 0}, {101, 15}, {95, 15}, {89, 0}, {501, 30}, {1001, 60}, {2001, 300},
		{1850, 300}, {1799, 60}, {899, 30}, {449, 15}, {0, 0},
	}
	for _, s := range steps {
		t.Run(fmt.Sprintf("%d nodes", s.size), func(t *testing.T) {
			resize(s.size)
			if got := c.DesiredTTL(); got != s.want {
				t.Errorf("TTL %d, want %d", got, s.want)
			}
		})
	}
}

// TestSync: a node whose annotation is missing, wrong or unreadable is
// patched; one already right is left alone.
func TestSync(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		wantPatch   bool
	}{
		{"missing", nil, true},
		{"right", map[string]string{corev1.ObjectTTLAnnotationKey: "0"}, false},
		{"wrong", map[string]string{corev1.ObjectTTLAnnotationKey: "30"}, true},
		{"unreadable", map[string]string{corev1.ObjectTTLAnnotationKey: "soon"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: tt.annotations}}
			client := fake.NewClientset(n)
			inf := informers.NewSharedInformerFactory(client, 0).Core().V1().Nodes()
			c, err := New(client, inf)
			if err != nil {
				t.Fatal(err)
			}
			if err := inf.Informer().GetIndexer().Add(n); err != nil {
				t.Fatal(err)
			}
			if err := c.Sync(t.Context(), "n"); err != nil {
				t.Fatal(err)
			}
			patched := false
			for _, a := range client.Actions() {
				if a.GetVerb() == "patch" {
					patched = true
				}
			}
			if patched != tt.wantPatch {
				t.Fatalf("patched %v, want %v", patched, tt.wantPatch)
			}
			got, err := client.CoreV1().Nodes().Get(t.Context(), "n", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v := got.Annotations[corev1.ObjectTTLAnnotationKey]; tt.wantPatch && v != "0" {
				t.Errorf("annotation %q, want 0", v)
			}
		})
	}
}
