package rbac_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// These tests run stock kubectl and client-go against one real skiff server;
// the expectations are what a stock kube-apiserver 1.37 answers.

var cluster struct {
	server *testserver.Server
	client kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{}, func(s *testserver.Server) {
		cluster.server = s
		c, err := s.Clientset()
		if err != nil {
			panic(err)
		}
		cluster.client = c
	}))
}

// setupAlice makes namespace x with alice bound to view in it, and waits
// until the binding is in force.
func setupAlice(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	c := cluster.client
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-view", Namespace: "x"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
	}
	if _, err := c.RbacV1().RoleBindings("x").Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitCanI(t, "yes", "list", "pods", "-n", "x", "--as", "alice")
}

// waitCanI waits for the authorizer's informers to catch up with a change.
func waitCanI(t *testing.T, want string, args ...string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, _, _ := cluster.server.Kubectl(t, append([]string{"auth", "can-i"}, args...)...)
		last = strings.TrimSpace(out)
		return last == want, nil
	})
	if err != nil {
		t.Fatalf("kubectl auth can-i %v: %q, want %q", args, last, want)
	}
}

func TestViewRoleBinding(t *testing.T) {
	setupAlice(t)
	out, stderr, err := cluster.server.Kubectl(t, "get", "pods", "-n", "x", "--as", "alice")
	if err != nil {
		t.Fatalf("alice cannot list pods: %v\n%s%s", err, out, stderr)
	}
	_, stderr, err = cluster.server.Kubectl(t, "run", "p", "--image=nginx", "-n", "x", "--as", "alice")
	want := `Error from server (Forbidden): pods is forbidden: User "alice" cannot create resource "pods" in API group "" in the namespace "x"`
	if err == nil || strings.TrimSpace(stderr) != want {
		t.Errorf("kubectl run as alice: %v\n%s\nwant %s", err, stderr, want)
	}
}

func TestCanIMatrix(t *testing.T) {
	setupAlice(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods", "-n", "x", "--as", "alice"}, "yes"},
		{[]string{"get", "deployments.apps", "-n", "x", "--as", "alice"}, "yes"},
		{[]string{"create", "pods", "-n", "x", "--as", "alice"}, "no"},
		{[]string{"get", "secrets", "-n", "x", "--as", "alice"}, "no"},
		{[]string{"list", "pods", "-n", "y", "--as", "alice"}, "no"},
		{[]string{"list", "pods", "-A", "--as", "alice"}, "no"},
		{[]string{"get", "/api", "--as", "alice"}, "yes"},
		{[]string{"get", "/metrics", "--as", "alice"}, "no"},
		{[]string{"list", "pods", "-n", "x", "--as", "alice", "--as-group", "devs"}, "yes"},
		{[]string{"create", "pods", "-n", "x", "--as", "bob", "--as-group", "system:masters"}, "yes"},
		{[]string{"list", "pods", "-n", "x", "--as", "bob", "--as-group", "system:authenticated"}, "no"},
		{[]string{"get", "/healthz", "--as", "bob", "--as-group", "system:authenticated"}, "yes"},
		// Anonymous callers may not even ask: system:basic-user is bound
		// to system:authenticated only.
		{[]string{"get", "/version", "--as", "system:anonymous", "--as-group", "system:unauthenticated"},
			`Error from server (Forbidden): selfsubjectaccessreviews.authorization.k8s.io is forbidden: User "system:anonymous" cannot create resource "selfsubjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope`},
		{[]string{"get", "nodes", "--as", "system:kube-scheduler"}, "yes"},
		{[]string{"create", "tokenreviews.authentication.k8s.io", "--as", "system:kube-controller-manager"}, "yes"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, stderr, _ := cluster.server.Kubectl(t, append([]string{"auth", "can-i"}, tt.args...)...)
			// Without an answer, the reason kubectl could not ask is it.
			got := strings.TrimSpace(out)
			if got == "" {
				got = strings.TrimSpace(stderr)
			}
			if got != tt.want {
				t.Errorf("kubectl auth can-i %v = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

func TestDefaultClusterRoles(t *testing.T) {
	out, stderr, err := cluster.server.Kubectl(t, "get", "clusterroles", "-o", "name")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	names := strings.Fields(out)
	for _, want := range []string{"cluster-admin", "admin", "edit", "view", "system:discovery", "system:controller:namespace-controller"} {
		if !slices.Contains(names, "clusterrole.rbac.authorization.k8s.io/"+want) {
			t.Errorf("clusterrole %s missing from %v", want, names)
		}
	}
}

// TestAggregation checks that admin, edit and view take up the rules of a
// new role labeled for them, as upstream's aggregation controller does.
func TestAggregation(t *testing.T) {
	ctx := t.Context()
	rule := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}
	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules:      []rbacv1.PolicyRule{rule},
	}
	if _, err := cluster.client.RbacV1().ClusterRoles().Create(ctx, cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"view", "edit", "admin"} {
		t.Run(name, func(t *testing.T) {
			err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				r, err := cluster.client.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return slices.ContainsFunc(r.Rules, func(r rbacv1.PolicyRule) bool { return fmt.Sprint(r) == fmt.Sprint(rule) }), nil
			})
			if err != nil {
				t.Errorf("%s did not aggregate widgets-view: %v", name, err)
			}
		})
	}
}

// TestReconcileOnRestart: a restart restores deleted defaults and missing
// rules, except on roles annotated autoupdate=false.
func TestReconcileOnRestart(t *testing.T) {
	ctx := t.Context()
	crs := cluster.client.RbacV1().ClusterRoles()
	if err := cluster.client.RbacV1().ClusterRoleBindings().Delete(ctx, "system:basic-user", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	strip := func(name string, autoupdate string) {
		r, err := crs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Annotations[rbacv1.AutoUpdateAnnotationKey] = autoupdate
		r.Rules = r.Rules[:1]
		if _, err := crs.Update(ctx, r, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	strip("system:node-proxier", "true")
	strip("system:heapster", "false")
	if err := cluster.server.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := cluster.server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	cluster.client = c
	if _, err := c.RbacV1().ClusterRoleBindings().Get(ctx, "system:basic-user", metav1.GetOptions{}); err != nil {
		t.Errorf("system:basic-user binding not restored: %v", err)
	}
	tests := []struct {
		name      string
		wantRules int
	}{
		// Reconciliation adds the missing rules back one verb and
		// resource at a time, as upstream's does.
		{"system:node-proxier", 14},
		{"system:heapster", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.RbacV1().ClusterRoles().Get(ctx, tt.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Rules) != tt.wantRules {
				t.Errorf("%d rules, want %d: %v", len(r.Rules), tt.wantRules, r.Rules)
			}
		})
	}
}

// TestAnonymous asks, as the admin, what anonymous callers may do: only the
// public-info-viewer paths.
func TestAnonymous(t *testing.T) {
	tests := []struct {
		path        string
		wantAllowed bool
		wantReason  string
	}{
		{"/version", true, `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`},
		{"/healthz", true, `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`},
		{"/api", false, ""},
		{"/apis/apps", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: "system:anonymous", Groups: []string{"system:unauthenticated"},
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: tt.path, Verb: "get"},
			}}
			got, err := cluster.client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), sar, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Allowed != tt.wantAllowed || got.Status.Reason != tt.wantReason {
				t.Errorf("status = %+v, want allowed %v reason %q", got.Status, tt.wantAllowed, tt.wantReason)
			}
		})
	}
}

// TestEscalation: a user who may write roles and bindings still may not
// grant what they do not hold, as upstream's policybased storage enforces.
func TestEscalation(t *testing.T) {
	ctx := t.Context()
	c := cluster.client
	ns := "escalation"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	writer := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "rbac-writer", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"create", "update", "get"}, APIGroups: []string{rbacv1.GroupName},
			Resources: []string{"roles", "rolebindings"}}},
	}
	if _, err := c.RbacV1().Roles(ns).Create(ctx, writer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, rb := range []*rbacv1.RoleBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "erin-writer", Namespace: ns}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "rbac-writer"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "erin"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "erin-view", Namespace: ns}, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "erin"}}},
	} {
		if _, err := c.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitCanI(t, "yes", "create", "rolebindings.rbac.authorization.k8s.io", "-n", ns, "--as", "erin")
	waitCanI(t, "yes", "list", "pods", "-n", ns, "--as", "erin")

	denied := `user "erin" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:`
	tests := []struct {
		name       string
		args       []string
		wantErrHas []string // empty: must succeed
	}{
		{"role within own rights", []string{"create", "role", "pod-reader", "--verb=get,list", "--resource=pods"}, nil},
		{"role beyond own rights", []string{"create", "role", "pod-writer", "--verb=get,create", "--resource=pods"},
			[]string{`roles.rbac.authorization.k8s.io "pod-writer" is forbidden: ` + denied, `{APIGroups:[""], Resources:["pods"], Verbs:["create"]}`}},
		{"binding to a held role", []string{"create", "rolebinding", "frank-view", "--clusterrole=view", "--user=frank"}, nil},
		{"binding to a role not held", []string{"create", "rolebinding", "frank-edit", "--clusterrole=edit", "--user=frank"},
			[]string{`rolebindings.rbac.authorization.k8s.io "frank-edit" is forbidden: ` + denied, `{APIGroups:["apps"], Resources:["deployments"], Verbs:["create" "delete" "deletecollection" "patch" "update"]}`}},
		{"binding to a missing role", []string{"create", "rolebinding", "frank-nope", "--clusterrole=nope", "--user=frank"},
			[]string{`rolebindings.rbac.authorization.k8s.io "nope" not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := cluster.server.Kubectl(t, append(tt.args, "-n", ns, "--as", "erin")...)
			if len(tt.wantErrHas) == 0 {
				if err != nil {
					t.Fatalf("%v: %s%s", err, out, stderr)
				}
				return
			}
			if err == nil {
				t.Fatalf("succeeded: %s", out)
			}
			for _, want := range tt.wantErrHas {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}
