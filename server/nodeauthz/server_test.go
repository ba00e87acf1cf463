package nodeauthz_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// These tests act as a kubelet, with a client certificate for
// system:node:n1 in group system:nodes, against a real skiff server; the
// expectations are what kube-apiserver 1.37 with the Node authorizer and
// NodeRestriction answers.

const ns = "nodetest"

var cluster struct {
	server *testserver.Server
	admin  kubernetes.Interface
	n1     kubernetes.Interface
	p1, p2 *corev1.Pod
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv(testserver.EnvBinary)}, func(s *testserver.Server) {
		cluster.server = s
		var err error
		if cluster.admin, err = s.Clientset(); err != nil {
			panic(err)
		}
		if cluster.n1, err = s.UserClientset("system:node:n1", "system:nodes"); err != nil {
			panic(err)
		}
		if err := setup(context.Background()); err != nil {
			panic(err)
		}
	}))
}

// setup makes, as the admin, Nodes n1 and n2 and in namespace nodetest a
// pod bound to each, p1 on n1 using secret s1, config map c1 and service
// account sa1, and p2 on n2 using s2, c2 and sa2.
func setup(ctx context.Context) error {
	c := cluster.admin
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, n := range []string{"n1", "n2"} {
		if _, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, i := range []string{"1", "2"} {
		if _, err := c.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s" + i}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c" + i}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa" + i}}, metav1.CreateOptions{}); err != nil {
			return err
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p" + i},
			Spec: corev1.PodSpec{
				NodeName:           "n" + i,
				ServiceAccountName: "sa" + i,
				Containers:         []corev1.Container{{Name: "c", Image: "busybox"}},
				Volumes: []corev1.Volume{
					{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s" + i}}},
					{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c" + i}}}},
					{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
						{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					}}}},
				},
			},
		}
		created, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if i == "1" {
			cluster.p1 = created
		} else {
			cluster.p2 = created
		}
	}
	return nil
}

// eventually retries f until it returns nil, since the authorizer and the
// admission plugin learn of new objects through informers.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

// forbidden checks that err is a 403 with exactly message.
func forbidden(t *testing.T, err error, message string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Fatalf("got %v, want 403 %q", err, message)
	}
	if got := err.Error(); got != message {
		t.Errorf("403 message:\n got %s\nwant %s", got, message)
	}
}

func TestReadReferencedObjects(t *testing.T) {
	ctx := t.Context()
	n1 := cluster.n1.CoreV1()
	eventually(t, "n1 reads secret s1 of its pod", func() error {
		_, err := n1.Secrets(ns).Get(ctx, "s1", metav1.GetOptions{})
		return err
	})
	eventually(t, "n1 reads config map c1 of its pod", func() error {
		_, err := n1.ConfigMaps(ns).Get(ctx, "c1", metav1.GetOptions{})
		return err
	})
	tests := []struct {
		name    string
		do      func() error
		message string
	}{
		{"secret of a pod on n2", func() error { _, err := n1.Secrets(ns).Get(ctx, "s2", metav1.GetOptions{}); return err },
			`secrets "s2" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "nodetest": node: no relationship found between node 'n1' and this object`},
		{"config map of a pod on n2", func() error { _, err := n1.ConfigMaps(ns).Get(ctx, "c2", metav1.GetOptions{}); return err },
			`configmaps "c2" is forbidden: User "system:node:n1" cannot get resource "configmaps" in API group "" in the namespace "nodetest": node: no relationship found between node 'n1' and this object`},
		{"list of secrets", func() error { _, err := n1.Secrets(ns).List(ctx, metav1.ListOptions{}); return err },
			`secrets is forbidden: User "system:node:n1" cannot list resource "secrets" in API group "" in the namespace "nodetest": node: No Object name found`},
		{"pod on n2", func() error { _, err := n1.Pods(ns).Get(ctx, "p2", metav1.GetOptions{}); return err },
			`pods "p2" is forbidden: User "system:node:n1" cannot get resource "pods" in API group "" in the namespace "nodetest": node: no relationship found between node 'n1' and this object`},
		{"all pods", func() error { _, err := n1.Pods("").List(ctx, metav1.ListOptions{}); return err },
			`pods is forbidden: User "system:node:n1" cannot list resource "pods" in API group "" at the cluster scope: node: can only list/watch pods with spec.nodeName field selector`},
		{"Node n2", func() error { _, err := n1.Nodes().Get(ctx, "n2", metav1.GetOptions{}); return err },
			`nodes "n2" is forbidden: User "system:node:n1" cannot get resource "nodes" in API group "" at the cluster scope: node: node 'n1' cannot read 'n2', only its own Node object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { forbidden(t, tt.do(), tt.message) })
	}
	t.Run("pods on n1", func(t *testing.T) {
		pods, err := n1.Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 1 || pods.Items[0].Name != "p1" {
			t.Errorf("pods on n1: %v, want p1 only", pods.Items)
		}
	})
	t.Run("watch of one secret", func(t *testing.T) {
		w, err := n1.Secrets(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=s1"})
		if err != nil {
			t.Fatal(err)
		}
		w.Stop()
	})
}

func TestNodeStatus(t *testing.T) {
	ctx := t.Context()
	nodes := cluster.n1.CoreV1().Nodes()
	var own *corev1.Node
	eventually(t, "n1 updates its own status", func() error {
		n, err := nodes.Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now()}}
		own, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if len(own.Status.Conditions) != 1 {
		t.Errorf("conditions after the update: %v", own.Status.Conditions)
	}
	patch := []byte(`{"status":{"conditions":[{"type":"Ready","status":"False"}]}}`)
	_, err := nodes.Patch(ctx, "n2", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	forbidden(t, err, `nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`)

	labels := []struct {
		name, patch, message string
	}{
		{"node-restriction label", `{"metadata":{"labels":{"node-restriction.kubernetes.io/pool":"a"}}}`,
			`nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool`},
		{"kubernetes.io label not the kubelet's", `{"metadata":{"labels":{"kubernetes.io/role":"master"}}}`,
			`nodes "n1" is forbidden: is not allowed to modify labels: kubernetes.io/role`},
		{"taint", `{"spec":{"taints":[{"key":"k","effect":"NoSchedule"}]}}`,
			`nodes "n1" is forbidden: node "n1" is not allowed to modify taints`},
		{"kubelet label", `{"metadata":{"labels":{"node.kubernetes.io/instance-type":"big","kubernetes.io/hostname":"n1","example.com/x":"y"}}}`, ""},
	}
	for _, tt := range labels {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nodes.Patch(ctx, "n1", types.StrategicMergePatchType, []byte(tt.patch), metav1.PatchOptions{})
			if tt.message == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			forbidden(t, err, tt.message)
		})
	}
}

func TestLease(t *testing.T) {
	ctx := t.Context()
	leases := cluster.n1.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	lease := func(name string) *coordinationv1.Lease {
		holder, seconds, now := name, int32(40), metav1.NewMicroTime(time.Now())
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &now}}
	}
	own, err := leases.Create(ctx, lease("n1"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating its own lease: %v", err)
	}
	renewed := metav1.NewMicroTime(time.Now().Add(time.Second))
	own.Spec.RenewTime = &renewed
	if _, err := leases.Update(ctx, own, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("renewing its own lease: %v", err)
	}
	if _, err := cluster.admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		do      func() error
		message string
	}{
		{"create another's", func() error { _, err := leases.Create(ctx, lease("n3"), metav1.CreateOptions{}); return err },
			`leases.coordination.k8s.io "n3" is forbidden: can only access node lease with the same name as the requesting node`},
		{"renew another's", func() error { _, err := leases.Update(ctx, lease("n2"), metav1.UpdateOptions{}); return err },
			`leases.coordination.k8s.io "n2" is forbidden: User "system:node:n1" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "kube-node-lease": node: can only access node lease with the same name as the requesting node`},
		{"lease elsewhere", func() error {
			_, err := cluster.n1.CoordinationV1().Leases("default").Create(ctx, lease("n1"), metav1.CreateOptions{})
			return err
		}, `leases.coordination.k8s.io is forbidden: User "system:node:n1" cannot create resource "leases" in API group "coordination.k8s.io" in the namespace "default": node: can only access leases in the "kube-node-lease" system namespace`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { forbidden(t, tt.do(), tt.message) })
	}
}

// TestServiceAccountToken asks the authorizer through SubjectAccessReviews,
// and, where serviceaccounts/token is served, requests tokens too.
func TestServiceAccountToken(t *testing.T) {
	ctx := t.Context()
	review := func(sa string) (*authorizationv1.SubjectAccessReview, error) {
		return cluster.admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "system:node:n1", Groups: []string{"system:nodes", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "create", Resource: "serviceaccounts", Subresource: "token", Namespace: ns, Name: sa},
		}}, metav1.CreateOptions{})
	}
	eventually(t, "n1 may create a token for sa1", func() error {
		r, err := review("sa1")
		if err == nil && !r.Status.Allowed {
			err = apierrors.NewForbidden(corev1.Resource("serviceaccounts"), "sa1", nil)
		}
		return err
	})
	r, err := review("sa2")
	if err != nil {
		t.Fatal(err)
	}
	want := authorizationv1.SubjectAccessReviewStatus{Reason: "node: no relationship found between node 'n1' and this object"}
	if r.Status != want {
		t.Errorf("review for sa2: %+v, want %+v", r.Status, want)
	}

	bound := func(p *corev1.Pod) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: p.Name, UID: p.UID},
		}}
	}
	sas := cluster.n1.CoreV1().ServiceAccounts(ns)
	_, err = sas.CreateToken(ctx, "sa1", bound(cluster.p1), metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		t.Log("serviceaccounts/token is not served; the authorizer was checked through SubjectAccessReviews")
		return
	}
	if err != nil {
		t.Fatalf("token for sa1 bound to p1: %v", err)
	}
	_, err = sas.CreateToken(ctx, "sa2", bound(cluster.p2), metav1.CreateOptions{})
	forbidden(t, err, `serviceaccounts "sa2" is forbidden: User "system:node:n1" cannot create resource "serviceaccounts/token" in API group "" in the namespace "nodetest": node: no relationship found between node 'n1' and this object`)
	_, err = sas.CreateToken(ctx, "sa1", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	forbidden(t, err, `serviceaccounts "sa1" is forbidden: node requested token not bound to a pod`)
}

func TestPods(t *testing.T) {
	ctx := t.Context()
	pods := cluster.n1.CoreV1().Pods(ns)
	status := []byte(`{"status":{"message":"hello"}}`)
	eventually(t, "n1 patches the status of p1", func() error {
		_, err := pods.Patch(ctx, "p1", types.StrategicMergePatchType, status, metav1.PatchOptions{}, "status")
		return err
	})
	tests := []struct {
		name    string
		do      func() error
		message string
	}{
		{"status of p2", func() error {
			_, err := pods.Patch(ctx, "p2", types.StrategicMergePatchType, status, metav1.PatchOptions{}, "status")
			return err
		}, `pods "p2" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"eviction of p2", func() error {
			return pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "p2", Namespace: ns}})
		}, `pods "p2" is forbidden: node n1 can only evict pods with spec.nodeName set to itself`},
		{"pod not mirrored", func() error {
			_, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "m"},
				Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
			return err
		}, `pods "m" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods`},
		{"mirror pod for n2", func() error {
			_, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "m", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}},
				Spec: corev1.PodSpec{NodeName: "n2", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{})
			return err
		}, `pods "m" is forbidden: node "n1" can only create pods with spec.nodeName set to itself`},
		{"delete of p2", func() error { return pods.Delete(ctx, "p2", metav1.DeleteOptions{}) },
			`pods "p2" is forbidden: node "n1" can only delete pods with spec.nodeName set to itself`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { forbidden(t, tt.do(), tt.message) })
	}
	t.Run("mirror pod", func(t *testing.T) {
		n, err := cluster.admin.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		mirror := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "static-n1", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "n1", UID: n.UID, Controller: new(true)}}},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		eventually(t, "n1 creates its mirror pod", func() error {
			_, err := pods.Create(ctx, mirror, metav1.CreateOptions{})
			return err
		})
	})
}

func TestCSR(t *testing.T) {
	ctx := t.Context()
	csr := func(cn string) *certificatesv1.CertificateSigningRequest {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}}, key)
		if err != nil {
			t.Fatal(err)
		}
		return &certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
			Spec: certificatesv1.CertificateSigningRequestSpec{
				Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
				SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
				Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			},
		}
	}
	csrs := cluster.n1.CertificatesV1().CertificateSigningRequests()
	if _, err := csrs.Create(ctx, csr("system:node:n1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("CSR for itself: %v", err)
	}
	_, err := csrs.Create(ctx, csr("system:node:n2"), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), " is forbidden: can only create a node CSR with CN=system:node:n1") {
		t.Errorf("CSR for n2: %v", err)
	}
}

func TestKubectlAuthCanI(t *testing.T) {
	eventually(t, "the graph knows p1", func() error {
		_, err := cluster.n1.CoreV1().Secrets(ns).Get(t.Context(), "s1", metav1.GetOptions{})
		return err
	})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "secret/s1"}, "yes"},
		{[]string{"get", "secret/s2"}, "no - node: no relationship found between node 'n1' and this object"},
		{[]string{"list", "secrets"}, "no - node: No Object name found"},
		{[]string{"get", "configmap/c1"}, "yes"},
		{[]string{"create", "serviceaccounts/sa1", "--subresource=token"}, "yes"},
		{[]string{"delete", "secret/s1"}, "no - node: can only read resources of this type"},
		{[]string{"list", "services"}, "yes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"auth", "can-i", "--as", "system:node:n1", "--as-group", "system:nodes", "-n", ns}, tt.args...)
			out, _, _ := cluster.server.Kubectl(t, args...)
			if got := strings.TrimSpace(out); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
