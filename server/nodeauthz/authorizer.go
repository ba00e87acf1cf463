// Package nodeauthz is the Node authorizer: what kubelets, users named
// system:node:<name> in group system:nodes, may do. Objects a kubelet reads
// for its pods (secrets, config maps, volumes, claims, service account
// tokens) are granted only when a pod bound to that node references them;
// everything else follows the system:node rules for all nodes alike, and
// the NodeRestriction admission plugin narrows writes to the node's own
// objects. Decisions and reasons are kube-apiserver 1.37's.
package nodeauthz

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"

	"github.com/skiff-dev/skiff/server/rbac"
)

const userPrefix = "system:node:"

// NodeIdentity returns the node a user is, and whether it is a node at all:
// a name system:node:<name> in group system:nodes. A node whose name is
// empty cannot be matched to any Node.
func NodeIdentity(u user.Info) (string, bool) {
	if u == nil || !strings.HasPrefix(u.GetName(), userPrefix) {
		return "", false
	}
	for _, g := range u.GetGroups() {
		if g == user.NodesGroup {
			return strings.TrimPrefix(u.GetName(), userPrefix), true
		}
	}
	return "", false
}

// Authorizer is the Node authorizer. It has no opinion on requests from
// anyone but nodes, nor on what it does not grant a node, so that RBAC
// after it still may.
//
// The server configures authorization before its informer factory exists,
// so the informers are supplied later with Use; until then it relates no
// object to any node.
type Authorizer struct {
	graph *graph
	rules []rbacv1.PolicyRule
}

var (
	_ authorizer.Authorizer   = (*Authorizer)(nil)
	_ authorizer.RuleResolver = (*Authorizer)(nil)
)

// New returns a Node authorizer applying rules (upstream's NodeRules) to
// the requests it does not decide from the graph.
func New(rules []rbacv1.PolicyRule) *Authorizer {
	return &Authorizer{graph: newGraph(), rules: rules}
}

// Use feeds the authorizer from the pod, PV, VolumeAttachment,
// ResourceSlice and PodCertificateRequest informers of f. Call it before f
// is started, so that those informers are started too.
func (a *Authorizer) Use(f informers.SharedInformerFactory) error {
	if err := a.graph.watch(f); err != nil {
		return fmt.Errorf("node authorizer: %w", err)
	}
	return nil
}

var (
	secrets                = schema.GroupResource{Resource: "secrets"}
	configMaps             = schema.GroupResource{Resource: "configmaps"}
	pods                   = schema.GroupResource{Resource: "pods"}
	nodes                  = schema.GroupResource{Resource: "nodes"}
	pvcs                   = schema.GroupResource{Resource: "persistentvolumeclaims"}
	pvs                    = schema.GroupResource{Resource: "persistentvolumes"}
	serviceAccounts        = schema.GroupResource{Resource: "serviceaccounts"}
	resourceSlices         = schema.GroupResource{Group: "resource.k8s.io", Resource: "resourceslices"}
	resourceClaims         = schema.GroupResource{Group: "resource.k8s.io", Resource: "resourceclaims"}
	volumeAttachments      = schema.GroupResource{Group: "storage.k8s.io", Resource: "volumeattachments"}
	csiNodes               = schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}
	leases                 = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	podCertificateRequests = schema.GroupResource{Group: "certificates.k8s.io", Resource: "podcertificaterequests"}
)

// Feature gates of kube-apiserver 1.37 that change the Node authorizer,
// at their defaults: PodCertificateRequest is GA (on),
// KubeletServiceAccountTokenForCredentialProviders beta (on), CSIVolumeHealth
// alpha (off). AuthorizeNodeWithSelectors is GA and gone as a gate.
const (
	podCertificateRequestsEnabled = true
	serviceAccountGetEnabled      = true
	csiVolumeHealthEnabled        = false
)

func (a *Authorizer) RulesFor(_ context.Context, u user.Info, _ string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	if _, isNode := NodeIdentity(u); isNode {
		// Nodes' permissions depend on the graph, so they cannot be listed.
		return nil, nil, true, errors.New("node authorizer does not support user rule resolution")
	}
	return nil, nil, false, nil
}

func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

func (a *Authorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	node, isNode := NodeIdentity(attrs.GetUser())
	if !isNode {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if node == "" {
		klog.V(2).InfoS("NODE DENY: unknown node", "user", attrs.GetUser().GetName())
		return authorizer.DecisionNoOpinion, fmt.Sprintf("unknown node for user %q", attrs.GetUser().GetName()), nil
	}
	if attrs.IsResourceRequest() {
		switch (schema.GroupResource{Group: attrs.GetAPIGroup(), Resource: attrs.GetResource()}) {
		case secrets:
			return a.readNamespaced(node, secretType, attrs)
		case configMaps:
			return a.readNamespaced(node, configMapType, attrs)
		case pvcs:
			if attrs.GetSubresource() == "status" {
				return a.statusUpdate(node, pvcType, attrs)
			}
			return a.get(node, pvcType, attrs)
		case pvs:
			return a.get(node, pvType, attrs)
		case resourceClaims:
			return a.get(node, resourceClaimType, attrs)
		case volumeAttachments:
			return a.get(node, attachmentType, attrs)
		case serviceAccounts:
			return a.serviceAccount(node, attrs)
		case leases:
			return lease(node, attrs)
		case csiNodes:
			return csiNode(node, attrs)
		case resourceSlices:
			return a.resourceSlice(node, attrs)
		case nodes:
			return nodeObject(node, attrs)
		case pods:
			return a.pod(node, attrs)
		case podCertificateRequests:
			if podCertificateRequestsEnabled {
				return a.podCertificateRequest(node, attrs)
			}
			return authorizer.DecisionNoOpinion, "", nil
		}
	}
	if rbac.RulesAllow(attrs, a.rules...) {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func deny(node string, attrs authorizer.Attributes, reason string) (authorizer.Decision, string, error) {
	klog.V(2).InfoS("NODE DENY", "node", node, "verb", attrs.GetVerb(), "resource", attrs.GetResource(),
		"subresource", attrs.GetSubresource(), "namespace", attrs.GetNamespace(), "name", attrs.GetName(), "reason", reason)
	return authorizer.DecisionNoOpinion, reason, nil
}

func allow() (authorizer.Decision, string, error) {
	return authorizer.DecisionAllow, "", nil
}

// statusUpdate grants updates of the status of objects related to node.
func (a *Authorizer) statusUpdate(node string, typ objectType, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	switch attrs.GetVerb() {
	case "update", "patch":
	default:
		return deny(node, attrs, "can only get/update/patch this type")
	}
	if attrs.GetSubresource() != "status" {
		return deny(node, attrs, "can only update status subresource")
	}
	return a.related(node, typ, attrs)
}

// get grants gets of single objects related to node.
func (a *Authorizer) get(node string, typ objectType, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetVerb() != "get" {
		return deny(node, attrs, "can only get individual resources of this type")
	}
	if attrs.GetSubresource() != "" {
		return deny(node, attrs, "cannot get subresource")
	}
	return a.related(node, typ, attrs)
}

// readNamespaced grants get, list and watch of a single namespaced object
// related to node (a list or watch names it through a metadata.name field
// selector).
func (a *Authorizer) readNamespaced(node string, typ objectType, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	switch attrs.GetVerb() {
	case "get", "list", "watch":
	default:
		return deny(node, attrs, "can only read resources of this type")
	}
	if attrs.GetSubresource() != "" {
		return deny(node, attrs, "cannot read subresource")
	}
	if attrs.GetNamespace() == "" {
		return deny(node, attrs, "can only read namespaced object of this type")
	}
	return a.related(node, typ, attrs)
}

func (a *Authorizer) related(node string, typ objectType, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetName() == "" {
		return deny(node, attrs, "No Object name found")
	}
	if !a.graph.related(node, typ, attrs.GetNamespace(), attrs.GetName()) {
		return deny(node, attrs, fmt.Sprintf("no relationship found between node '%s' and this object", node))
	}
	return allow()
}

// serviceAccount grants tokens for, and gets of, the service accounts of
// the node's pods.
func (a *Authorizer) serviceAccount(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetVerb() == "get" && attrs.GetSubresource() == "" {
		if !serviceAccountGetEnabled && !podCertificateRequestsEnabled {
			return deny(node, attrs, "not allowed to get service accounts")
		}
		return a.readNamespaced(node, serviceAccountType, attrs)
	}
	if attrs.GetVerb() != "create" || attrs.GetName() == "" {
		return deny(node, attrs, "can only create tokens for individual service accounts")
	}
	if attrs.GetSubresource() != "token" {
		return deny(node, attrs, "can only create token subresource of serviceaccount")
	}
	return a.related(node, serviceAccountType, attrs)
}

// lease grants a node its own heartbeat lease. Creates are not checked by
// name here, since the name is in the body: NodeRestriction checks it.
func lease(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	verb := attrs.GetVerb()
	switch verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return deny(node, attrs, "can only get, create, update, patch, or delete a node lease")
	}
	if attrs.GetNamespace() != corev1.NamespaceNodeLease {
		return deny(node, attrs, fmt.Sprintf("can only access leases in the %q system namespace", corev1.NamespaceNodeLease))
	}
	if verb != "create" && attrs.GetName() != node {
		return deny(node, attrs, "can only access node lease with the same name as the requesting node")
	}
	return allow()
}

// csiNode grants a node its own CSINode, as lease does its lease.
func csiNode(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	verb := attrs.GetVerb()
	switch attrs.GetSubresource() {
	case "":
		switch verb {
		case "get", "create", "update", "patch", "delete":
		default:
			return deny(node, attrs, "can only get, create, update, patch, or delete a CSINode")
		}
	case "status":
		if !csiVolumeHealthEnabled {
			return deny(node, attrs, "CSINode status access requires CSIVolumeHealth feature")
		}
		switch verb {
		case "get", "update", "patch":
		default:
			return deny(node, attrs, "can only get, update, or patch CSINode status")
		}
	default:
		return deny(node, attrs, "cannot authorize CSINode subresources")
	}
	if verb != "create" && attrs.GetName() != node {
		return deny(node, attrs, "can only access CSINode with the same name as the requesting node")
	}
	return allow()
}

// fieldSelects reports whether the request's field selector pins field to
// value.
func fieldSelects(attrs authorizer.Attributes, field, value string) bool {
	reqs, _ := attrs.GetFieldSelector()
	for _, r := range reqs {
		if r.Field == field && r.Operator == selection.Equals && r.Value == value {
			return true
		}
	}
	return false
}

// resourceSlice grants a node the slices naming it. Creates are left to
// NodeRestriction, which sees the body.
func (a *Authorizer) resourceSlice(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetSubresource() != "" {
		return deny(node, attrs, "cannot authorize ResourceSlice subresources")
	}
	switch attrs.GetVerb() {
	case "create":
		return allow()
	case "get", "update", "patch", "delete":
		return a.related(node, sliceType, attrs)
	case "watch", "list", "deletecollection":
		if fieldSelects(attrs, "spec.nodeName", node) {
			return allow()
		}
		return deny(node, attrs, "can only list/watch/deletecollection resourceslices with nodeName field selector")
	default:
		return deny(node, attrs, "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection")
	}
}

func (a *Authorizer) podCertificateRequest(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetSubresource() != "" {
		return authorizer.DecisionNoOpinion, "nodes may not access the status subresource of PodCertificateRequests", nil
	}
	switch attrs.GetVerb() {
	case "create":
		return allow()
	case "get":
		return a.related(node, podCertificateRequestType, attrs)
	case "list", "watch":
		if fieldSelects(attrs, "spec.nodeName", node) {
			return allow()
		}
		return deny(node, attrs, "can only list/watch podcertificaterequests with nodeName field selector")
	}
	return deny(node, attrs, fmt.Sprintf("nodes may not %s podcertificaterequests", attrs.GetVerb()))
}

// nodeObject grants writes of any Node (NodeRestriction narrows them to
// the node's own) and reads of the node's own, by name so that a kubelet
// can look for its Node before registering it.
func nodeObject(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	switch attrs.GetSubresource() {
	case "":
		switch attrs.GetVerb() {
		case "create", "update", "patch":
			return allow()
		case "get", "list", "watch":
			switch attrs.GetName() {
			case node:
				return allow()
			case "":
				return deny(node, attrs, fmt.Sprintf("node '%s' cannot read all nodes, only its own Node object", node))
			default:
				return deny(node, attrs, fmt.Sprintf("node '%s' cannot read '%s', only its own Node object", node, attrs.GetName()))
			}
		}
	case "status":
		switch attrs.GetVerb() {
		case "update", "patch":
			return allow()
		}
	}
	return deny(node, attrs, "")
}

// pod grants reads of the node's pods, and the writes NodeRestriction
// narrows: mirror pods, status and evictions.
func (a *Authorizer) pod(node string, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	switch attrs.GetSubresource() {
	case "":
		switch attrs.GetVerb() {
		case "get":
			return a.get(node, podType, attrs)
		case "list", "watch":
			if fieldSelects(attrs, "spec.nodeName", node) {
				return allow()
			}
			if attrs.GetName() != "" {
				return a.related(node, podType, attrs)
			}
			return deny(node, attrs, "can only list/watch pods with spec.nodeName field selector")
		case "create", "delete":
			return allow()
		}
	case "status":
		switch attrs.GetVerb() {
		case "update", "patch":
			return allow()
		}
	case "eviction":
		if attrs.GetVerb() == "create" {
			return allow()
		}
	}
	return deny(node, attrs, "")
}
