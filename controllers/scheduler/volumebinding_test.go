package scheduler

import (
	"slices"
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func testBinder(t *testing.T, objs ...any) *volumeBinder {
	t.Helper()
	pvcs := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{toolscache.NamespaceIndex: toolscache.MetaNamespaceIndexFunc})
	pvs := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	classes := toolscache.NewIndexer(toolscache.MetaNamespaceKeyFunc, toolscache.Indexers{})
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *v1.PersistentVolumeClaim:
			err = pvcs.Add(o)
		case *v1.PersistentVolume:
			err = pvs.Add(o)
		case *storagev1.StorageClass:
			err = classes.Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &volumeBinder{
		claims:  corelisters.NewPersistentVolumeClaimLister(pvcs),
		volumes: corelisters.NewPersistentVolumeLister(pvs),
		classes: storagelisters.NewStorageClassLister(classes),
		assumed: map[string]string{},
	}
}

func testClass(name, provisioner string, mode storagev1.VolumeBindingMode, topo ...v1.TopologySelectorTerm) *storagev1.StorageClass {
	return &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode, AllowedTopologies: topo}
}

func testClaim(name, class string, mod ...func(*v1.PersistentVolumeClaim)) *v1.PersistentVolumeClaim {
	c := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}}}}
	for _, m := range mod {
		m(c)
	}
	return c
}

func boundTo(pv string) func(*v1.PersistentVolumeClaim) {
	return func(c *v1.PersistentVolumeClaim) {
		c.Spec.VolumeName = pv
		c.Annotations = map[string]string{"pv.kubernetes.io/bind-completed": "yes"}
		c.Status.Phase = v1.ClaimBound
	}
}

func testPV(name, class, host string) *v1.PersistentVolume {
	pv := &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PersistentVolumeSpec{
		StorageClassName: class, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
		Capacity: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")},
	}, Status: v1.PersistentVolumeStatus{Phase: v1.VolumeAvailable}}
	if host != "" {
		pv.Spec.NodeAffinity = &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
			MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{host}}}}}}}
	}
	return pv
}

func claimPod(claims ...string) *v1.Pod {
	return testPod("p", "", func(p *v1.Pod) {
		for _, c := range claims {
			p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: c, VolumeSource: v1.VolumeSource{
				PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
		}
	})
}

func TestVolumePreFilter(t *testing.T) {
	immediate := testClass("fast", "example.com/x", storagev1.VolumeBindingImmediate)
	tests := []struct {
		name    string
		pod     *v1.Pod
		objs    []any
		want    string
		noState bool
	}{
		{"no claims", claimPod(), nil, "", true},
		{"missing claim", claimPod("data"), nil, `persistentvolumeclaim "data" not found`, true},
		{"unbound immediate", claimPod("data"), []any{immediate, testClaim("data", "fast")}, reasonUnboundImmediate, true},
		{"being deleted", claimPod("data"), []any{immediate, testClaim("data", "fast", func(c *v1.PersistentVolumeClaim) {
			c.DeletionTimestamp = ptr.To(metav1.Now())
		})}, `persistentvolumeclaim "data" is being deleted`, true},
		{"lost", claimPod("data"), []any{testClaim("data", "fast", func(c *v1.PersistentVolumeClaim) {
			c.Spec.VolumeName, c.Status.Phase = "gone", v1.ClaimLost
		})}, `persistentvolumeclaim "data" bound to non-existent persistentvolume "gone"`, true},
		{"bound", claimPod("data"), []any{immediate, testClaim("data", "fast", boundTo("pv"))}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg, err := testBinder(t, tc.objs...).preFilter(tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if msg != tc.want || (got == nil) != tc.noState {
				t.Fatalf("preFilter = %v, %q; want %q (no state %v)", got, msg, tc.want, tc.noState)
			}
		})
	}
}

func TestVolumeFilter(t *testing.T) {
	wffcStatic := testClass("local", "kubernetes.io/no-provisioner", storagev1.VolumeBindingWaitForFirstConsumer)
	zoned := testClass("zoned", "example.com/x", storagev1.VolumeBindingWaitForFirstConsumer, v1.TopologySelectorTerm{
		MatchLabelExpressions: []v1.TopologySelectorLabelRequirement{{Key: v1.LabelTopologyZone, Values: []string{"z1"}}}})
	immediate := testClass("fast", "example.com/x", storagev1.VolumeBindingImmediate)
	inZone := func(z string) func(*v1.Node) { return func(n *v1.Node) { n.Labels[v1.LabelTopologyZone] = z } }
	tests := []struct {
		name    string
		objs    []any
		node    *v1.Node
		assumed map[string]string
		want    *status
		static  []string
		prov    []string
	}{
		{"static volume on the node", []any{wffcStatic, testClaim("data", "local"), testPV("pv-a", "local", "a")}, testNode("a", "1"), nil,
			nil, []string{"pv-a"}, nil},
		{"static volume elsewhere", []any{wffcStatic, testClaim("data", "local"), testPV("pv-a", "local", "a")}, testNode("b", "1"), nil,
			fail(unresolvable, reasonVolumeBindConflict), nil, nil},
		{"static volume held for another claim", []any{wffcStatic, testClaim("data", "local"), testPV("pv-a", "local", "a")}, testNode("a", "1"),
			map[string]string{"pv-a": "ns/other"}, fail(unresolvable, reasonVolumeBindConflict), nil, nil},
		{"provisioning in the allowed zone", []any{zoned, testClaim("data", "zoned")}, testNode("a", "1", inZone("z1")), nil,
			nil, nil, []string{"data"}},
		{"provisioning outside the allowed zone", []any{zoned, testClaim("data", "zoned")}, testNode("a", "1", inZone("z2")), nil,
			fail(unresolvable, reasonVolumeBindConflict), nil, nil},
		{"selected another node", []any{zoned, testClaim("data", "zoned", func(c *v1.PersistentVolumeClaim) {
			c.Annotations = map[string]string{"volume.kubernetes.io/selected-node": "b"}
		})}, testNode("a", "1", inZone("z1")), nil, fail(unresolvable, reasonVolumeBindConflict), nil, nil},
		{"bound volume on the node", []any{immediate, testClaim("data", "fast", boundTo("pv-a")), testPV("pv-a", "fast", "a")}, testNode("a", "1"), nil,
			nil, nil, nil},
		{"bound volume elsewhere", []any{immediate, testClaim("data", "fast", boundTo("pv-a")), testPV("pv-a", "fast", "a")}, testNode("b", "1"), nil,
			fail(unresolvable, reasonVolumeNodeConflict), nil, nil},
		{"bound volume missing", []any{immediate, testClaim("data", "fast", boundTo("pv-a"))}, testNode("a", "1"), nil,
			fail(unresolvable, reasonVolumePVNotExist), nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := testBinder(t, tc.objs...)
			if tc.assumed != nil {
				b.assumed = tc.assumed
			}
			pvcs, msg, err := b.preFilter(claimPod("data"))
			if err != nil || msg != "" {
				t.Fatalf("preFilter: %v %q", err, msg)
			}
			st := b.filter(pvcs, tc.node)
			if (st == nil) != (tc.want == nil) || st != nil && (st.code != tc.want.code || !slices.Equal(st.reasons, tc.want.reasons)) {
				t.Fatalf("filter = %+v, want %+v", st, tc.want)
			}
			if st != nil {
				return
			}
			got := pvcs.volumesFor(tc.node.Name)
			var static, prov []string
			for _, s := range got.static {
				static = append(static, s.pv.Name)
			}
			for _, c := range got.provision {
				prov = append(prov, c.Name)
			}
			if !slices.Equal(static, tc.static) || !slices.Equal(prov, tc.prov) {
				t.Fatalf("volumes for %s: static %v provision %v, want %v %v", tc.node.Name, static, prov, tc.static, tc.prov)
			}
		})
	}
}

func TestScoreVolumes(t *testing.T) {
	bind := func(class, request, capacity string) staticBinding {
		pv := testPV("pv", class, "")
		pv.Spec.Capacity[v1.ResourceStorage] = resource.MustParse(capacity)
		c := testClaim("c", class)
		c.Spec.Resources.Requests[v1.ResourceStorage] = resource.MustParse(request)
		return staticBinding{pv: pv, pvc: c}
	}
	tests := []struct {
		name string
		v    *podVolumes
		want int64
	}{
		{"nothing to bind", nil, 0},
		{"quarter used", &podVolumes{static: []staticBinding{bind("a", "1Gi", "4Gi")}}, 75},
		{"exact fit", &podVolumes{static: []staticBinding{bind("a", "4Gi", "4Gi")}}, 0},
		{"classes averaged", &podVolumes{static: []staticBinding{bind("a", "1Gi", "4Gi"), bind("b", "1Gi", "2Gi")}}, 63},
		{"one class summed", &podVolumes{static: []staticBinding{bind("a", "1Gi", "4Gi"), bind("a", "1Gi", "4Gi")}}, 75},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scoreVolumes(tc.v); got != tc.want {
				t.Fatalf("score %d, want %d", got, tc.want)
			}
		})
	}
}
