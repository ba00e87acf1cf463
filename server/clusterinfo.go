package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/skiff-dev/skiff/controllers/legacysatokencleaner"
)

// clusterInfoReader is kubeadm's name for the Role that lets anyone read
// cluster-info: a joining node reads it before it has any credentials and
// trusts it once a signature made with its token checks out.
const clusterInfoReader = "kubeadm:bootstrap-signer-clusterinfo"

// ensureClusterInfo creates kube-public/cluster-info, as kubeadm init does,
// when missing: a kubeconfig with the API server's address and the cluster
// CA, which the bootstrap signer signs with each bootstrap token. An
// existing one is left alone, so an administrator's address stays.
func ensureClusterInfo(ctx context.Context, client kubernetes.Interface, cfg *Config) error {
	caPEM, err := os.ReadFile(filepath.Join(cfg.tlsDir(), "ca.crt"))
	if err != nil {
		return fmt.Errorf("reading the cluster CA: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	// kubeadm's cluster-info names its one cluster "".
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: clusterInfoURL(cfg), CertificateAuthorityData: caPEM}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encoding cluster-info: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic},
		Data:       map[string]string{bootstrapapi.KubeConfigKey: string(data)},
	}
	if _, err := client.CoreV1().ConfigMaps(metav1.NamespacePublic).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: clusterInfoReader, Namespace: metav1.NamespacePublic},
		Rules: []rbacv1.PolicyRule{{
			Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{bootstrapapi.ConfigMapClusterInfo},
		}},
	}
	if _, err := client.RbacV1().Roles(role.Namespace).Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating role %s/%s: %w", role.Namespace, role.Name, err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: clusterInfoReader, Namespace: metav1.NamespacePublic},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: clusterInfoReader},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user.Anonymous}},
	}
	if _, err := client.RbacV1().RoleBindings(binding.Namespace).Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating rolebinding %s/%s: %w", binding.Namespace, binding.Name, err)
	}
	return nil
}

// clusterInfoURL is the address nodes join at: the advertise address.
func clusterInfoURL(cfg *Config) string {
	if cfg.AdvertiseAddress == nil || cfg.AdvertiseAddress.IsUnspecified() {
		return serverURL(cfg)
	}
	return "https://" + net.JoinHostPort(cfg.AdvertiseAddress.String(), strconv.Itoa(cfg.HTTPSPort))
}

// ensureLegacyTokenTracking records, as kube-apiserver's legacy token
// tracking controller does, the day from which the server labels legacy
// service account tokens with their last use; the legacy token cleaner
// waits a whole clean-up period from then before it retires any.
func ensureLegacyTokenTracking(ctx context.Context, client kubernetes.Interface, now time.Time) error {
	want := now.UTC().Format(time.DateOnly)
	cms := client.CoreV1().ConfigMaps(metav1.NamespaceSystem)
	cm, err := cms.Get(ctx, legacysatokencleaner.TrackingConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: legacysatokencleaner.TrackingConfigMap, Namespace: metav1.NamespaceSystem},
			Data:       map[string]string{legacysatokencleaner.TrackingSinceKey: want},
		}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s/%s: %w", metav1.NamespaceSystem, legacysatokencleaner.TrackingConfigMap, err)
	}
	if _, err := time.Parse(time.DateOnly, cm.Data[legacysatokencleaner.TrackingSinceKey]); err == nil {
		return nil
	}
	// Unreadable: tracking is only known to hold from today.
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[legacysatokencleaner.TrackingSinceKey] = want
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return nil
}
