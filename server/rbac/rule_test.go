package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

// fakeListers serves objs from indexers, as informers would.
func fakeListers(t *testing.T, objs ...any) *Listers {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	roles, rbs, crs, crbs := idx(), idx(), idx(), idx()
	for _, o := range objs {
		var err error
		switch o.(type) {
		case *rbacv1.Role:
			err = roles.Add(o)
		case *rbacv1.RoleBinding:
			err = rbs.Add(o)
		case *rbacv1.ClusterRole:
			err = crs.Add(o)
		case *rbacv1.ClusterRoleBinding:
			err = crbs.Add(o)
		default:
			t.Fatalf("unexpected object %T", o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &Listers{
		Roles:               rbaclisters.NewRoleLister(roles),
		RoleBindings:        rbaclisters.NewRoleBindingLister(rbs),
		ClusterRoles:        rbaclisters.NewClusterRoleLister(crs),
		ClusterRoleBindings: rbaclisters.NewClusterRoleBindingLister(crbs),
	}
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func TestRuleAllows(t *testing.T) {
	tests := []struct {
		name  string
		rule  rbacv1.PolicyRule
		attrs authorizer.AttributesRecord
		want  bool
	}{
		{"exact", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", ResourceRequest: true}, true},
		{"other verb", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			authorizer.AttributesRecord{Verb: "list", Resource: "pods", ResourceRequest: true}, false},
		{"other group", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"pods"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", ResourceRequest: true}, false},
		{"wildcards", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			authorizer.AttributesRecord{Verb: "delete", APIGroup: "apps", Resource: "deployments", Subresource: "scale", ResourceRequest: true}, true},
		{"resource without subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", Subresource: "log", ResourceRequest: true}, false},
		{"subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", Subresource: "log", ResourceRequest: true}, true},
		{"star subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"*/status"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", Subresource: "status", ResourceRequest: true}, true},
		{"star subresource needs subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"*/status"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "pods", ResourceRequest: true}, false},
		{"resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}},
			authorizer.AttributesRecord{Verb: "get", Resource: "configmaps", Name: "a", ResourceRequest: true}, true},
		{"other resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}},
			authorizer.AttributesRecord{Verb: "list", Resource: "configmaps", ResourceRequest: true}, false},
		{"non-resource exact", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
			authorizer.AttributesRecord{Verb: "get", Path: "/healthz"}, true},
		{"non-resource prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}},
			authorizer.AttributesRecord{Verb: "get", Path: "/apis/apps/v1"}, true},
		{"non-resource no prefix match", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api"}},
			authorizer.AttributesRecord{Verb: "get", Path: "/api/v1"}, false},
		{"resource rule does not grant paths", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			authorizer.AttributesRecord{Verb: "get", Path: "/metrics"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ruleAllows(tt.attrs, &tt.rule); got != tt.want {
				t.Errorf("ruleAllows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	podReader := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	l := fakeListers(t,
		clusterRole("pod-reader", podReader),
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "cm-writer"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"configmaps"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "alice-read"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "x", Name: "sa-cm"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cm-writer"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "builder"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "devs-read"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "devs"}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "dangling"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "missing"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "carol"}}},
	)
	a := New(l)
	alice := &user.DefaultInfo{Name: "alice"}
	tests := []struct {
		name       string
		attrs      authorizer.AttributesRecord
		want       authorizer.Decision
		wantReason string
	}{
		{"role binding grants in its namespace",
			authorizer.AttributesRecord{User: alice, Verb: "list", Namespace: "x", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionAllow, `RBAC: allowed by RoleBinding "alice-read/x" of ClusterRole "pod-reader" to User "alice"`},
		{"role binding does not grant elsewhere",
			authorizer.AttributesRecord{User: alice, Verb: "list", Namespace: "y", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionNoOpinion, ""},
		{"role binding does not grant cluster-wide",
			authorizer.AttributesRecord{User: alice, Verb: "list", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionNoOpinion, ""},
		{"verb not granted",
			authorizer.AttributesRecord{User: alice, Verb: "create", Namespace: "x", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionNoOpinion, ""},
		{"group through cluster role binding",
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "dave", Groups: []string{"devs"}}, Verb: "get", Namespace: "z", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionAllow, `RBAC: allowed by ClusterRoleBinding "devs-read" of ClusterRole "pod-reader" to Group "devs"`},
		{"service account defaults to the binding's namespace",
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "system:serviceaccount:x:builder"}, Verb: "create", Namespace: "x", Resource: "configmaps", ResourceRequest: true},
			authorizer.DecisionAllow, `RBAC: allowed by RoleBinding "sa-cm/x" of Role "cm-writer" to ServiceAccount "builder/x"`},
		{"service account of another namespace",
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "system:serviceaccount:y:builder"}, Verb: "create", Namespace: "x", Resource: "configmaps", ResourceRequest: true},
			authorizer.DecisionNoOpinion, ""},
		{"missing role is the reason",
			authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "carol"}, Verb: "get", Namespace: "x", Resource: "pods", ResourceRequest: true},
			authorizer.DecisionNoOpinion, `RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := a.Authorize(context.Background(), tt.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || reason != tt.wantReason {
				t.Errorf("Authorize = %v %q, want %v %q", got, reason, tt.want, tt.wantReason)
			}
		})
	}

	t.Run("rules for", func(t *testing.T) {
		res, nonRes, incomplete, err := a.RulesFor(context.Background(), alice, "x")
		if err != nil || incomplete || len(nonRes) != 0 || len(res) != 1 {
			t.Fatalf("RulesFor = %v, %v, %v, %v", res, nonRes, incomplete, err)
		}
		if got := res[0].GetResources(); len(got) != 1 || got[0] != "pods" {
			t.Errorf("resources = %v", got)
		}
	})
	t.Run("waiting for listers", func(t *testing.T) {
		got, _, err := New(nil).Authorize(context.Background(), authorizer.AttributesRecord{User: alice, Verb: "get", Path: "/"})
		if got != authorizer.DecisionNoOpinion || err != nil {
			t.Errorf("Authorize = %v, %v", got, err)
		}
	})
}

func TestAggregateRules(t *testing.T) {
	read := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	write := rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	labeled := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		r := clusterRole(name, rules...)
		r.Labels = map[string]string{"agg": "true"}
		return r
	}
	owner := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "owner", Labels: map[string]string{"agg": "true"}},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"agg": "true"}}}},
		Rules:           []rbacv1.PolicyRule{write}}
	l := fakeListers(t, owner, labeled("b", write, read), labeled("a", read), clusterRole("unlabeled", rbacv1.PolicyRule{Verbs: []string{"*"}}))
	got, err := aggregateRules(l.ClusterRoles, owner)
	if err != nil {
		t.Fatal(err)
	}
	// Name order puts a's read first; the owner's own rules do not count.
	if len(got) != 2 || got[0].Verbs[0] != "get" || got[1].Verbs[0] != "create" {
		t.Errorf("aggregateRules = %v", got)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	crs := map[string]*rbacv1.ClusterRole{}
	for i := range p.ClusterRoles {
		crs[p.ClusterRoles[i].Name] = &p.ClusterRoles[i]
	}
	for _, name := range []string{"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery", "system:public-info-viewer", "system:node", "system:controller:namespace-controller"} {
		t.Run(name, func(t *testing.T) {
			r, ok := crs[name]
			if !ok {
				t.Fatal("missing")
			}
			if r.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
				t.Errorf("annotations = %v", r.Annotations)
			}
			if r.AggregationRule == nil && len(r.Rules) == 0 {
				t.Error("no rules")
			}
		})
	}
	if len(p.ClusterRoleBindings) == 0 || len(p.Roles) == 0 || len(p.RoleBindings) == 0 {
		t.Errorf("policy has %d cluster role bindings, %d roles, %d role bindings", len(p.ClusterRoleBindings), len(p.Roles), len(p.RoleBindings))
	}
}
