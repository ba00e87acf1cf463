package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/server/bootstraptoken"
)

// controllerIdentity is who a controller is to the API server.
type controllerIdentity struct {
	user   string
	groups []string
}

// identityOrServiceAccount is the controller's identity: by default, as
// kube-controller-manager with --use-service-account-credentials, the
// service account kube-system/<name>, which the default policy binds to
// the role system:controller:<name>.
func (d controllerDef) identityOrServiceAccount() controllerIdentity {
	if d.identity.user != "" {
		return d.identity
	}
	return controllerIdentity{serviceaccount.MakeUsername(metav1.NamespaceSystem, d.name), serviceaccount.MakeGroupNames(metav1.NamespaceSystem)}
}

// clientConfig returns a copy of base that authenticates as user in groups
// with a fresh client certificate from the CA, kept in memory only: each
// start of the server issues new ones.
func (ca *CA) clientConfig(base *rest.Config, user string, groups []string) (*rest.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a key for %s: %w", user, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing a client certificate for %s: %w", user, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the key for %s: %w", user, err)
	}
	cfg := rest.AnonymousClientConfig(base)
	cfg.CertData = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cfg.KeyData = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return cfg, nil
}

// nodeBootstrapBindings let holders of skiff's node bootstrap tokens ask
// for a node client certificate and have it approved, and let nodes renew
// their own, as kubeadm's bindings of the same roles do.
var nodeBootstrapBindings = []rbacv1.ClusterRoleBinding{
	bootstrapBinding("skiff:kubelet-bootstrap", "system:node-bootstrapper", bootstraptoken.DefaultGroup),
	bootstrapBinding("skiff:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", bootstraptoken.DefaultGroup),
	bootstrapBinding("skiff:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
}

func bootstrapBinding(name, role, group string) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
	}
}

// ensureIdentities creates the controllers' service accounts and the node
// bootstrap bindings when missing. It leaves existing ones alone, so an
// administrator's changes to the bindings stay.
func ensureIdentities(ctx context.Context, client kubernetes.Interface) error {
	for _, def := range controllerDefs() {
		ns, name, err := serviceaccount.SplitUsername(def.identityOrServiceAccount().user)
		if err != nil {
			continue // not a service account
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating service account %s/%s: %w", ns, name, err)
		}
	}
	for i := range nodeBootstrapBindings {
		b := nodeBootstrapBindings[i].DeepCopy()
		if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating clusterrolebinding %s: %w", b.Name, err)
		}
	}
	return nil
}

// runController starts run in the background once the controller may act:
// when the authorizer grants it its probe permission, which is when the
// default policy has been reconciled and reached the RBAC caches. Acting
// earlier only earns a burst of 403s, the race kube-controller-manager
// avoids by waiting for the API server's health check. After a minute it
// starts regardless, so a damaged policy shows up as the controller's own
// errors rather than as silence.
func runController(ctx context.Context, authz authorizer.Authorizer, def controllerDef, run func(context.Context)) {
	id := def.identityOrServiceAccount()
	probe := def.probe
	probe.ResourceRequest = true
	probe.User = &user.DefaultInfo{Name: id.user, Groups: append(slices.Clone(id.groups), user.AllAuthenticated)}
	go func() {
		// Discovery is granted by a binding of its own (system:discovery),
		// which bootstrap may create after the controller's.
		discovery := authorizer.AttributesRecord{User: probe.User, Verb: "get", Path: "/apis"}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			decision, _, _ := authz.Authorize(ctx, probe)
			discoveryDecision, _, _ := authz.Authorize(ctx, discovery)
			return decision == authorizer.DecisionAllow && discoveryDecision == authorizer.DecisionAllow, nil
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			klog.InfoS("Starting a controller its role does not yet authorize", "controller", def.name, "probe", probe.Verb+" "+probe.Resource)
		}
		run(ctx)
	}()
}
