package rbac

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

func TestConfirmNoEscalation(t *testing.T) {
	l := fakeListers(t,
		clusterRole("pods-rw", rbacv1.PolicyRule{Verbs: []string{"get", "list", "create"}, APIGroups: []string{""}, Resources: []string{"pods"}}),
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ann"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "pods-rw"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "ann"}}},
	)
	a := New(l)
	ctx := genericapirequest.WithNamespace(genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "ann", Groups: []string{"g"}}), "x")
	tests := []struct {
		name    string
		rules   []rbacv1.PolicyRule
		wantErr string
	}{
		{"held", []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}}, ""},
		{"nothing", nil, ""},
		{"missing verbs are merged", []rbacv1.PolicyRule{
			{Verbs: []string{"get", "delete", "patch"}, APIGroups: []string{""}, Resources: []string{"pods"}},
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}},
		}, "user \"ann\" (groups=[\"g\"]) is attempting to grant RBAC permissions not currently held:\n" +
			"{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"patch\"]}\n" +
			"{NonResourceURLs:[\"/metrics\"], Verbs:[\"get\"]}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.confirmNoEscalation(ctx, tt.rules)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestOnlyGCFields(t *testing.T) {
	old := clusterRole("r", rbacv1.PolicyRule{Verbs: []string{"get"}})
	gcOnly := old.DeepCopy()
	gcOnly.Finalizers = []string{"f"}
	gcOnly.OwnerReferences = []metav1.OwnerReference{{Name: "o"}}
	ruleChange := old.DeepCopy()
	ruleChange.Rules[0].Verbs = []string{"*"}
	tests := []struct {
		name string
		obj  *rbacv1.ClusterRole
		want bool
	}{
		{"finalizers and owners", gcOnly, true},
		{"rules", ruleChange, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := onlyGCFields(tt.obj, old); got != tt.want {
				t.Errorf("onlyGCFields = %v, want %v", got, tt.want)
			}
		})
	}
}
