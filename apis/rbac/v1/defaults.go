package v1

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

func SetDefaults_ClusterRoleBinding(obj *rbacv1.ClusterRoleBinding) {
	if obj.RoleRef.APIGroup == "" {
		obj.RoleRef.APIGroup = rbacv1.GroupName
	}
}

func SetDefaults_RoleBinding(obj *rbacv1.RoleBinding) {
	if obj.RoleRef.APIGroup == "" {
		obj.RoleRef.APIGroup = rbacv1.GroupName
	}
}

// SetDefaults_Subject fills the API group of users and groups, which are
// RBAC's own kinds; service accounts belong to the core group, whose name is
// empty. Subjects of other kinds are left for validation to reject.
func SetDefaults_Subject(obj *rbacv1.Subject) {
	if obj.APIGroup != "" {
		return
	}
	switch obj.Kind {
	case rbacv1.UserKind, rbacv1.GroupKind:
		obj.APIGroup = rbacv1.GroupName
	}
}
