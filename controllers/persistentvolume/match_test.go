package persistentvolume

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func pv(name, size string, modes []corev1.PersistentVolumeAccessMode, mod ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: "manual", AccessModes: modes,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
	}, Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable}}
	for _, m := range mod {
		m(v)
	}
	return v
}

func TestFindBestMatch(t *testing.T) {
	rwo := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	rwoRox := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany}
	rwx := []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
	claim := func(mod ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns", UID: "uid-c"},
			Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("manual"), AccessModes: rwo,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
		for _, m := range mod {
			m(c)
		}
		return c
	}
	tests := []struct {
		name    string
		volumes []*corev1.PersistentVolume
		claim   *corev1.PersistentVolumeClaim
		delay   bool
		want    string
	}{
		{"smallest fit", []*corev1.PersistentVolume{pv("big", "10Gi", rwo), pv("small", "2Gi", rwo), pv("tiny", "500Mi", rwo)}, claim(), false, "small"},
		{"fewest extra access modes first", []*corev1.PersistentVolume{pv("both", "1Gi", rwoRox), pv("only", "5Gi", rwo)}, claim(), false, "only"},
		{"access modes must include the claim's", []*corev1.PersistentVolume{pv("rwx", "1Gi", rwx)}, claim(), false, ""},
		{"other class", []*corev1.PersistentVolume{pv("gold", "1Gi", rwo, func(v *corev1.PersistentVolume) { v.Spec.StorageClassName = "gold" })}, claim(), false, ""},
		{"selector", []*corev1.PersistentVolume{pv("a", "1Gi", rwo), pv("b", "5Gi", rwo, func(v *corev1.PersistentVolume) { v.Labels = map[string]string{"tier": "db"} })},
			claim(func(c *corev1.PersistentVolumeClaim) {
				c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "db"}}
			}), false, "b"},
		{"block claim, filesystem volume", []*corev1.PersistentVolume{pv("fs", "1Gi", rwo)},
			claim(func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock) }), false, ""},
		{"pre-bound volume wins over a smaller one", []*corev1.PersistentVolume{pv("small", "1Gi", rwo), pv("mine", "5Gi", rwo, func(v *corev1.PersistentVolume) {
			v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "c"}
		})}, claim(), false, "mine"},
		{"bound to another claim", []*corev1.PersistentVolume{pv("taken", "1Gi", rwo, func(v *corev1.PersistentVolume) {
			v.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "other", UID: "uid-o"}
		})}, claim(), false, ""},
		{"delayed binding leaves unbound volumes to the scheduler", []*corev1.PersistentVolume{pv("free", "1Gi", rwo)}, claim(), true, ""},
		{"not Available", []*corev1.PersistentVolume{pv("released", "1Gi", rwo, func(v *corev1.PersistentVolume) { v.Status.Phase = corev1.VolumeReleased })}, claim(), false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			for _, v := range tc.volumes {
				if err := idx.Add(v); err != nil {
					t.Fatal(err)
				}
			}
			c := &Controller{volumes: corelisters.NewPersistentVolumeLister(idx)}
			got, err := c.findBestMatch(tc.claim, tc.delay)
			if err != nil {
				t.Fatal(err)
			}
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Fatalf("matched %q, want %q", name, tc.want)
			}
		})
	}
}
