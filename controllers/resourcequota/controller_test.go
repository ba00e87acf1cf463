package resourcequota

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/metadata/metadatainformer"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	quota "k8s.io/apiserver/pkg/quota/v1"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func rq(name string, hard, used corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	r := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes},
	}
	if used != nil {
		r.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
	}
	return r
}

func pod(ns, name, cpu string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q(cpu)}
	}
	return p
}

func configMap(ns, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
	}
}

// newTestController returns a controller watching pods and configmaps whose
// caches have synced with quotas, pods and configMaps, writing through a fake
// client.
func newTestController(t *testing.T, quotas []*corev1.ResourceQuota, pods []*corev1.Pod, configMaps []*metav1.PartialObjectMetadata) (*Controller, *fake.Clientset) {
	t.Helper()
	var objs, metaObjs []runtime.Object
	for _, r := range quotas {
		objs = append(objs, r)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	for _, cm := range configMaps {
		metaObjs = append(metaObjs, cm)
	}
	client := fake.NewClientset(objs...)
	typed := informers.NewSharedInformerFactory(client, 0)
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	meta := metadatainformer.NewSharedInformerFactory(metadatafake.NewSimpleMetadataClient(scheme, metaObjs...), 0)
	c := New(Options{
		Quotas:        client.CoreV1(),
		QuotaInformer: typed.Core().V1().ResourceQuotas(),
		Informers:     typed,
		Metadata:      meta,
		Discover:      func() ([]*metav1.APIResourceList, error) { return nil, nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.monitor.watch(ctx, map[schema.GroupVersionResource]struct{}{
		corev1.SchemeGroupVersion.WithResource("pods"):       {},
		corev1.SchemeGroupVersion.WithResource("configmaps"): {},
	})
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	// The tests look at what happens after the initial list.
	for _, queue := range []workqueue.TypedRateLimitingInterface[string]{c.queue, c.missingUsage} {
		for queue.Len() > 0 {
			key, _ := queue.Get()
			queue.Done(key)
		}
	}
	client.ClearActions()
	return c, client
}

func TestSync(t *testing.T) {
	pods := []*corev1.Pod{
		pod("ns", "a", "100m", corev1.PodRunning),
		pod("ns", "b", "", corev1.PodPending),
		pod("ns", "done", "1", corev1.PodSucceeded),
		pod("other", "x", "1", corev1.PodRunning),
	}
	configMaps := []*metav1.PartialObjectMetadata{configMap("ns", "a"), configMap("ns", "b"), configMap("other", "c")}
	tests := []struct {
		name     string
		quota    *corev1.ResourceQuota
		wantUsed corev1.ResourceList // nil: no status update
	}{{
		name:     "new quota gets hard and used",
		quota:    rq("q", corev1.ResourceList{"pods": q("5"), "requests.cpu": q("2")}, nil),
		wantUsed: corev1.ResourceList{"pods": q("2"), "requests.cpu": q("100m")},
	}, {
		name:     "object counts, with and without legacy names",
		quota:    rq("q", corev1.ResourceList{"count/configmaps": q("5"), "configmaps": q("5"), "count/pods": q("10")}, nil),
		wantUsed: corev1.ResourceList{"count/configmaps": q("2"), "configmaps": q("2"), "count/pods": q("3")},
	}, {
		name:     "scoped quota counts only its pods",
		quota:    rq("q", corev1.ResourceList{"pods": q("5")}, nil, corev1.ResourceQuotaScopeBestEffort),
		wantUsed: corev1.ResourceList{"pods": q("1")},
	}, {
		name:     "stale usage is corrected",
		quota:    rq("q", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{"pods": q("4")}),
		wantUsed: corev1.ResourceList{"pods": q("2")},
	}, {
		name:  "current status is left alone",
		quota: rq("q", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{"pods": q("2")}),
	}, {
		name: "usage of a dropped limit is removed",
		quota: func() *corev1.ResourceQuota {
			r := rq("q", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{"pods": q("2"), "requests.cpu": q("100m")})
			r.Status.Hard = corev1.ResourceList{"pods": q("5"), "requests.cpu": q("1")}
			return r
		}(),
		wantUsed: corev1.ResourceList{"pods": q("2")},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, client := newTestController(t, []*corev1.ResourceQuota{tc.quota}, pods, configMaps)
			if err := c.Sync(t.Context(), "ns/q"); err != nil {
				t.Fatal(err)
			}
			var updated *corev1.ResourceQuota
			for _, a := range client.Actions() {
				if u, ok := a.(clienttesting.UpdateAction); ok && u.GetSubresource() == "status" {
					updated = u.GetObject().(*corev1.ResourceQuota)
				}
			}
			switch {
			case tc.wantUsed == nil && updated != nil:
				t.Errorf("status updated to %v, want no update", updated.Status)
			case tc.wantUsed == nil:
			case updated == nil:
				t.Errorf("no status update, want used %v", tc.wantUsed)
			default:
				if !quota.Equals(updated.Status.Used, tc.wantUsed) {
					t.Errorf("used %v, want %v", updated.Status.Used, tc.wantUsed)
				}
				if !quota.Equals(updated.Status.Hard, tc.quota.Spec.Hard) {
					t.Errorf("status.hard %v, want spec.hard %v", updated.Status.Hard, tc.quota.Spec.Hard)
				}
			}
		})
	}
}

// TestQueues: a quota whose status lacks usage goes to the priority queue;
// deletions requeue only the quotas limiting the deleted object's resource.
func TestQueues(t *testing.T) {
	compute := rq("compute", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{"pods": q("1")})
	objects := rq("objects", corev1.ResourceList{"count/configmaps": q("5")}, corev1.ResourceList{"count/configmaps": q("1")})
	fresh := rq("fresh", corev1.ResourceList{"pods": q("5")}, nil)
	missing := rq("missing", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{})
	c, _ := newTestController(t, []*corev1.ResourceQuota{compute, objects}, nil, nil)

	for _, r := range []*corev1.ResourceQuota{compute, fresh, missing} {
		c.addQuota(r)
	}
	if got := c.missingUsage.Len(); got != 2 {
		t.Errorf("priority queue holds %d quotas, want fresh and missing", got)
	}
	if got := c.queue.Len(); got != 1 {
		t.Errorf("queue holds %d quotas, want compute", got)
	}
	c.queue.ShutDown()

	c, _ = newTestController(t, []*corev1.ResourceQuota{compute, objects}, nil, nil)
	c.replenish(corev1.SchemeGroupVersion.WithResource("pods").GroupResource(), "ns")
	if key, _ := c.queue.Get(); key != "ns/compute" || c.queue.Len() != 0 {
		t.Errorf("after a pod deletion queued %q and %d more, want ns/compute alone", key, c.queue.Len())
	}
	c.replenish(corev1.SchemeGroupVersion.WithResource("pods").GroupResource(), "other")
	c.replenish(corev1.SchemeGroupVersion.WithResource("limitranges").GroupResource(), "ns")
	if c.queue.Len() != 0 {
		t.Errorf("queued %d quotas for deletions they do not limit", c.queue.Len())
	}
}

// TestSyncStaleCache: a sync whose cached quota predates this controller's
// own last write reads the stored quota before deciding nothing needs
// writing. The cache here shows the right usage, but the stored status is
// an older count written by a sync that listed pods too early.
func TestSyncStaleCache(t *testing.T) {
	pods := []*corev1.Pod{pod("ns", "a", "100m", corev1.PodRunning), pod("ns", "b", "", corev1.PodPending)}
	cached := rq("q", corev1.ResourceList{"pods": q("5")}, corev1.ResourceList{"pods": q("2")})
	cached.ResourceVersion = "3"
	c, client := newTestController(t, []*corev1.ResourceQuota{cached}, pods, nil)

	stored := cached.DeepCopy()
	stored.ResourceVersion = "5"
	stored.Status.Used = corev1.ResourceList{"pods": q("1")}
	if err := client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("resourcequotas"), stored, "ns"); err != nil {
		t.Fatal(err)
	}
	client.ClearActions()
	statusWrites := func() []*corev1.ResourceQuota {
		var out []*corev1.ResourceQuota
		for _, a := range client.Actions() {
			if u, ok := a.(clienttesting.UpdateAction); ok && u.GetSubresource() == "status" {
				out = append(out, u.GetObject().(*corev1.ResourceQuota))
			}
		}
		return out
	}

	// Without a write of its own on record the cache is trusted.
	if err := c.syncQuota(t.Context(), cached); err != nil {
		t.Fatal(err)
	}
	if w := statusWrites(); len(w) != 0 {
		t.Fatalf("status written %v with no write of its own on record", w[0].Status)
	}

	c.written["ns/q"] = "5"
	if err := c.syncQuota(t.Context(), cached); err != nil {
		t.Fatal(err)
	}
	w := statusWrites()
	if len(w) != 1 || !quota.Equals(w[0].Status.Used, corev1.ResourceList{"pods": q("2")}) || w[0].ResourceVersion != "5" {
		t.Fatalf("status writes %+v, want one of used pods=2 on resourceVersion 5", w)
	}

	// Once the cache shows the stored quota, it is trusted again.
	client.ClearActions()
	c.written["ns/q"] = "7"
	current := stored.DeepCopy()
	current.ResourceVersion = "7"
	current.Status.Used = corev1.ResourceList{"pods": q("2")}
	if err := c.syncQuota(t.Context(), current); err != nil {
		t.Fatal(err)
	}
	if len(client.Actions()) != 0 {
		t.Fatalf("actions %v, want none when the cache shows the last write", client.Actions())
	}
}
