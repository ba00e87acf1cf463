package bootstrapsigner_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"

	"github.com/skiff-dev/skiff/controllers/bootstrapsigner"
	"github.com/skiff-dev/skiff/internal/testserver"
)

// skiffToken runs `skiff token ARGS...` against s and returns its output.
func skiffToken(t *testing.T, s *testserver.Server, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), s.Binary(), append([]string{"token"}, append(args, "--kubeconfig", s.KubeconfigPath)...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("skiff token %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// TestServer is kubeadm's token discovery against skiff: cluster-info
// exists from the start, names the server and its CA, and carries a
// signature for each signing token, which checks out with the token alone,
// and for no other.
func TestServer(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	admin, err := s.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(s.DataDir(), "server", "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		t.Fatal(err)
	}
	// kubeadm's grant lets a joining node, with no credentials yet, read
	// cluster-info. (skiff's anonymous authenticator admits only the health
	// and version paths, so that grant takes effect only where an
	// administrator admits anonymous callers to this path too.)
	sar, err := client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "system:anonymous", Groups: []string{"system:unauthenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "configmaps", Namespace: metav1.NamespacePublic, Name: bootstrapapi.ConfigMapClusterInfo},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !sar.Status.Allowed {
		t.Errorf("system:anonymous may not read cluster-info: %+v", sar.Status)
	}

	signing := skiffToken(t, s, "create")
	authOnly := skiffToken(t, s, "create", "--usages", "authentication")
	signingID, signingSecret, ok := strings.Cut(signing, ".")
	if !ok {
		t.Fatalf("skiff token create printed %q", signing)
	}
	authOnlyID, _, _ := strings.Cut(authOnly, ".")

	var cm *corev1.ConfigMap
	signed := func(ctx context.Context) (bool, error) {
		cm, err = client.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+signingID]
		return ok, nil
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, signed); err != nil {
		t.Fatalf("waiting for cluster-info signed by %s: %v; last seen %+v", signingID, err, cm)
	}
	content := cm.Data[bootstrapapi.KubeConfigKey]
	if !bootstrapsigner.DetachedTokenIsValid(cm.Data[bootstrapapi.JWSSignatureKeyPrefix+signingID], content, signingID, signingSecret) {
		t.Errorf("the signature of %s does not verify", signingID)
	}
	if _, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+authOnlyID]; ok {
		t.Errorf("signed with %s, a token not marked for signing", authOnlyID)
	}
	kc, err := clientcmd.Load([]byte(content))
	if err != nil {
		t.Fatal(err)
	}
	if len(kc.Clusters) != 1 {
		t.Fatalf("cluster-info names %d clusters, want 1", len(kc.Clusters))
	}
	for _, c := range kc.Clusters {
		if !bytes.Equal(c.CertificateAuthorityData, caPEM) || !strings.HasPrefix(c.Server, "https://") {
			t.Errorf("cluster-info cluster: server %q, CA matches %v", c.Server, bytes.Equal(c.CertificateAuthorityData, caPEM))
		}
	}

	skiffToken(t, s, "delete", signingID)
	unsigned := func(ctx context.Context) (bool, error) {
		cm, err = client.CoreV1().ConfigMaps(metav1.NamespacePublic).Get(ctx, bootstrapapi.ConfigMapClusterInfo, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+signingID]
		return !ok, nil
	}
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, unsigned); err != nil {
		t.Fatalf("waiting for the signature of deleted token %s to go: %v", signingID, err)
	}
}
