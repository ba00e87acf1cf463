package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// The tests below run stock kubectl and client-go against one real skiff
// server. The expected outputs are those of a stock kube-apiserver 1.37 given
// the same requests (testdata holds the ones too long to inline).

var cluster struct {
	server *testserver.Server
	client kubernetes.Interface
	// admin is who the kubeconfig's client certificate names.
	admin struct {
		name   string
		groups []string
	}
}

// TestMain starts a skiff server, or with SKIFF_E2E_KUBECONFIG set attaches
// to a running API server (a stock kube-apiserver, to check the tests).
func TestMain(m *testing.M) {
	use := func(s *testserver.Server) {
		cluster.server = s
		cluster.client = must(s.Clientset())
		cfg := must(s.RESTConfig())
		certPEM := cfg.CertData
		if len(certPEM) == 0 {
			certPEM = must(os.ReadFile(cfg.CertFile))
		}
		block, _ := pem.Decode(certPEM)
		if block == nil {
			panic("the admin kubeconfig holds no client certificate")
		}
		cert := must(x509.ParseCertificate(block.Bytes))
		cluster.admin.name = cert.Subject.CommonName
		cluster.admin.groups = append(slices.Clone(cert.Subject.Organization), "system:authenticated")
	}
	if kc := os.Getenv("SKIFF_E2E_KUBECONFIG"); kc != "" {
		os.Exit(attached(m, kc, use))
	}
	os.Exit(testserver.Main(m, testserver.Options{}, use))
}

func attached(m *testing.M, kubeconfig string, use func(*testserver.Server)) int {
	dir, err := os.MkdirTemp("", "skiff-auth-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	use(must(testserver.Attach(kubeconfig, dir)))
	return m.Run()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// kubectl runs kubectl as the admin and returns stdout, stderr and the exit code.
func kubectl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	stdout, stderr, err := cluster.server.Kubectl(t, args...)
	code := 0
	if exitErr := (*exec.ExitError)(nil); errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return stdout, stderr, code
}

func TestAPIResources(t *testing.T) {
	for _, group := range []string{"authentication", "authorization"} {
		t.Run(group, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("testdata", "api-resources-"+group+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			got, stderr, code := kubectl(t, "api-resources", "-o", "wide", "--api-group="+group+".k8s.io")
			if code != 0 || got != string(want) {
				t.Errorf("api-resources (exit %d):\n%s%s\nwant:\n%s", code, got, stderr, want)
			}
		})
	}
}

func TestWhoAmI(t *testing.T) {
	out, stderr, code := kubectl(t, "auth", "whoami")
	groups := "[" + strings.Join(cluster.admin.groups, " ") + "]"
	if code != 0 || !tableLine(out, "Username", cluster.admin.name) || !tableLine(out, "Groups", groups) {
		t.Errorf("auth whoami (exit %d):\n%s%s", code, out, stderr)
	}

	out, stderr, code = kubectl(t, "auth", "whoami", "-o", "yaml")
	var review authenticationv1.SelfSubjectReview
	if code != 0 {
		t.Fatalf("auth whoami -o yaml: exit %d: %s", code, stderr)
	}
	if err := yaml.UnmarshalStrict([]byte(out), &review); err != nil {
		t.Fatalf("auth whoami -o yaml: %v\n%s", err, out)
	}
	u := review.Status.UserInfo
	if review.Kind != "SelfSubjectReview" || review.APIVersion != "authentication.k8s.io/v1" || review.CreationTimestamp.IsZero() ||
		u.Username != cluster.admin.name || !reflect.DeepEqual(u.Groups, cluster.admin.groups) ||
		len(u.Extra["authentication.kubernetes.io/credential-id"]) != 1 {
		t.Errorf("auth whoami -o yaml:\n%s", out)
	}
}

// tableLine reports whether out has a line of key, then spaces, then value
// (the value may hold single spaces, as kubectl prints lists).
func tableLine(out, key, value string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}

// hasRow reports whether out has a table row of exactly these cells.
func hasRow(out string, cells ...string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		if slices.Equal(strings.Fields(line), cells) {
			return true
		}
	}
	return false
}

func TestCanI(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		want     string
		wantCode int
	}{
		{name: "admin may create pods", args: []string{"create", "pods"}, want: "yes\n"},
		{name: "admin may read a non-resource URL", args: []string{"get", "/logs"}, want: "yes\n"},
		// Impersonating alice takes the impersonate verb, which the admin has;
		// alice herself may then ask (system:basic-user) and is told no.
		{name: "alice may not get pods", args: []string{"get", "pods", "--as=alice"}, want: "no\n", wantCode: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := kubectl(t, append([]string{"auth", "can-i"}, tc.args...)...)
			if out != tc.want || code != tc.wantCode {
				hint := ""
				if strings.Contains(stderr, `cannot create resource "selfsubjectaccessreviews"`) {
					hint = "\n(the server's authorizer does not let every authenticated user create selfsubjectaccessreviews, as upstream's system:basic-user binding does)"
				}
				t.Errorf("auth can-i %v = %q (exit %d), want %q (exit %d)\n%s%s", tc.args, out, code, tc.want, tc.wantCode, stderr, hint)
			}
		})
	}

	out, stderr, code := kubectl(t, "auth", "can-i", "--list", "-n", "default")
	if code != 0 || !strings.HasPrefix(out, "Resources ") || !hasRow(out, "*.*", "[]", "[]", "[*]") {
		t.Errorf("auth can-i --list (exit %d):\n%s%s", code, out, stderr)
	}
}

func TestSubjectAccessReview(t *testing.T) {
	ctx := context.Background()
	sars := cluster.client.AuthorizationV1().SubjectAccessReviews()
	for _, tc := range []struct {
		name string
		spec authorizationv1.SubjectAccessReviewSpec
		want authorizationv1.SubjectAccessReviewStatus
	}{
		{
			name: "alice is not allowed, nor explicitly denied",
			spec: authorizationv1.SubjectAccessReviewSpec{User: "alice",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "get", Resource: "pods"}},
			want: authorizationv1.SubjectAccessReviewStatus{},
		},
		{
			name: "system:masters may, and selectors that do not parse are reported",
			spec: authorizationv1.SubjectAccessReviewSpec{Groups: []string{"system:masters"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods",
					LabelSelector: &authorizationv1.LabelSelectorAttributes{RawSelector: "a in ("},
					FieldSelector: &authorizationv1.FieldSelectorAttributes{Requirements: []metav1.FieldSelectorRequirement{
						{Key: "a", Operator: metav1.FieldSelectorOpIn, Values: []string{"1", "2"}},
						{Key: "b", Operator: metav1.FieldSelectorOpIn, Values: []string{"1"}},
					}}}},
			want: authorizationv1.SubjectAccessReviewStatus{Allowed: true,
				EvaluationError: "spec.resourceAttributes.fieldSelector partially ignored due to parse error; spec.resourceAttributes.labelSelector ignored due to parse error"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sars.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: tc.spec}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Status, tc.want) || !reflect.DeepEqual(got.Spec, tc.spec) {
				t.Errorf("review = %+v, want status %+v and the spec echoed", got, tc.want)
			}
		})
	}
}

func TestInvalidReviews(t *testing.T) {
	ctx := context.Background()
	authz := cluster.client.AuthorizationV1()
	pods := &authorizationv1.ResourceAttributes{Namespace: "other", Verb: "get", Resource: "pods"}
	for _, tc := range []struct {
		name    string
		create  func() error
		want    string
		badReq  bool
		invalid map[string]string // field -> cause message
	}{
		{
			name: "subject access review without attributes",
			create: func() error {
				_, err := authz.SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice"}}, metav1.CreateOptions{})
				return err
			},
			want:    `.authorization.k8s.io "" is invalid: spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
			invalid: map[string]string{"spec": "Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified"},
		},
		{
			name: "self review with both kinds of attributes",
			create: func() error {
				_, err := authz.SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
					Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: pods,
						NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/x", Verb: "get"}}}, metav1.CreateOptions{})
				return err
			},
			want:    `.authorization.k8s.io "" is invalid: spec: Invalid value: {"Path":"/x","Verb":"get"}: exactly one of nonResourceAttributes or resourceAttributes must be specified`,
			invalid: map[string]string{"spec": `Invalid value: {"Path":"/x","Verb":"get"}: exactly one of nonResourceAttributes or resourceAttributes must be specified`},
		},
		{
			name: "local review about another namespace",
			create: func() error {
				_, err := authz.LocalSubjectAccessReviews("default").Create(ctx, &authorizationv1.LocalSubjectAccessReview{
					Spec: authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}}, metav1.CreateOptions{})
				return err
			},
			want:    `.authorization.k8s.io "" is invalid: spec.resourceAttributes.namespace: Invalid value: "other": must match metadata.namespace`,
			invalid: map[string]string{"spec.resourceAttributes.namespace": `Invalid value: "other": must match metadata.namespace`},
		},
		{
			name: "local review posted to another namespace than its own",
			create: func() error {
				_, err := authz.LocalSubjectAccessReviews("default").Create(ctx, &authorizationv1.LocalSubjectAccessReview{
					ObjectMeta: metav1.ObjectMeta{Namespace: "other"},
					Spec:       authorizationv1.SubjectAccessReviewSpec{User: "alice", ResourceAttributes: pods}}, metav1.CreateOptions{})
				return err
			},
			want:   "the namespace of the provided object does not match the namespace sent on the request",
			badReq: true,
		},
		{
			name: "rules review without a namespace",
			create: func() error {
				_, err := authz.SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{}, metav1.CreateOptions{})
				return err
			},
			want:   "no namespace on request",
			badReq: true,
		},
		{
			name: "token review without a token",
			create: func() error {
				_, err := cluster.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{}, metav1.CreateOptions{})
				return err
			},
			want:   "token is required for TokenReview in authentication",
			badReq: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.create()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if tc.badReq {
				if !apierrors.IsBadRequest(err) {
					t.Errorf("error %v is not a BadRequest", err)
				}
				return
			}
			var status *apierrors.StatusError
			if !errors.As(err, &status) || !apierrors.IsInvalid(err) || status.ErrStatus.Details == nil {
				t.Fatalf("error %#v is not an Invalid with details", err)
			}
			d := status.ErrStatus.Details
			causes := map[string]string{}
			for _, c := range d.Causes {
				causes[c.Field] = c.Message
			}
			if d.Group != "authorization.k8s.io" || d.Kind != "" || d.Name != "" || !reflect.DeepEqual(causes, tc.invalid) {
				t.Errorf("details = %+v, want group authorization.k8s.io, no kind or name, causes %v", d, tc.invalid)
			}
		})
	}

	// kubectl prints the same rules a person reads.
	r := cluster.server.KubectlWith(t, testserver.KubectlOptions{Stdin: `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{}}`},
		"create", "-f", "-")
	want := "The request is invalid: \n" +
		"* spec: Invalid value: null: exactly one of nonResourceAttributes or resourceAttributes must be specified\n" +
		"* spec.user: Invalid value: \"\": at least one of user or group must be specified\n"
	if r.Err == nil || !strings.HasSuffix(r.Stderr, want) {
		t.Errorf("kubectl create of an empty SubjectAccessReview (err %v) printed:\n%s\nwant it to end with:\n%s", r.Err, r.Stderr, want)
	}
}

func TestTokenReview(t *testing.T) {
	ctx := context.Background()
	got, err := cluster.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: "garbage"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}
	if !reflect.DeepEqual(got.Status, want) {
		t.Errorf("status = %+v, want %+v", got.Status, want)
	}
}
