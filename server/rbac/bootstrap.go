package rbac

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"sigs.k8s.io/yaml"
)

// policyYAML is Kubernetes 1.37's bootstrap policy as a stock kube-apiserver
// creates it, so that names and rules are upstream's exactly. It was taken
// from that server's roles, cluster roles and their bindings labeled
// kubernetes.io/bootstrapping=rbac-defaults, keeping name, namespace, labels,
// annotations, rules (none for aggregated roles, which the Aggregator
// fills), aggregationRule, roleRef and subjects.
//
//go:embed policy.yaml
var policyYAML []byte

// Policy is the default set of roles and bindings.
type Policy struct {
	ClusterRoles        []rbacv1.ClusterRole
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
	Roles               []rbacv1.Role
	RoleBindings        []rbacv1.RoleBinding
}

// DefaultPolicy decodes the bootstrap policy.
func DefaultPolicy() (*Policy, error) {
	p := &Policy{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(policyYAML)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return p, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading bootstrap policy: %w", err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("decoding bootstrap policy: %w", err)
		}
		switch tm.Kind {
		case "":
			continue
		case "ClusterRole":
			var o rbacv1.ClusterRole
			err = yaml.UnmarshalStrict(doc, &o)
			p.ClusterRoles = append(p.ClusterRoles, o)
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			err = yaml.UnmarshalStrict(doc, &o)
			p.ClusterRoleBindings = append(p.ClusterRoleBindings, o)
		case "Role":
			var o rbacv1.Role
			err = yaml.UnmarshalStrict(doc, &o)
			p.Roles = append(p.Roles, o)
		case "RoleBinding":
			var o rbacv1.RoleBinding
			err = yaml.UnmarshalStrict(doc, &o)
			p.RoleBindings = append(p.RoleBindings, o)
		default:
			err = fmt.Errorf("unexpected kind %q", tm.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("decoding bootstrap policy: %w", err)
		}
	}
}

// Reconcile creates the default roles and bindings that are missing and adds
// missing rules and subjects to the rest, leaving alone those annotated
// rbac.authorization.kubernetes.io/autoupdate=false, as upstream does at
// every start. It retries for up to 30 seconds while the API settles.
func Reconcile(ctx context.Context, client kubernetes.Interface, p *Policy) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		last = reconcileOnce(client, p)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("reconciling bootstrap RBAC policy: %w", last)
	}
	return err
}

func reconcileOnce(client kubernetes.Interface, p *Policy) error {
	rbac := client.RbacV1()
	for i := range p.ClusterRoles {
		opts := reconciliation.ReconcileRoleOptions{
			Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: p.ClusterRoles[i].DeepCopy()},
			Client:  reconciliation.ClusterRoleModifier{Client: rbac.ClusterRoles()},
			Confirm: true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("clusterrole %s: %w", p.ClusterRoles[i].Name, err)
		}
	}
	for i := range p.ClusterRoleBindings {
		opts := reconciliation.ReconcileRoleBindingOptions{
			RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: p.ClusterRoleBindings[i].DeepCopy()},
			Client:      reconciliation.ClusterRoleBindingClientAdapter{Client: rbac.ClusterRoleBindings()},
			Confirm:     true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("clusterrolebinding %s: %w", p.ClusterRoleBindings[i].Name, err)
		}
	}
	for i := range p.Roles {
		opts := reconciliation.ReconcileRoleOptions{
			Role:    reconciliation.RoleRuleOwner{Role: p.Roles[i].DeepCopy()},
			Client:  reconciliation.RoleModifier{Client: rbac, NamespaceClient: client.CoreV1().Namespaces()},
			Confirm: true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("role %s/%s: %w", p.Roles[i].Namespace, p.Roles[i].Name, err)
		}
	}
	for i := range p.RoleBindings {
		opts := reconciliation.ReconcileRoleBindingOptions{
			RoleBinding: reconciliation.RoleBindingAdapter{RoleBinding: p.RoleBindings[i].DeepCopy()},
			Client:      reconciliation.RoleBindingClientAdapter{Client: rbac, NamespaceClient: client.CoreV1().Namespaces()},
			Confirm:     true,
		}
		if _, err := opts.Run(); err != nil {
			return fmt.Errorf("rolebinding %s/%s: %w", p.RoleBindings[i].Namespace, p.RoleBindings[i].Name, err)
		}
	}
	return nil
}
