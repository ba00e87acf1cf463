package rbac

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// nodeRole is the bootstrap ClusterRole holding upstream's NodeRules(): what
// every node may do beyond the objects the Node authorizer relates to it.
const nodeRole = "system:node"

// NodeRules returns the rules of the system:node bootstrap ClusterRole,
// which the Node authorizer applies to all nodes alike, as kube-apiserver
// does with bootstrappolicy.NodeRules().
func NodeRules() ([]rbacv1.PolicyRule, error) {
	p, err := DefaultPolicy()
	if err != nil {
		return nil, err
	}
	for _, r := range p.ClusterRoles {
		if r.Name == nodeRole {
			return r.Rules, nil
		}
	}
	return nil, fmt.Errorf("bootstrap policy has no ClusterRole %s", nodeRole)
}

// RulesAllow reports whether any of rules grants the request.
func RulesAllow(a authorizer.Attributes, rules ...rbacv1.PolicyRule) bool {
	for i := range rules {
		if ruleAllows(a, &rules[i]) {
			return true
		}
	}
	return false
}
