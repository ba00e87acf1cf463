package persistentvolume_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN"), HollowNodes: 2}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond every 200ms for up to timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func claim(name string, class *string, size string, mutate ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
	for _, m := range mutate {
		m(c)
	}
	return c
}

func volume(name, class, size string, policy corev1.PersistentVolumeReclaimPolicy, mutate ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
	for _, m := range mutate {
		m(v)
	}
	return v
}

func podWithClaims(name string, claims ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}
	for i, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: fmt.Sprintf("v%d", i),
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	return p
}

func createClass(t *testing.T, c kubernetes.Interface, name string, mode storagev1.VolumeBindingMode) {
	t.Helper()
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &mode}
	if _, err := c.StorageV1().StorageClasses().Create(t.Context(), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StorageV1().StorageClasses().Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

func createVolume(t *testing.T, c kubernetes.Interface, pv *corev1.PersistentVolume) {
	t.Helper()
	if _, err := c.CoreV1().PersistentVolumes().Create(t.Context(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Its protection finalizer goes once the volume is not Bound.
		_ = c.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
}

func waitClaimBound(t *testing.T, c kubernetes.Interface, ns, name string) *corev1.PersistentVolumeClaim {
	t.Helper()
	var got *corev1.PersistentVolumeClaim
	waitFor(t, "claim "+name+" Bound", 60*time.Second, func(ctx context.Context) (bool, error) {
		pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = pvc
		return pvc.Status.Phase == corev1.ClaimBound, nil
	})
	return got
}

func waitVolumePhase(t *testing.T, c kubernetes.Interface, name string, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
	t.Helper()
	var got *corev1.PersistentVolume
	waitFor(t, "volume "+name+" "+string(phase), 60*time.Second, func(ctx context.Context) (bool, error) {
		pv, err := c.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = pv
		return pv.Status.Phase == phase, nil
	})
	return got
}

func waitRunning(t *testing.T, c kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	waitFor(t, "pod "+name+" Running", 60*time.Second, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got = p
		return p.Status.Phase == corev1.PodRunning, nil
	})
	return got
}

func waitGone(t *testing.T, what string, get func(ctx context.Context) error) {
	t.Helper()
	waitFor(t, what+" gone", 60*time.Second, func(ctx context.Context) (bool, error) {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// eventReasons lists the reasons of the events about an object.
func eventMessages(t *testing.T, c kubernetes.Interface, ns, kind, name string) map[string]string {
	t.Helper()
	list, err := c.CoreV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range list.Items {
		out[e.Reason] = e.Message
	}
	return out
}

func deletePodNow(t *testing.T, c kubernetes.Interface, ns, name string) {
	t.Helper()
	if err := c.CoreV1().Pods(ns).Delete(t.Context(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "pod "+name, func(ctx context.Context) error {
		_, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
}

// TestLocalPathLifecycle: a claim of the default class and a pod using it
// get a volume on the pod's node; the claim outlives its deletion while the
// pod runs; then the volume is Released, deleted, and its directory removed.
func TestLocalPathLifecycle(t *testing.T) {
	c := clientFor(t)
	ns := testserver.Namespace(t, c)
	sc, err := c.StorageV1().StorageClasses().Get(t.Context(), "local-path", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("default class: %v", err)
	}
	if sc.Provisioner != "skiff.dev/local-path" || ptr.Deref(sc.VolumeBindingMode, "") != storagev1.VolumeBindingWaitForFirstConsumer ||
		ptr.Deref(sc.ReclaimPolicy, "") != corev1.PersistentVolumeReclaimDelete || sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
		t.Fatalf("default class %+v", sc)
	}
	pvc, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim("data", nil, "2Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(pvc.Spec.StorageClassName, "") != "local-path" {
		t.Fatalf("class %v, want local-path from DefaultStorageClass", pvc.Spec.StorageClassName)
	}
	waitFor(t, "WaitForFirstConsumer event", 30*time.Second, func(context.Context) (bool, error) {
		return eventMessages(t, c, ns, "PersistentVolumeClaim", "data")["WaitForFirstConsumer"] == "waiting for first consumer to be created before binding", nil
	})
	if _, err := c.CoreV1().Pods(ns).Create(t.Context(), podWithClaims("app", "data"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := waitRunning(t, c, ns, "app")
	pvc = waitClaimBound(t, c, ns, "data")
	pvName := "pvc-" + string(pvc.UID)
	if pvc.Spec.VolumeName != pvName || pvc.Annotations["volume.kubernetes.io/selected-node"] != pod.Spec.NodeName ||
		pvc.Annotations["volume.kubernetes.io/storage-provisioner"] != "skiff.dev/local-path" ||
		pvc.Annotations["volume.beta.kubernetes.io/storage-provisioner"] != "skiff.dev/local-path" ||
		pvc.Annotations["pv.kubernetes.io/bind-completed"] != "yes" || pvc.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Fatalf("claim %s: volume %q annotations %v", pvc.Name, pvc.Spec.VolumeName, pvc.Annotations)
	}
	if got := pvc.Status.Capacity[corev1.ResourceStorage]; got.String() != "2Gi" {
		t.Errorf("claim capacity %s, want 2Gi", got.String())
	}
	pv, err := c.CoreV1().PersistentVolumes().Get(t.Context(), pvName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(server.DataDir(), "storage", fmt.Sprintf("pvc-%s_%s_data", pvc.UID, ns))
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	switch {
	case pv.Spec.HostPath == nil || pv.Spec.HostPath.Path != dir || ptr.Deref(pv.Spec.HostPath.Type, "") != corev1.HostPathDirectoryOrCreate:
		t.Errorf("hostPath %+v, want %s DirectoryOrCreate", pv.Spec.HostPath, dir)
	case len(terms) != 1 || len(terms[0].MatchExpressions) != 1 || terms[0].MatchExpressions[0].Key != corev1.LabelHostname ||
		len(terms[0].MatchExpressions[0].Values) != 1 || terms[0].MatchExpressions[0].Values[0] != pod.Spec.NodeName:
		t.Errorf("node affinity %+v, want hostname %s", terms, pod.Spec.NodeName)
	case pv.Annotations["pv.kubernetes.io/provisioned-by"] != "skiff.dev/local-path" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID || pv.Status.Phase != corev1.VolumeBound:
		t.Errorf("volume %+v", pv)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Errorf("volume directory: %v", err)
	}
	ev := eventMessages(t, c, ns, "PersistentVolumeClaim", "data")
	for reason, want := range map[string]string{
		"ExternalProvisioning":  "Waiting for a volume to be created either by the external provisioner 'skiff.dev/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
		"Provisioning":          fmt.Sprintf("External provisioner is provisioning volume for claim %q", ns+"/data"),
		"ProvisioningSucceeded": "Successfully provisioned volume " + pvName,
	} {
		if ev[reason] != want {
			t.Errorf("event %s: %q, want %q", reason, ev[reason], want)
		}
	}

	// kubectl shows both as a user expects.
	out, _, err := server.Kubectl(t, "get", "pvc,pv", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`persistentvolumeclaim/data\s+Bound\s+` + pvName + `\s+2Gi\s+RWO\s+local-path\s+<unset>\s+\S+`,
		`persistentvolume/` + pvName + `\s+2Gi\s+RWO\s+Delete\s+Bound\s+` + ns + `/data\s+local-path\s+<unset>\s+\S+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("kubectl get pvc,pv: no line matching %s in\n%s", re, out)
		}
	}

	// pvc-protection: the claim in use stays, Terminating.
	if _, _, err := server.Kubectl(t, "delete", "pvc", "data", "-n", ns, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	pvc, err = c.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), "data", metav1.GetOptions{})
	if err != nil || pvc.DeletionTimestamp == nil {
		t.Fatalf("claim in use: %v %v, want it kept while terminating", err, pvc)
	}
	out, _, _ = server.Kubectl(t, "get", "pvc", "data", "-n", ns)
	if !strings.Contains(out, "Terminating") {
		t.Errorf("kubectl get pvc of a claim being deleted:\n%s", out)
	}
	deletePodNow(t, c, ns, "app")
	waitGone(t, "claim", func(ctx context.Context) error {
		_, err := c.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
		return err
	})
	waitGone(t, "volume", func(ctx context.Context) error {
		_, err := c.CoreV1().PersistentVolumes().Get(ctx, pvName, metav1.GetOptions{})
		return err
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("volume directory after deletion: %v, want it removed", err)
	}
}

// TestStaticBinding: Immediate claims bind to the smallest matching
// volume; the reclaim policy decides what happens once the claim goes.
func TestStaticBinding(t *testing.T) {
	c := clientFor(t)
	ns := testserver.Namespace(t, c)
	createClass(t, c, "manual", storagev1.VolumeBindingImmediate)
	for _, tc := range []struct {
		policy corev1.PersistentVolumeReclaimPolicy
		// phase is the volume's once its claim is deleted.
		phase         corev1.PersistentVolumePhase
		reason, event string
	}{
		{corev1.PersistentVolumeReclaimRetain, corev1.VolumeReleased, "", ""},
		{corev1.PersistentVolumeReclaimRecycle, corev1.VolumeFailed, "VolumeFailedRecycle", "No recycler plugin found for the volume!"},
		{corev1.PersistentVolumeReclaimDelete, corev1.VolumeFailed, "VolumeFailedDelete", `error getting deleter volume plugin for volume "%s": no deletable volume plugin matched`},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			p := strings.ToLower(string(tc.policy))
			small, big := "small-"+p, "big-"+p
			label := func(v *corev1.PersistentVolume) { v.Labels = map[string]string{"policy": p} }
			createVolume(t, c, volume(big, "manual", "5Gi", tc.policy, label))
			createVolume(t, c, volume(small, "manual", "1Gi", tc.policy, label))
			waitVolumePhase(t, c, small, corev1.VolumeAvailable)
			waitVolumePhase(t, c, big, corev1.VolumeAvailable)
			name := "claim-" + p
			sel := func(pc *corev1.PersistentVolumeClaim) {
				pc.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"policy": p}}
			}
			if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim(name, ptr.To("manual"), "500Mi", sel), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			pvc := waitClaimBound(t, c, ns, name)
			if pvc.Spec.VolumeName != small {
				t.Fatalf("bound to %s, want the smallest fit %s", pvc.Spec.VolumeName, small)
			}
			if got := pvc.Status.Capacity[corev1.ResourceStorage]; got.String() != "1Gi" {
				t.Errorf("claim capacity %s, want the volume's 1Gi", got.String())
			}
			pv := waitVolumePhase(t, c, small, corev1.VolumeBound)
			if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID || pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
				t.Fatalf("volume %s: claimRef %+v annotations %v", small, pv.Spec.ClaimRef, pv.Annotations)
			}
			if err := c.CoreV1().PersistentVolumeClaims(ns).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			pv = waitVolumePhase(t, c, small, tc.phase)
			if tc.reason != "" {
				want := tc.event
				if strings.Contains(want, "%s") {
					want = fmt.Sprintf(want, small)
				}
				waitFor(t, "event "+tc.reason, 30*time.Second, func(context.Context) (bool, error) {
					return eventMessages(t, c, metav1.NamespaceDefault, "PersistentVolume", small)[tc.reason] == want, nil
				})
			}
			if tc.policy == corev1.PersistentVolumeReclaimRetain {
				time.Sleep(time.Second)
				if pv, err := c.CoreV1().PersistentVolumes().Get(t.Context(), small, metav1.GetOptions{}); err != nil || pv.Status.Phase != corev1.VolumeReleased {
					t.Fatalf("retained volume: %v %v", err, pv)
				}
				out, _, err := server.Kubectl(t, "get", "pv", small)
				if err != nil {
					t.Fatal(err)
				}
				if !regexp.MustCompile(small + `\s+1Gi\s+RWO\s+Retain\s+Released\s+` + ns + `/` + name + `\s+manual`).MatchString(out) {
					t.Errorf("kubectl get pv:\n%s", out)
				}
			}
		})
	}
}

// TestSchedulerVolumeBinding: what the scheduler says about pods whose
// claims do not allow them anywhere, and static volumes of a
// WaitForFirstConsumer class placing their pod.
func TestSchedulerVolumeBinding(t *testing.T) {
	c := clientFor(t)
	ns := testserver.Namespace(t, c)
	createClass(t, c, "sched-immediate", storagev1.VolumeBindingImmediate)
	createClass(t, c, "sched-wffc", storagev1.VolumeBindingWaitForFirstConsumer)
	pinned := func(node string) func(*corev1.PersistentVolume) {
		return func(v *corev1.PersistentVolume) {
			v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}
		}
	}
	// A claim bound to a volume on a node that does not exist.
	createVolume(t, c, volume("sched-nowhere", "sched-immediate", "1Gi", corev1.PersistentVolumeReclaimRetain, pinned("nowhere")))
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim("nowhere", ptr.To("sched-immediate"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitClaimBound(t, c, ns, "nowhere")
	if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim("unbound", ptr.To("sched-immediate"), "100Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const preemption = " preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	for _, tc := range []struct {
		pod, claim, want string
	}{
		{"missing", "nope", `0/2 nodes are available: persistentvolumeclaim "nope" not found.` + preemption},
		{"immediate", "unbound", "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims." + preemption},
		{"affinity", "nowhere", "0/2 nodes are available: 2 node(s) didn't match PersistentVolume's node affinity." + preemption},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			if _, err := c.CoreV1().Pods(ns).Create(t.Context(), podWithClaims(tc.pod, tc.claim), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var msg string
			waitFor(t, "PodScheduled=False", 30*time.Second, func(ctx context.Context) (bool, error) {
				p, err := c.CoreV1().Pods(ns).Get(ctx, tc.pod, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				for _, cond := range p.Status.Conditions {
					if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
						msg = cond.Message
						return cond.Reason == corev1.PodReasonUnschedulable && msg == tc.want, nil
					}
				}
				return false, nil
			})
		})
	}

	t.Run("static volume places the pod", func(t *testing.T) {
		createVolume(t, c, volume("sched-on-1", "sched-wffc", "1Gi", corev1.PersistentVolumeReclaimRetain, pinned("hollow-node-1")))
		if _, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim("wffc", ptr.To("sched-wffc"), "1Gi"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if pvc, _ := c.CoreV1().PersistentVolumeClaims(ns).Get(t.Context(), "wffc", metav1.GetOptions{}); pvc.Spec.VolumeName != "" {
			t.Fatalf("WaitForFirstConsumer claim bound before a pod used it: %s", pvc.Spec.VolumeName)
		}
		if _, err := c.CoreV1().Pods(ns).Create(t.Context(), podWithClaims("wffc", "wffc"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := waitRunning(t, c, ns, "wffc")
		if pod.Spec.NodeName != "hollow-node-1" {
			t.Fatalf("pod on %s, want hollow-node-1 where its volume is", pod.Spec.NodeName)
		}
		if pvc := waitClaimBound(t, c, ns, "wffc"); pvc.Spec.VolumeName != "sched-on-1" {
			t.Fatalf("claim bound to %s", pvc.Spec.VolumeName)
		}
	})
}

// TestStatefulSetClaims: each replica gets its own provisioned claim.
func TestStatefulSetClaims(t *testing.T) {
	c := clientFor(t)
	ns := testserver.Namespace(t, c)
	lbls := map[string]string{"app": "db"}
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](2),
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{*claim("data", nil, "1Gi")},
		},
	}
	if _, err := c.AppsV1().StatefulSets(ns).Create(t.Context(), set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := server.Kubectl(t, "rollout", "status", "statefulset/db", "-n", ns, "--timeout=90s"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		pvc := waitClaimBound(t, c, ns, fmt.Sprintf("data-db-%d", i))
		pod, err := c.CoreV1().Pods(ns).Get(t.Context(), fmt.Sprintf("db-%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.Annotations["volume.kubernetes.io/selected-node"] != pod.Spec.NodeName {
			t.Errorf("claim %s provisioned on %q, pod on %q", pvc.Name, pvc.Annotations["volume.kubernetes.io/selected-node"], pod.Spec.NodeName)
		}
	}
}
