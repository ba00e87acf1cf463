package admission_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// nsWithDefaultAccount creates a namespace and waits for the serviceaccount
// controller to give it its "default" account, which pods need.
func nsWithDefaultAccount(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	ns := testserver.Namespace(t, c)
	waitForDefaultAccount(t, c, ns)
	return ns
}

// waitForDefaultAccount waits for the serviceaccount controller to create
// the namespace's "default" account: the ServiceAccount plugin gives it
// only a second or two before refusing pods.
func waitForDefaultAccount(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(t.Context(), "default", metav1.GetOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("waiting for the default ServiceAccount in %s: %v", ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tokenVolume is the projection kube-apiserver 1.37 gives every pod that
// automounts its service account token.
func tokenVolume() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path:     "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}

var apiAccessName = regexp.MustCompile(`^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$`)

func TestServiceAccount(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	accounts := []*corev1.ServiceAccount{
		{ObjectMeta: metav1.ObjectMeta{Name: "no-automount"}, AutomountServiceAccountToken: ptr.To(false)},
		{ObjectMeta: metav1.ObjectMeta{Name: "puller"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}}},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "enforced", Annotations: map[string]string{"kubernetes.io/enforce-mountable-secrets": "true"}},
			Secrets:    []corev1.ObjectReference{{Name: "allowed"}},
		},
	}
	for _, sa := range accounts {
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(t.Context(), sa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secretVolume := func(name string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = "enforced"
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name}}}}
		}
	}
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantErr     string
		wantSA      string
		wantMount   bool
		wantPull    []corev1.LocalObjectReference
		wantVolumes int
	}{
		{
			name: "defaults and mounts",
			pod: pod("plain", func(p *corev1.Pod) {
				p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			}),
			wantSA: "default", wantMount: true, wantVolumes: 1,
		},
		{
			name:   "pod opts out",
			pod:    pod("pod-opt-out", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) }),
			wantSA: "default",
		},
		{
			name:   "account opts out",
			pod:    pod("sa-opt-out", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "no-automount" }),
			wantSA: "no-automount",
		},
		{
			name: "pod overrides the account's opt-out",
			pod: pod("pod-opt-in", func(p *corev1.Pod) {
				p.Spec.ServiceAccountName = "no-automount"
				p.Spec.AutomountServiceAccountToken = ptr.To(true)
			}),
			wantSA: "no-automount", wantMount: true, wantVolumes: 1,
		},
		{
			name:   "image pull secrets from the account",
			pod:    pod("pull", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "puller" }),
			wantSA: "puller", wantMount: true, wantVolumes: 1,
			wantPull: []corev1.LocalObjectReference{{Name: "regcred"}},
		},
		{
			name:    "missing account",
			pod:     pod("missing", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "nope" }),
			wantErr: fmt.Sprintf(`pods "missing" is forbidden: error looking up service account %s/nope: serviceaccount "nope" not found`, ns),
		},
		{
			name:   "mountable secret",
			pod:    pod("allowed-secret", secretVolume("allowed")),
			wantSA: "enforced", wantMount: true, wantVolumes: 2,
		},
		{
			name:    "secret the account does not list",
			pod:     pod("other-secret", secretVolume("other")),
			wantErr: `pods "other-secret" is forbidden: volume with secret.secretName="other" is not allowed because service account enforced does not reference that secret`,
		},
		{
			name: "mirror pod may not name an account",
			pod: pod("mirror", func(p *corev1.Pod) {
				p.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
				p.Spec.ServiceAccountName = "default"
			}),
			wantErr: `pods "mirror" is forbidden: a mirror pod may not reference service accounts`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CoreV1().Pods(ns).Create(t.Context(), tt.pod, metav1.CreateOptions{})
			if tt.wantErr != "" {
				if !apierrors.IsForbidden(err) || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want Forbidden %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.ServiceAccountName != tt.wantSA || got.Spec.DeprecatedServiceAccount != tt.wantSA { //nolint:staticcheck // checked for old clients
				t.Fatalf("serviceAccountName %q serviceAccount %q, want %q", got.Spec.ServiceAccountName, got.Spec.DeprecatedServiceAccount, tt.wantSA) //nolint:staticcheck // as above
			}
			if !apiequality.Semantic.DeepEqual(got.Spec.ImagePullSecrets, tt.wantPull) {
				t.Fatalf("imagePullSecrets %v, want %v", got.Spec.ImagePullSecrets, tt.wantPull)
			}
			if len(got.Spec.Volumes) != tt.wantVolumes {
				t.Fatalf("volumes %v, want %d", got.Spec.Volumes, tt.wantVolumes)
			}
			all := slices.Concat(got.Spec.InitContainers, got.Spec.Containers)
			if !tt.wantMount {
				for _, ctr := range all {
					if len(ctr.VolumeMounts) != 0 {
						t.Fatalf("container %s has mounts %v, want none", ctr.Name, ctr.VolumeMounts)
					}
				}
				return
			}
			vol := got.Spec.Volumes[len(got.Spec.Volumes)-1]
			if !apiAccessName.MatchString(vol.Name) {
				t.Fatalf("token volume named %q, want kube-api-access-<5 chars>", vol.Name)
			}
			if !apiequality.Semantic.DeepEqual(vol.VolumeSource, corev1.VolumeSource{Projected: tokenVolume()}) {
				t.Fatalf("token volume %#v, want %#v", vol.VolumeSource.Projected, tokenVolume())
			}
			want := []corev1.VolumeMount{{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
			for _, ctr := range all {
				if !apiequality.Semantic.DeepEqual(ctr.VolumeMounts, want) {
					t.Fatalf("container %s mounts %v, want %v", ctr.Name, ctr.VolumeMounts, want)
				}
			}
		})
	}
}

func TestLimitRanger(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limits"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{
				Type:           corev1.LimitTypeContainer,
				Default:        corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m")},
				DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Max:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			},
			{
				Type: corev1.LimitTypePersistentVolumeClaim,
				Min:  corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			},
		}},
	}
	if _, err := c.CoreV1().LimitRanges(ns).Create(t.Context(), lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("defaults", func(t *testing.T) {
		got, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("defaulted", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res := got.Spec.Containers[0].Resources
		if r, l := res.Requests[corev1.ResourceCPU], res.Limits[corev1.ResourceCPU]; r.String() != "100m" || l.String() != "200m" {
			t.Fatalf("resources %v, want cpu request 100m limit 200m", res)
		}
		want := "LimitRanger plugin set: cpu request for container c; cpu limit for container c"
		if a := got.Annotations["kubernetes.io/limit-ranger"]; a != want {
			t.Fatalf("annotation %q, want %q", a, want)
		}
	})
	t.Run("over max", func(t *testing.T) {
		big := pod("big", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
		})
		_, err := c.CoreV1().Pods(ns).Create(t.Context(), big, metav1.CreateOptions{})
		want := `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Fatalf("error %v, want Forbidden %q", err, want)
		}
	})
	t.Run("claim under min", func(t *testing.T) {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "small"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
			},
		}
		_, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), pvc, metav1.CreateOptions{})
		want := `persistentvolumeclaims "small" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 1Mi`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Fatalf("error %v, want Forbidden %q", err, want)
		}
	})
}

func TestDefaultTolerationSeconds(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []corev1.Toleration
	}{
		{
			name: "both added",
			pod:  pod("plain", nil),
			want: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
		},
		{
			name: "own not-ready toleration kept",
			pod: pod("own", func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](10)}}
			}),
			want: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](10)},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
			},
		},
		{
			name: "tolerate everything",
			pod: pod("all", func(p *corev1.Pod) {
				p.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
			}),
			want: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CoreV1().Pods(ns).Create(t.Context(), tt.pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !apiequality.Semantic.DeepEqual(got.Spec.Tolerations, tt.want) {
				t.Fatalf("tolerations %v, want %v", got.Spec.Tolerations, tt.want)
			}
		})
	}
}

func TestDefaultStorageClassAndProtection(t *testing.T) {
	c, _ := clients(t)
	ns := testserver.Namespace(t, c)
	sc := &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "adm-default", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "example.com/none",
	}
	if _, err := c.StorageV1().StorageClasses().Create(t.Context(), sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.StorageV1().StorageClasses().Delete(t.Context(), sc.Name, metav1.DeleteOptions{}) })
	claim := func(class *string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "claim-"},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: class,
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
	}
	// The plugin reads classes from an informer; wait until it knows. Until
	// then it may pick the server's own default, local-path: of two default
	// classes the newest wins.
	var got *corev1.PersistentVolumeClaim
	for i := 0; ; i++ {
		p, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim(nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if ptr.Deref(p.Spec.StorageClassName, "") == "adm-default" || i == 50 {
			got = p
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Spec.StorageClassName == nil || *got.Spec.StorageClassName != "adm-default" {
		t.Fatalf("storageClassName %v, want adm-default", got.Spec.StorageClassName)
	}
	if !slices.Equal(got.Finalizers, []string{"kubernetes.io/pvc-protection"}) {
		t.Fatalf("finalizers %v, want [kubernetes.io/pvc-protection]", got.Finalizers)
	}
	explicit, err := c.CoreV1().PersistentVolumeClaims(ns).Create(t.Context(), claim(ptr.To("")), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if explicit.Spec.StorageClassName == nil || *explicit.Spec.StorageClassName != "" {
		t.Fatalf("explicit empty class became %v", explicit.Spec.StorageClassName)
	}

	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "adm-pv"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/adm-pv"}},
		},
	}
	gotPV, err := c.CoreV1().PersistentVolumes().Create(t.Context(), pv, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotPV.Finalizers, []string{"kubernetes.io/pv-protection"}) {
		t.Fatalf("PV finalizers %v, want [kubernetes.io/pv-protection]", gotPV.Finalizers)
	}
}

func TestTaintNodesByCondition(t *testing.T) {
	c, _ := clients(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "adm-node"}}
	got, err := c.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	want := []corev1.Taint{{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}}
	if !apiequality.Semantic.DeepEqual(got.Spec.Taints, want) {
		t.Fatalf("taints %v, want %v", got.Spec.Taints, want)
	}
}

func TestRuntimeClass(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	rc := &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "adm-runtime"},
		Handler:    "runc",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}},
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{"runtime": "runc"},
			Tolerations:  []corev1.Toleration{{Key: "runtime", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	if _, err := c.NodeV1().RuntimeClasses().Create(t.Context(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.NodeV1().RuntimeClasses().Delete(t.Context(), rc.Name, metav1.DeleteOptions{}) })
	t.Run("unknown class", func(t *testing.T) {
		_, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("unknown", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr.To("nope") }), metav1.CreateOptions{})
		want := `pods "unknown" is forbidden: pod rejected: RuntimeClass "nope" not found`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Fatalf("error %v, want Forbidden %q", err, want)
		}
	})
	t.Run("overhead and scheduling", func(t *testing.T) {
		got, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("known", func(p *corev1.Pod) { p.Spec.RuntimeClassName = ptr.To(rc.Name) }), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(got.Spec.Overhead, rc.Overhead.PodFixed) {
			t.Fatalf("overhead %v, want %v", got.Spec.Overhead, rc.Overhead.PodFixed)
		}
		if got.Spec.NodeSelector["runtime"] != "runc" {
			t.Fatalf("nodeSelector %v, want runtime=runc", got.Spec.NodeSelector)
		}
		if !slices.ContainsFunc(got.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "runtime" }) {
			t.Fatalf("tolerations %v lack the RuntimeClass's", got.Spec.Tolerations)
		}
	})
	t.Run("overhead that disagrees", func(t *testing.T) {
		_, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("disagree", func(p *corev1.Pod) {
			p.Spec.RuntimeClassName = ptr.To(rc.Name)
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
		}), metav1.CreateOptions{})
		want := `pods "disagree" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`
		if !apierrors.IsForbidden(err) || err.Error() != want {
			t.Fatalf("error %v, want Forbidden %q", err, want)
		}
	})
}

func TestDefaultIngressClass(t *testing.T) {
	c, _ := clients(t)
	ns := testserver.Namespace(t, c)
	ic := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "adm-default", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: "example.com/ingress"},
	}
	if _, err := c.NetworkingV1().IngressClasses().Create(t.Context(), ic, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.NetworkingV1().IngressClasses().Delete(t.Context(), ic.Name, metav1.DeleteOptions{}) })
	ingress := func(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "ing-"},
			Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}},
			}},
		}
		if mutate != nil {
			mutate(ing)
		}
		return ing
	}
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	var got *networkingv1.Ingress
	for i := 0; ; i++ {
		ing, err := c.NetworkingV1().Ingresses(ns).Create(t.Context(), ingress(nil), dryRun)
		if err != nil {
			t.Fatal(err)
		}
		if ing.Spec.IngressClassName != nil || i == 50 {
			got = ing
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Spec.IngressClassName == nil || *got.Spec.IngressClassName != "adm-default" {
		t.Fatalf("ingressClassName %v, want adm-default", got.Spec.IngressClassName)
	}
	annotated, err := c.NetworkingV1().Ingresses(ns).Create(t.Context(), ingress(func(ing *networkingv1.Ingress) {
		ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "legacy"}
	}), dryRun)
	if err != nil {
		t.Fatal(err)
	}
	if annotated.Spec.IngressClassName != nil {
		t.Fatalf("ingress with the legacy annotation got class %q", *annotated.Spec.IngressClassName)
	}
}

func TestCertificateSubjectRestrictionServer(t *testing.T) {
	c, _ := clients(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "adm-masters"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}
	_, err = c.CertificatesV1().CertificateSigningRequests().Create(t.Context(), csr, metav1.CreateOptions{})
	want := `certificatesigningrequests.certificates.k8s.io "adm-masters" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed`
	if !apierrors.IsForbidden(err) || err.Error() != want {
		t.Fatalf("error %v, want Forbidden %q", err, want)
	}
}

func TestPodTopologyLabelsServer(t *testing.T) {
	c, _ := clients(t)
	ns := nsWithDefaultAccount(t, c)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "adm-zoned", Labels: map[string]string{
		"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1", "kubernetes.io/hostname": "adm-zoned",
	}}}
	if _, err := c.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CoreV1().Nodes().Delete(t.Context(), node.Name, metav1.DeleteOptions{}) })
	// The plugin reads nodes from an informer; wait until a dry-run pod on
	// the node picks the labels up.
	for i := 0; ; i++ {
		p, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("probe", func(p *corev1.Pod) { p.Spec.NodeName = node.Name }), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if p.Labels["topology.kubernetes.io/zone"] == "z1" {
			break
		}
		if i == 50 {
			t.Fatalf("pod created on a zoned node got labels %v", p.Labels)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.CoreV1().Pods(ns).Create(t.Context(), pod("bound", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}}
	if err := c.CoreV1().Pods(ns).Bind(t.Context(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CoreV1().Pods(ns).Get(t.Context(), "bound", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1"}
	if !apiequality.Semantic.DeepEqual(got.Labels, want) {
		t.Fatalf("bound pod labels %v, want %v", got.Labels, want)
	}
}
