package admission

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/ptr"
)

const (
	// ServiceAccountPluginName is the name kube-apiserver registers the
	// ServiceAccount admission plugin under.
	ServiceAccountPluginName = "ServiceAccount"

	// DefaultServiceAccountName is the service account a pod without one
	// runs as.
	DefaultServiceAccountName = "default"
	// EnforceMountableSecretsAnnotation on a service account limits its pods
	// to the secrets the account lists.
	EnforceMountableSecretsAnnotation = "kubernetes.io/enforce-mountable-secrets"
	// ServiceAccountVolumeName prefixes the projected token volume's name.
	ServiceAccountVolumeName = "kube-api-access"
	// DefaultAPITokenMountPath is where every container finds its token.
	DefaultAPITokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

	mirrorPodAnnotation = "kubernetes.io/config.mirror"

	// tokenExpirationSeconds is kube-apiserver's warn-only bound token
	// lifetime: an hour plus seven seconds, the odd value marking tokens
	// the kubelet should refresh although the server honours them longer.
	tokenExpirationSeconds = int64(3607)
)

func registerServiceAccount(plugins *admission.Plugins) {
	plugins.Register(ServiceAccountPluginName, func(io.Reader) (admission.Interface, error) {
		return newServiceAccount(), nil
	})
}

// serviceAccount gives every pod a service account that exists, mounts its
// API credentials unless opted out, copies its image pull secrets and, when
// the account asks for it, limits the secrets the pod may reference.
type serviceAccount struct {
	*admission.Handler
	client       kubernetes.Interface
	lister       corev1listers.ServiceAccountLister
	generateName func(string) string
	// retryInterval is how long the live lookup of a missing "default"
	// account waits between attempts.
	retryInterval func() time.Duration
}

var (
	_ admission.MutationInterface                           = &serviceAccount{}
	_ admission.ValidationInterface                         = &serviceAccount{}
	_ admission.InitializationValidator                     = &serviceAccount{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &serviceAccount{}
	_ genericadmissioninit.WantsExternalKubeClientSet       = &serviceAccount{}
)

func newServiceAccount() *serviceAccount {
	return &serviceAccount{
		Handler:      admission.NewHandler(admission.Create, admission.Update),
		generateName: names.SimpleNameGenerator.GenerateName,
		retryInterval: func() time.Duration {
			return time.Duration(100+rand.Int64N(100)) * time.Millisecond
		},
	}
}

func (s *serviceAccount) SetExternalKubeClientSet(c kubernetes.Interface) { s.client = c }

func (s *serviceAccount) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	sas := f.Core().V1().ServiceAccounts()
	s.lister = sas.Lister()
	s.SetReadyFunc(sas.Informer().HasSynced)
}

func (s *serviceAccount) ValidateInitialization() error {
	if s.client == nil {
		return fmt.Errorf("missing client")
	}
	if s.lister == nil {
		return fmt.Errorf("missing serviceAccountLister")
	}
	return nil
}

// serviceAccountPod returns the pod the plugin acts on, or nil for anything
// else: only pods themselves and their ephemeralcontainers subresource.
func serviceAccountPod(a admission.Attributes) *corev1.Pod {
	if a.GetResource().GroupResource() != podsResource {
		return nil
	}
	if sub := a.GetSubresource(); sub != "" && sub != "ephemeralcontainers" {
		return nil
	}
	pod, _ := a.GetObject().(*corev1.Pod)
	return pod
}

func (s *serviceAccount) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	pod := serviceAccountPod(a)
	if pod == nil || a.GetOperation() != admission.Create {
		return nil
	}
	// Mirror pods come from the kubelet's static manifests and may not use
	// anything the API server would have to grant them.
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return s.Validate(ctx, a, o)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccountName
		pod.Spec.DeprecatedServiceAccount = DefaultServiceAccountName //nolint:staticcheck // still set for old clients, as upstream
	}
	sa, err := s.getServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if shouldAutomount(sa, pod) {
		s.mountServiceAccountToken(pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		pod.Spec.ImagePullSecrets = make([]corev1.LocalObjectReference, len(sa.ImagePullSecrets))
		for i, ref := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets[i].Name = ref.Name
		}
	}
	return s.Validate(ctx, a, o)
}

func (s *serviceAccount) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod := serviceAccountPod(a)
	if pod == nil {
		return nil
	}
	if a.GetOperation() == admission.Update && a.GetSubresource() == "ephemeralcontainers" {
		return s.limitEphemeralContainerSecretReferences(ctx, a, pod)
	}
	if a.GetOperation() != admission.Create {
		return nil
	}
	if _, mirror := pod.Annotations[mirrorPodAnnotation]; mirror {
		return validateMirrorPod(a, pod)
	}
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := s.getServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %v", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if enforceMountableSecrets(sa) {
		if err := limitSecretReferences(sa, pod); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

func validateMirrorPod(a admission.Attributes, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference service accounts"))
	}
	if len(podSecretNames(pod)) > 0 {
		return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference secrets"))
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
			}
		}
	}
	return nil
}

func shouldAutomount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

func enforceMountableSecrets(sa *corev1.ServiceAccount) bool {
	v, ok := sa.Annotations[EnforceMountableSecretsAnnotation]
	if !ok {
		return false
	}
	enforce, _ := strconv.ParseBool(v)
	return enforce
}

// getServiceAccount reads the account from the informer and, should it not
// be there yet, from the server: the "default" account is created by a
// controller right after its namespace, so it gets ten tries before a pod
// is refused.
func (s *serviceAccount) getServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := s.lister.ServiceAccounts(namespace).Get(name)
	if err == nil {
		return sa, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	attempts := 1
	if name == DefaultServiceAccountName {
		attempts = 10
	}
	interval := s.retryInterval()
	for i := range attempts {
		if i != 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(interval):
			}
		}
		sa, err := s.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

func limitSecretReferences(sa *corev1.ServiceAccount, pod *corev1.Pod) error {
	mountable := sets.New[string]()
	for _, ref := range sa.Secrets {
		mountable.Insert(ref.Name)
	}
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		if name := v.Secret.SecretName; !mountable.Has(name) {
			return fmt.Errorf("volume with secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", name, sa.Name)
		}
	}
	if err := limitContainerSecrets(sa, mountable, "init container", pod.Spec.InitContainers); err != nil {
		return err
	}
	if err := limitContainerSecrets(sa, mountable, "container", pod.Spec.Containers); err != nil {
		return err
	}
	pullSecrets := sets.New[string]()
	for _, ref := range sa.ImagePullSecrets {
		pullSecrets.Insert(ref.Name)
	}
	for i, ref := range pod.Spec.ImagePullSecrets {
		if !pullSecrets.Has(ref.Name) {
			return fmt.Errorf(`imagePullSecrets[%d].name="%s" is not allowed because service account %s does not reference that imagePullSecret`, i, ref.Name, sa.Name)
		}
	}
	return nil
}

func limitContainerSecrets(sa *corev1.ServiceAccount, mountable sets.Set[string], kind string, containers []corev1.Container) error {
	for _, c := range containers {
		if err := limitEnvSecrets(sa, mountable, kind, c.Name, c.Env, c.EnvFrom); err != nil {
			return err
		}
	}
	return nil
}

func limitEnvSecrets(sa *corev1.ServiceAccount, mountable sets.Set[string], kind, container string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource) error {
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !mountable.Has(e.ValueFrom.SecretKeyRef.Name) {
			return fmt.Errorf("%s %s with envVar %s referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", kind, container, e.Name, e.ValueFrom.SecretKeyRef.Name, sa.Name)
		}
	}
	for _, e := range envFrom {
		if e.SecretRef != nil && !mountable.Has(e.SecretRef.Name) {
			return fmt.Errorf("%s %s with envFrom referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", kind, container, e.SecretRef.Name, sa.Name)
		}
	}
	return nil
}

func (s *serviceAccount) limitEphemeralContainerSecretReferences(ctx context.Context, a admission.Attributes, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := s.getServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if !enforceMountableSecrets(sa) {
		return nil
	}
	mountable := sets.New[string]()
	for _, ref := range sa.Secrets {
		mountable.Insert(ref.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		// Upstream returns this one unwrapped, so it surfaces as an
		// internal error rather than Forbidden.
		if err := limitEnvSecrets(sa, mountable, "ephemeral container", c.Name, c.Env, c.EnvFrom); err != nil {
			return err
		}
	}
	return nil
}

// mountServiceAccountToken adds the projected kube-api-access volume and
// mounts it in every init and regular container that has nothing at the
// token path yet. Ephemeral containers are left alone, as upstream: they
// join a running pod and name their mounts themselves.
func (s *serviceAccount) mountServiceAccountToken(pod *corev1.Pod) {
	volumeName := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, ServiceAccountVolumeName+"-") {
			volumeName = v.Name
			break
		}
	}
	hasVolume := volumeName != ""
	if !hasVolume {
		volumeName = s.generateName(ServiceAccountVolumeName + "-")
	}
	mount := corev1.VolumeMount{Name: volumeName, ReadOnly: true, MountPath: DefaultAPITokenMountPath}
	needsVolume := false
	addMount := func(containers []corev1.Container) {
		for i := range containers {
			mounted := false
			for _, m := range containers[i].VolumeMounts {
				if m.MountPath == DefaultAPITokenMountPath {
					mounted = true
					break
				}
			}
			if !mounted {
				containers[i].VolumeMounts = append(containers[i].VolumeMounts, mount)
				needsVolume = true
			}
		}
	}
	addMount(pod.Spec.InitContainers)
	addMount(pod.Spec.Containers)
	if !hasVolume && needsVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
			Name:         volumeName,
			VolumeSource: corev1.VolumeSource{Projected: TokenVolumeSource()},
		})
	}
}

// TokenVolumeSource is the projection every automounting pod gets: a bound
// token, the cluster CA and the pod's namespace.
func TokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path:              "token",
				ExpirationSeconds: ptr.To(tokenExpirationSeconds),
			}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{
				Items: []corev1.DownwardAPIVolumeFile{{
					Path:     "namespace",
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
				}},
			}},
		},
	}
}

// podSecretNames lists every secret a pod references by name: pull
// secrets, container environment (all container kinds) and volumes.
func podSecretNames(pod *corev1.Pod) []string {
	var out []string
	add := func(name string) {
		if name != "" {
			out = append(out, name)
		}
	}
	for _, ref := range pod.Spec.ImagePullSecrets {
		add(ref.Name)
	}
	envNames := func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) {
		for _, e := range envFrom {
			if e.SecretRef != nil {
				add(e.SecretRef.Name)
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		envNames(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.Containers {
		envNames(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		envNames(c.Env, c.EnvFrom)
	}
	for _, v := range pod.Spec.Volumes {
		src := v.VolumeSource
		switch {
		case src.AzureFile != nil:
			add(src.AzureFile.SecretName)
		case src.CephFS != nil && src.CephFS.SecretRef != nil:
			add(src.CephFS.SecretRef.Name)
		case src.Cinder != nil && src.Cinder.SecretRef != nil:
			add(src.Cinder.SecretRef.Name)
		case src.FlexVolume != nil && src.FlexVolume.SecretRef != nil:
			add(src.FlexVolume.SecretRef.Name)
		case src.Projected != nil:
			for _, p := range src.Projected.Sources {
				if p.Secret != nil {
					add(p.Secret.Name)
				}
			}
		case src.RBD != nil && src.RBD.SecretRef != nil:
			add(src.RBD.SecretRef.Name)
		case src.Secret != nil:
			add(src.Secret.SecretName)
		case src.ScaleIO != nil && src.ScaleIO.SecretRef != nil:
			add(src.ScaleIO.SecretRef.Name)
		case src.ISCSI != nil && src.ISCSI.SecretRef != nil:
			add(src.ISCSI.SecretRef.Name)
		case src.StorageOS != nil && src.StorageOS.SecretRef != nil:
			add(src.StorageOS.SecretRef.Name)
		case src.CSI != nil && src.CSI.NodePublishSecretRef != nil:
			add(src.CSI.NodePublishSecretRef.Name)
		}
	}
	return out
}
