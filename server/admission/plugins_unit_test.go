package admission

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

func TestPluginOrder(t *testing.T) {
	tests := []struct {
		name  string
		extra []string
		want  []string
	}{
		{
			name: "kube-apiserver's defaults",
			want: []string{
				"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "TaintNodesByCondition", "PodSecurity", "Priority",
				"DefaultTolerationSeconds", "DefaultStorageClass", "StorageObjectInUseProtection", "PersistentVolumeClaimResize",
				"RuntimeClass", "CertificateApproval", "CertificateSigning", "ClusterTrustBundleAttest", "CertificateSubjectRestriction",
				"DefaultIngressClass", "PodTopologyLabels", "NodeDeclaredFeatureValidator", "PodResizeValidator",
				"MutatingAdmissionPolicy", "MutatingAdmissionWebhook", "ValidatingAdmissionPolicy", "ValidatingAdmissionWebhook",
				"ResourceQuota",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := genericoptions.NewAdmissionOptions()
			for _, name := range tt.extra {
				opts.Plugins.Register(name, func(io.Reader) (admission.Interface, error) { return nil, nil })
			}
			Register(opts)
			if !slices.Equal(opts.RecommendedPluginOrder, tt.want) {
				t.Fatalf("order\n got %v\nwant %v", opts.RecommendedPluginOrder, tt.want)
			}
			for _, name := range opts.RecommendedPluginOrder {
				if opts.DefaultOffPlugins.Has(name) {
					t.Errorf("%s is off by default", name)
				}
			}
		})
	}
}

func TestPluginOrderKeepsUnknownPlugins(t *testing.T) {
	opts := genericoptions.NewAdmissionOptions()
	opts.RecommendedPluginOrder = []string{"NamespaceLifecycle", "SkiffSpecial", "MutatingAdmissionWebhook"}
	got := pluginOrder(opts.RecommendedPluginOrder, opts.Plugins)
	i, j, k := slices.Index(got, "NamespaceLifecycle"), slices.Index(got, "SkiffSpecial"), slices.Index(got, "MutatingAdmissionWebhook")
	if i < 0 || j != i+1 || k < j {
		t.Fatalf("order %v: want SkiffSpecial right after NamespaceLifecycle", got)
	}
}

func TestLimitConstraints(t *testing.T) {
	q := resource.MustParse
	cpu := func(v string) corev1.ResourceList { return corev1.ResourceList{corev1.ResourceCPU: q(v)} }
	none := corev1.ResourceList{}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"min no request", minConstraint("Container", "cpu", q("100m"), none, none), "minimum cpu usage per Container is 100m.  No request is specified"},
		{"min request below", minConstraint("Container", "cpu", q("100m"), cpu("50m"), none), "minimum cpu usage per Container is 100m, but request is 50m"},
		{"min limit below", minConstraint("Pod", "cpu", q("100m"), cpu("200m"), cpu("50m")), "minimum cpu usage per Pod is 100m, but limit is 50m"},
		{"min ok", minConstraint("Container", "cpu", q("100m"), cpu("100m"), cpu("1")), ""},
		{"max no limit", maxConstraint("Container", "cpu", q("1"), cpu("1"), none), "maximum cpu usage per Container is 1.  No limit is specified"},
		{"max limit above", maxConstraint("Container", "cpu", q("1"), none, cpu("1500m")), "maximum cpu usage per Container is 1, but limit is 1500m"},
		{"max request above", maxConstraint("Container", "cpu", q("1"), cpu("2"), cpu("1")), "maximum cpu usage per Container is 1, but request is 2"},
		{"max request only", maxRequestConstraint("PersistentVolumeClaim", "storage", q("1Gi"), corev1.ResourceList{"storage": q("2Gi")}), "maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi"},
		{"ratio no request", limitRequestRatioConstraint("Container", "cpu", q("2"), none, cpu("1")), "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"},
		{"ratio no limit", limitRequestRatioConstraint("Container", "cpu", q("2"), cpu("1"), none), "cpu max limit to request ratio per Container is 2, but no limit is specified or limit is 0"},
		{"ratio above", limitRequestRatioConstraint("Container", "cpu", q("2"), cpu("100m"), cpu("300m")), "cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000"},
		{"ratio ok", limitRequestRatioConstraint("Container", "cpu", q("1500m"), cpu("100m"), cpu("150m")), ""},
		{"huge values compare in units", maxConstraint("Container", "memory", q("8Ei"), none, corev1.ResourceList{"memory": q("4Ei")}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPodTotals(t *testing.T) {
	q := resource.MustParse
	ctr := func(name, req string, always bool) corev1.Container {
		c := corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q(req)}}}
		if always {
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}
		return c
	}
	tests := []struct {
		name string
		pod  corev1.PodSpec
		want string
	}{
		{"containers add up", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", false), ctr("b", "200m", false)}}, "300m"},
		{"big init step wins", corev1.PodSpec{Containers: []corev1.Container{ctr("a", "100m", false)}, InitContainers: []corev1.Container{ctr("i", "1", false)}}, "1"},
		{
			name: "sidecars run beside later steps and the containers",
			pod: corev1.PodSpec{
				Containers:     []corev1.Container{ctr("a", "100m", false)},
				InitContainers: []corev1.Container{ctr("side", "200m", true), ctr("i", "500m", false)},
			},
			want: "700m",
		},
		{
			name: "pod-level requests override",
			pod: corev1.PodSpec{
				Containers: []corev1.Container{ctr("a", "100m", false)},
				Resources:  &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("2")}},
			},
			want: "2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := podRequests(&corev1.Pod{Spec: tt.pod})[corev1.ResourceCPU]
			if got.Cmp(q(tt.want)) != 0 {
				t.Fatalf("pod cpu requests %s, want %s", got.String(), tt.want)
			}
		})
	}
}

func TestMergeTolerations(t *testing.T) {
	exists := func(key string, effect corev1.TaintEffect) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
	}
	tests := []struct {
		name          string
		first, second []corev1.Toleration
		want          []corev1.Toleration
	}{
		{"disjoint", []corev1.Toleration{exists("a", "")}, []corev1.Toleration{exists("b", "")}, []corev1.Toleration{exists("a", ""), exists("b", "")}},
		{"duplicate dropped", []corev1.Toleration{exists("a", "")}, []corev1.Toleration{exists("a", "")}, []corev1.Toleration{exists("a", "")}},
		{"covered by a later wider one", []corev1.Toleration{exists("a", corev1.TaintEffectNoSchedule)}, []corev1.Toleration{exists("a", "")}, []corev1.Toleration{exists("a", "")}},
		{"tolerate-all covers everything", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, []corev1.Toleration{exists("a", "")}, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}},
		{
			name:   "shorter NoExecute window is covered by the longer",
			first:  []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](10)}},
			second: []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}},
			want:   []corev1.Toleration{{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}},
		},
		{"both empty", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeTolerations(tt.first, tt.second)
			if !apiequality.Semantic.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultClassNewestWins(t *testing.T) {
	now := time.Now()
	class := func(name string, age time.Duration, isDefault bool) *storagev1.StorageClass {
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age))}}
		if isDefault {
			sc.Annotations = map[string]string{isDefaultStorageClassAnnotation: "true"}
		}
		return sc
	}
	tests := []struct {
		name    string
		classes []*storagev1.StorageClass
		want    string
	}{
		{"none", []*storagev1.StorageClass{class("a", time.Hour, false)}, ""},
		{"newest default", []*storagev1.StorageClass{class("old", time.Hour, true), class("new", time.Minute, true), class("newer", 0, false)}, "new"},
		{"tie by name", []*storagev1.StorageClass{class("b", time.Hour, true), class("a", time.Hour, true)}, "a"},
		{
			name: "beta annotation",
			classes: []*storagev1.StorageClass{{ObjectMeta: metav1.ObjectMeta{
				Name: "beta", Annotations: map[string]string{betaIsDefaultStorageClassAnnotation: "true"},
			}}},
			want: "beta",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if def := defaultClass(tt.classes); def != nil {
				got = def.Name
			}
			if got != tt.want {
				t.Fatalf("default %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMountServiceAccountToken(t *testing.T) {
	s := newServiceAccount()
	s.generateName = func(base string) string { return base + "abcde" }
	mount := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: DefaultAPITokenMountPath}
	t.Run("all containers but ephemeral", func(t *testing.T) {
		pod := &corev1.Pod{Spec: corev1.PodSpec{
			InitContainers:      []corev1.Container{{Name: "i"}},
			Containers:          []corev1.Container{{Name: "a"}, {Name: "b"}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e"}}},
		}}
		s.mountServiceAccountToken(pod)
		for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
			if !apiequality.Semantic.DeepEqual(c.VolumeMounts, []corev1.VolumeMount{mount}) {
				t.Fatalf("container %s mounts %v", c.Name, c.VolumeMounts)
			}
		}
		if len(pod.Spec.EphemeralContainers[0].VolumeMounts) != 0 {
			t.Fatalf("ephemeral container got mounts %v", pod.Spec.EphemeralContainers[0].VolumeMounts)
		}
		want := []corev1.Volume{{Name: "kube-api-access-abcde", VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}}}
		if !apiequality.Semantic.DeepEqual(pod.Spec.Volumes, want) {
			t.Fatalf("volumes %v", pod.Spec.Volumes)
		}
	})
	t.Run("existing volume reused", func(t *testing.T) {
		pod := &corev1.Pod{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "a"}},
			Volumes:    []corev1.Volume{{Name: "kube-api-access-zzzzz"}},
		}}
		s.mountServiceAccountToken(pod)
		if len(pod.Spec.Volumes) != 1 || pod.Spec.Containers[0].VolumeMounts[0].Name != "kube-api-access-zzzzz" {
			t.Fatalf("volumes %v mounts %v", pod.Spec.Volumes, pod.Spec.Containers[0].VolumeMounts)
		}
	})
	t.Run("own mount at the path kept, no volume added", func(t *testing.T) {
		own := corev1.VolumeMount{Name: "mine", MountPath: DefaultAPITokenMountPath}
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{own}}}}}
		s.mountServiceAccountToken(pod)
		if len(pod.Spec.Volumes) != 0 || !apiequality.Semantic.DeepEqual(pod.Spec.Containers[0].VolumeMounts, []corev1.VolumeMount{own}) {
			t.Fatalf("volumes %v mounts %v", pod.Spec.Volumes, pod.Spec.Containers[0].VolumeMounts)
		}
	})
}

// saPlugin returns a ServiceAccount plugin over a fake clientset whose
// informer was never started, so every lookup goes live.
func saPlugin(t *testing.T, objs ...runtime.Object) (*serviceAccount, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	s := newServiceAccount()
	s.retryInterval = func() time.Duration { return time.Millisecond }
	s.SetExternalKubeClientSet(client)
	s.SetExternalKubeInformerFactory(informers.NewSharedInformerFactory(client, 0))
	if err := s.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	return s, client
}

func podAttrs(pod *corev1.Pod) admission.Attributes {
	return admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", pod.Name,
		corev1.SchemeGroupVersion.WithResource("pods"), "", admission.Create, &metav1.CreateOptions{}, false, &user.DefaultInfo{Name: "u"})
}

func TestServiceAccountLookupRetries(t *testing.T) {
	tests := []struct {
		name      string
		account   string
		missFor   int
		wantCalls int
		wantErr   string
	}{
		{name: "default appears on the third try", account: "default", missFor: 2, wantCalls: 3},
		{name: "default never appears", account: "default", missFor: 100, wantCalls: 10, wantErr: `pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found`},
		{name: "other accounts are looked up once", account: "other", missFor: 100, wantCalls: 1, wantErr: `pods "p" is forbidden: error looking up service account ns/other: serviceaccount "other" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := saPlugin(t)
			calls := 0
			client.PrependReactor("get", "serviceaccounts", func(k8stesting.Action) (bool, runtime.Object, error) {
				calls++
				if calls <= tt.missFor {
					return true, nil, apierrors.NewNotFound(corev1.Resource("serviceaccounts"), tt.account)
				}
				return true, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tt.account, Namespace: "ns"}}, nil
			})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{ServiceAccountName: tt.account, Containers: []corev1.Container{{Name: "c"}}}}
			err := s.Admit(context.Background(), podAttrs(pod), nil)
			if calls < tt.wantCalls || (tt.wantErr != "" && calls != tt.wantCalls) {
				t.Fatalf("%d lookups, want %d", calls, tt.wantCalls)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("error %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestServiceAccountMountableSecrets(t *testing.T) {
	sa := &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "sa", Namespace: "ns", Annotations: map[string]string{EnforceMountableSecretsAnnotation: "true"}},
		Secrets:          []corev1.ObjectReference{{Name: "ok"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}},
	}
	secretEnv := func(name string) []corev1.EnvVar {
		return []corev1.EnvVar{{Name: "E", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}}}}
	}
	tests := []struct {
		name    string
		mutate  func(*corev1.PodSpec)
		wantErr string
	}{
		{name: "allowed", mutate: func(p *corev1.PodSpec) { p.Containers[0].Env = secretEnv("ok") }},
		{
			name:    "container env",
			mutate:  func(p *corev1.PodSpec) { p.Containers[0].Env = secretEnv("bad") },
			wantErr: `container c with envVar E referencing secret.secretName="bad" is not allowed because service account sa does not reference that secret`,
		},
		{
			name: "init container envFrom",
			mutate: func(p *corev1.PodSpec) {
				p.InitContainers = []corev1.Container{{Name: "i", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "bad"}}}}}}
			},
			wantErr: `init container i with envFrom referencing secret.secretName="bad" is not allowed because service account sa does not reference that secret`,
		},
		{
			name:    "pull secret",
			mutate:  func(p *corev1.PodSpec) { p.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "other"}} },
			wantErr: `imagePullSecrets[0].name="other" is not allowed because service account sa does not reference that imagePullSecret`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := saPlugin(t, sa)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{ServiceAccountName: "sa", Containers: []corev1.Container{{Name: "c"}}}}
			tt.mutate(&pod.Spec)
			err := s.Admit(context.Background(), podAttrs(pod), nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := `pods "p" is forbidden: ` + tt.wantErr; err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
		})
	}
}

func TestMirrorPods(t *testing.T) {
	mirror := func(mutate func(*corev1.PodSpec)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{mirrorPodAnnotation: "x"}}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
		if mutate != nil {
			mutate(&p.Spec)
		}
		return p
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		wantErr string
	}{
		{name: "plain mirror pod left alone", pod: mirror(nil)},
		{name: "secret volume", pod: mirror(func(p *corev1.PodSpec) {
			p.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}}}
		}), wantErr: "a mirror pod may not reference secrets"},
		{name: "token projection", pod: mirror(func(p *corev1.PodSpec) {
			p.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()}}}
		}), wantErr: "a mirror pod may not use ServiceAccountToken volume projections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := saPlugin(t)
			err := s.Admit(context.Background(), podAttrs(tt.pod), nil)
			if tt.wantErr == "" {
				if err != nil || tt.pod.Spec.ServiceAccountName != "" || len(tt.pod.Spec.Volumes) != 0 {
					t.Fatalf("err %v, serviceAccountName %q, volumes %v", err, tt.pod.Spec.ServiceAccountName, tt.pod.Spec.Volumes)
				}
				return
			}
			if want := `pods "p" is forbidden: ` + tt.wantErr; err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
		})
	}
}

func TestAddDefaultTolerations(t *testing.T) {
	tests := []struct {
		name string
		have []corev1.Toleration
		want int
	}{
		{"none", nil, 2},
		{"any key NoExecute", []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, 1},
		{"not-ready any effect", []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}}, 2},
		{"unreachable NoSchedule does not count", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: corev1.PodSpec{Tolerations: slices.Clone(tt.have)}}
			addDefaultTolerations(pod)
			if len(pod.Spec.Tolerations) != tt.want {
				t.Fatalf("tolerations %v, want %d", pod.Spec.Tolerations, tt.want)
			}
		})
	}
}

func csrPEM(t *testing.T, orgs ...string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "u", Organization: orgs}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestCertificateSubjectRestriction(t *testing.T) {
	tests := []struct {
		name    string
		signer  string
		request []byte
		wantErr string
	}{
		{"masters to the client signer", certificatesv1.KubeAPIServerClientSignerName, csrPEM(t, "system:masters"), "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"},
		{"other groups", certificatesv1.KubeAPIServerClientSignerName, csrPEM(t, "dev"), ""},
		{"masters to another signer", "example.com/signer", csrPEM(t, "system:masters"), ""},
		{"garbage", certificatesv1.KubeAPIServerClientSignerName, []byte("nope"), "failed to parse CSR: PEM block type must be CERTIFICATE REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: tt.signer, Request: tt.request}}
			a := admission.NewAttributesRecord(csr, nil, certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "c",
				certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), "", admission.Create, nil, false, &user.DefaultInfo{Name: "u"})
			err := (&certificateSubjectRestriction{}).Validate(context.Background(), a, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := `certificatesigningrequests.certificates.k8s.io "c" is forbidden: ` + tt.wantErr
			if err == nil || err.Error() != want || !apierrors.IsForbidden(err) {
				t.Fatalf("error %v, want %q", err, want)
			}
		})
	}
}

// signerAuthz allows exactly the listed "verb/signer" pairs.
type signerAuthz map[string]bool

func (s signerAuthz) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetResource() != "signers" || a.GetAPIGroup() != "certificates.k8s.io" {
		return authorizer.DecisionDeny, "", fmt.Errorf("unexpected %v", a)
	}
	if s[a.GetVerb()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func TestSignerPermissions(t *testing.T) {
	authz := signerAuthz{"approve/example.com/foo": true, "sign/example.com/*": true, "attest/example.com/foo": true}
	csr := func(signer string, cond bool) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signer}}
		if cond {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
		}
		return c
	}
	csrAttrs := func(obj, old runtime.Object, sub string) admission.Attributes {
		return admission.NewAttributesRecord(obj, old, certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "c",
			certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), sub, admission.Update, nil, false, &user.DefaultInfo{Name: "u"})
	}
	bundleAttrs := func(signer string) admission.Attributes {
		b := &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: signer}}
		return admission.NewAttributesRecord(b, nil, certificatesv1.SchemeGroupVersion.WithKind("ClusterTrustBundle"), "", "b",
			certificatesv1.SchemeGroupVersion.WithResource("clustertrustbundles"), "", admission.Create, nil, false, &user.DefaultInfo{Name: "u"})
	}
	approval := &certificateApproval{withAuthorizer{authz: authz}}
	signing := &certificateSigning{withAuthorizer{authz: authz}}
	attest := &ctbAttest{withAuthorizer{authz: authz}}
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"approve allowed signer", approval.Validate(context.Background(), csrAttrs(csr("example.com/foo", true), csr("example.com/foo", false), "approval"), nil), ""},
		{"approve other signer", approval.Validate(context.Background(), csrAttrs(csr("example.com/bar", true), csr("example.com/bar", false), "approval"), nil),
			`certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to approve requests with signerName "example.com/bar"`},
		{"sign through the domain wildcard", signing.Validate(context.Background(), csrAttrs(csr("example.com/bar", true), csr("example.com/bar", false), "status"), nil), ""},
		{"sign other domain", signing.Validate(context.Background(), csrAttrs(csr("other.io/x", true), csr("other.io/x", false), "status"), nil),
			`certificatesigningrequests.certificates.k8s.io "c" is forbidden: user not permitted to sign requests with signerName "other.io/x"`},
		{"status update without certificate or condition change", signing.Validate(context.Background(), csrAttrs(csr("other.io/x", false), csr("other.io/x", false), "status"), nil), ""},
		{"attest allowed signer", attest.Validate(context.Background(), bundleAttrs("example.com/foo"), nil), ""},
		{"bundle without signer", attest.Validate(context.Background(), bundleAttrs(""), nil), ""},
		{"attest other signer", attest.Validate(context.Background(), bundleAttrs("example.com/bar"), nil),
			`clustertrustbundles.certificates.k8s.io "b" is forbidden: user not permitted to attest for signerName "example.com/bar"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("error %q, want %q", got, tt.wantErr)
			}
			if tt.err != nil && !apierrors.IsForbidden(tt.err) {
				t.Fatalf("error %v is not Forbidden", tt.err)
			}
		})
	}
}

func TestPVCResize(t *testing.T) {
	client := fake.NewClientset(
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "grow"}, AllowVolumeExpansion: ptr.To(true)},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fixed"}},
	)
	f := informers.NewSharedInformerFactory(client, 0)
	p := &pvcResize{Handler: admission.NewHandler(admission.Update)}
	p.SetExternalKubeInformerFactory(f)
	f.Start(t.Context().Done())
	f.WaitForCacheSync(t.Context().Done())
	claim := func(class, size string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: ptr.To(class),
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			},
			Status: corev1.PersistentVolumeClaimStatus{Phase: phase},
		}
	}
	tests := []struct {
		name     string
		old, new *corev1.PersistentVolumeClaim
		wantErr  string
	}{
		{"grow on expandable class", claim("grow", "1Gi", corev1.ClaimBound), claim("grow", "2Gi", corev1.ClaimBound), ""},
		{"shrink is not this plugin's business", claim("fixed", "2Gi", corev1.ClaimBound), claim("fixed", "1Gi", corev1.ClaimBound), ""},
		{"unbound", claim("grow", "1Gi", corev1.ClaimPending), claim("grow", "2Gi", corev1.ClaimPending), "Only bound persistent volume claims can be expanded"},
		{"class without expansion", claim("fixed", "1Gi", corev1.ClaimBound), claim("fixed", "2Gi", corev1.ClaimBound), "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := admission.NewAttributesRecord(tt.new, tt.old, corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), "ns", "c",
				corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"), "", admission.Update, nil, false, &user.DefaultInfo{Name: "u"})
			err := p.Validate(context.Background(), a, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) || !apierrors.IsForbidden(err) {
				t.Fatalf("error %v, want Forbidden ending in %q", err, tt.wantErr)
			}
		})
	}
}

// startedNodeInformer returns an informer factory over the given nodes,
// synced.
func startedNodeInformer(t *testing.T, nodes ...runtime.Object) informers.SharedInformerFactory {
	t.Helper()
	f := informers.NewSharedInformerFactory(fake.NewClientset(nodes...), 0)
	f.Core().V1().Nodes().Informer()
	f.Start(t.Context().Done())
	f.WaitForCacheSync(t.Context().Done())
	return f
}

func TestPodResizeValidator(t *testing.T) {
	q := resource.MustParse
	node := func(name, os string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelOSStable: os}}}
		n.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("1Gi")}
		return n
	}
	p := &podResize{newWithNodes(PodResizeValidatorPluginName, admission.Update)}
	p.SetExternalKubeInformerFactory(startedNodeInformer(t, node("lin", "linux"), node("win", "windows")))
	resized := func(nodeName, cpu string) (*corev1.Pod, *corev1.Pod) {
		old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 1}, Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c"}}}}
		pod := old.DeepCopy()
		pod.Generation = 2
		pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: q(cpu)}
		return pod, old
	}
	tests := []struct {
		name       string
		node, cpu  string
		wantErr    string
		wantReason metav1.CauseType
	}{
		{name: "fits", node: "lin", cpu: "1"},
		{name: "over allocatable", node: "lin", cpu: "3", wantErr: "node didn't have enough allocatable resources: cpu, requested: 3000, allocatable: 2000", wantReason: reasonNodeCapacity},
		{name: "windows node", node: "win", cpu: "1", wantErr: `pod resize is only supported on linux nodes, node "win" is "windows"`, wantReason: reasonUnsupportedPlatform},
		{name: "missing node", node: "gone", cpu: "1", wantErr: `node "gone" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod, old := resized(tt.node, tt.cpu)
			a := admission.NewAttributesRecord(pod, old, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "p",
				corev1.SchemeGroupVersion.WithResource("pods"), "resize", admission.Update, nil, false, &user.DefaultInfo{Name: "u"})
			err := p.Validate(context.Background(), a, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := `pods "p" is forbidden: ` + tt.wantErr
			if err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
			if tt.wantReason != "" {
				causes := err.(apierrors.APIStatus).Status().Details.Causes
				if !slices.ContainsFunc(causes, func(c metav1.StatusCause) bool { return c.Type == tt.wantReason }) {
					t.Fatalf("causes %v lack %s", causes, tt.wantReason)
				}
			}
		})
	}
}

func TestPodTopologyLabels(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{
		"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1", "kubernetes.io/hostname": "n",
	}}}
	p := &podTopologyLabels{newWithNodes(PodTopologyLabelsPluginName, admission.Create)}
	p.SetExternalKubeInformerFactory(startedNodeInformer(t, node))
	want := map[string]string{"topology.kubernetes.io/zone": "z1", "topology.kubernetes.io/region": "r1"}
	t.Run("binding", func(t *testing.T) {
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n"}}
		a := admission.NewAttributesRecord(b, nil, corev1.SchemeGroupVersion.WithKind("Binding"), "ns", "p",
			corev1.SchemeGroupVersion.WithResource("pods"), "binding", admission.Create, nil, false, &user.DefaultInfo{Name: "u"})
		if err := p.Admit(context.Background(), a, nil); err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(b.Labels, want) {
			t.Fatalf("binding labels %v, want %v", b.Labels, want)
		}
	})
	t.Run("pod created on a node", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "x"}}, Spec: corev1.PodSpec{NodeName: "n"}}
		if err := p.Admit(context.Background(), podAttrs(pod), nil); err != nil {
			t.Fatal(err)
		}
		if pod.Labels["app"] != "x" || pod.Labels["topology.kubernetes.io/zone"] != "z1" || len(pod.Labels) != 3 {
			t.Fatalf("pod labels %v", pod.Labels)
		}
	})
	t.Run("unknown node", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{NodeName: "other"}}
		if err := p.Admit(context.Background(), podAttrs(pod), nil); err != nil || pod.Labels != nil {
			t.Fatalf("err %v labels %v", err, pod.Labels)
		}
	})
}
