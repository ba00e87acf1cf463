package nodeauthz

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/skiff-dev/skiff/server/rbac"
)

func newTestAuthorizer(t *testing.T) *Authorizer {
	t.Helper()
	rules, err := rbac.NodeRules()
	if err != nil {
		t.Fatal(err)
	}
	a := New(rules)
	g := a.graph
	g.setPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p1"},
		Spec: corev1.PodSpec{
			NodeName:           "n1",
			ServiceAccountName: "sa1",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull1"}},
			Containers: []corev1.Container{{
				Name: "c",
				Env: []corev1.EnvVar{
					{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env1"}}}},
					{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cmenv1"}}}},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol1"}}},
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}}}},
				{Name: "pvc", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "claim1"}}},
				{Name: "eph", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
			},
			ResourceClaims: []corev1.PodResourceClaim{{Name: "rc", ResourceClaimName: new("rclaim1")}},
		},
	})
	g.setPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p2"},
		Spec: corev1.PodSpec{
			NodeName:           "n2",
			ServiceAccountName: "sa2",
			Volumes:            []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "other"}}}},
		},
	})
	// A mirror pod's references relate nothing to its node.
	g.setPod(&corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "mirror", Annotations: map[string]string{corev1.MirrorPodAnnotationKey: "x"}},
		Spec: corev1.PodSpec{
			NodeName: "n1",
			Volumes:  []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "mirrorsecret"}}}},
		},
	})
	g.setPV(&corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv1"},
		Spec: corev1.PersistentVolumeSpec{
			ClaimRef: &corev1.ObjectReference{Namespace: "ns", Name: "claim1"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver:                     "d",
				NodePublishSecretRef:       &corev1.SecretReference{Namespace: "storage", Name: "pvsecret"},
				ControllerPublishSecretRef: &corev1.SecretReference{Namespace: "storage", Name: "controllersecret"},
			}},
		},
	})
	g.setPV(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "unbound"}})
	g.setNode(ref{attachmentType, nsName{"", "va1"}}, "n1")
	g.setNode(ref{attachmentType, nsName{"", "va2"}}, "n2")
	g.setNode(ref{sliceType, nsName{"", "slice1"}}, "n1")
	g.setNode(ref{podCertificateRequestType, nsName{"ns", "pcr1"}}, "n1")
	return a
}

var (
	node1      = &user.DefaultInfo{Name: "system:node:n1", Groups: []string{user.NodesGroup, user.AllAuthenticated}}
	noNodeName = &user.DefaultInfo{Name: "system:node:", Groups: []string{user.NodesGroup}}
	notInGroup = &user.DefaultInfo{Name: "system:node:n1", Groups: []string{user.AllAuthenticated}}
)

func res(verb, group, resource, sub, ns, name string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: node1, Verb: verb, APIGroup: group, APIVersion: "v1", Resource: resource,
		Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

func withSelector(a authorizer.AttributesRecord, selector string) authorizer.AttributesRecord {
	a.FieldSelectorRequirements = fields.ParseSelectorOrDie(selector).Requirements()
	return a
}

func withUser(a authorizer.AttributesRecord, u user.Info) authorizer.AttributesRecord {
	a.User = u
	return a
}

const noRelation = "no relationship found between node 'n1' and this object"

func TestAuthorize(t *testing.T) {
	a := newTestAuthorizer(t)
	allow, none := authorizer.DecisionAllow, authorizer.DecisionNoOpinion
	tests := []struct {
		name   string
		attrs  authorizer.AttributesRecord
		want   authorizer.Decision
		reason string
	}{
		{"not a node", withUser(res("get", "", "secrets", "", "ns", "vol1"), notInGroup), none, ""},
		{"node without a name", withUser(res("get", "", "secrets", "", "ns", "vol1"), noNodeName), none, `unknown node for user "system:node:"`},

		{"secret of a volume", res("get", "", "secrets", "", "ns", "vol1"), allow, ""},
		{"secret of an env var", res("get", "", "secrets", "", "ns", "env1"), allow, ""},
		{"image pull secret", res("get", "", "secrets", "", "ns", "pull1"), allow, ""},
		{"watch of a related secret", withSelector(res("watch", "", "secrets", "", "ns", "vol1"), "metadata.name=vol1"), allow, ""},
		{"secret of a pod on another node", res("get", "", "secrets", "", "ns", "other"), none, noRelation},
		{"secret of a mirror pod", res("get", "", "secrets", "", "ns", "mirrorsecret"), none, noRelation},
		{"unknown secret", res("get", "", "secrets", "", "ns", "nope"), none, noRelation},
		{"related secret in another namespace", res("get", "", "secrets", "", "other", "vol1"), none, noRelation},
		{"list of secrets", res("list", "", "secrets", "", "ns", ""), none, "No Object name found"},
		{"list of secrets in all namespaces", res("list", "", "secrets", "", "", ""), none, "can only read namespaced object of this type"},
		{"update of a related secret", res("update", "", "secrets", "", "ns", "vol1"), none, "can only read resources of this type"},
		{"PV secret for the kubelet", res("get", "", "secrets", "", "storage", "pvsecret"), allow, ""},
		{"PV secret for the controller", res("get", "", "secrets", "", "storage", "controllersecret"), none, noRelation},

		{"config map of a volume", res("get", "", "configmaps", "", "ns", "cm1"), allow, ""},
		{"config map of an env var", res("list", "", "configmaps", "", "ns", "cmenv1"), allow, ""},
		{"unrelated config map", res("get", "", "configmaps", "", "ns", "cm2"), none, noRelation},

		{"claim of a pod", res("get", "", "persistentvolumeclaims", "", "ns", "claim1"), allow, ""},
		{"claim of an ephemeral volume", res("get", "", "persistentvolumeclaims", "", "ns", "p1-eph"), allow, ""},
		{"list of claims", res("list", "", "persistentvolumeclaims", "", "ns", "claim1"), none, "can only get individual resources of this type"},
		{"claim status update", res("update", "", "persistentvolumeclaims", "status", "ns", "claim1"), allow, ""},
		{"claim status get", res("get", "", "persistentvolumeclaims", "status", "ns", "claim1"), none, "can only get/update/patch this type"},
		{"PV of a claim", res("get", "", "persistentvolumes", "", "", "pv1"), allow, ""},
		{"unbound PV", res("get", "", "persistentvolumes", "", "", "unbound"), none, noRelation},
		{"PV subresource", res("get", "", "persistentvolumes", "status", "", "pv1"), none, "cannot get subresource"},

		{"resource claim", res("get", "resource.k8s.io", "resourceclaims", "", "ns", "rclaim1"), allow, ""},
		{"other resource claim", res("get", "resource.k8s.io", "resourceclaims", "", "ns", "rclaim2"), none, noRelation},
		{"volume attachment", res("get", "storage.k8s.io", "volumeattachments", "", "", "va1"), allow, ""},
		{"volume attachment of another node", res("get", "storage.k8s.io", "volumeattachments", "", "", "va2"), none, noRelation},

		{"token for the SA of a pod", res("create", "", "serviceaccounts", "token", "ns", "sa1"), allow, ""},
		{"token for the SA of another node's pod", res("create", "", "serviceaccounts", "token", "ns", "sa2"), none, noRelation},
		{"token without a name", res("create", "", "serviceaccounts", "token", "ns", ""), none, "can only create tokens for individual service accounts"},
		{"SA create", res("create", "", "serviceaccounts", "", "ns", "sa1"), none, "can only create token subresource of serviceaccount"},
		{"SA get", res("get", "", "serviceaccounts", "", "ns", "sa1"), allow, ""},
		{"SA get of another node's pod", res("get", "", "serviceaccounts", "", "ns", "sa2"), none, noRelation},
		{"SA list", res("list", "", "serviceaccounts", "", "ns", ""), none, "can only create tokens for individual service accounts"},

		{"own lease", res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"), allow, ""},
		{"lease create", res("create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), allow, ""},
		{"other lease", res("get", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"), none, "can only access node lease with the same name as the requesting node"},
		{"lease elsewhere", res("get", "coordination.k8s.io", "leases", "", "default", "n1"), none, `can only access leases in the "kube-node-lease" system namespace`},
		{"lease list", res("list", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), none, "can only get, create, update, patch, or delete a node lease"},

		{"own CSINode", res("patch", "storage.k8s.io", "csinodes", "", "", "n1"), allow, ""},
		{"other CSINode", res("get", "storage.k8s.io", "csinodes", "", "", "n2"), none, "can only access CSINode with the same name as the requesting node"},
		{"CSINode status", res("update", "storage.k8s.io", "csinodes", "status", "", "n1"), none, "CSINode status access requires CSIVolumeHealth feature"},
		{"CSINode list", res("list", "storage.k8s.io", "csinodes", "", "", ""), none, "can only get, create, update, patch, or delete a CSINode"},

		{"slice create", res("create", "resource.k8s.io", "resourceslices", "", "", ""), allow, ""},
		{"own slice", res("delete", "resource.k8s.io", "resourceslices", "", "", "slice1"), allow, ""},
		{"other slice", res("get", "resource.k8s.io", "resourceslices", "", "", "slice2"), none, noRelation},
		{"slice list by node", withSelector(res("list", "resource.k8s.io", "resourceslices", "", "", ""), "spec.nodeName=n1"), allow, ""},
		{"slice list", res("list", "resource.k8s.io", "resourceslices", "", "", ""), none, "can only list/watch/deletecollection resourceslices with nodeName field selector"},
		{"slice list by other node", withSelector(res("deletecollection", "resource.k8s.io", "resourceslices", "", "", ""), "spec.nodeName=n2"), none, "can only list/watch/deletecollection resourceslices with nodeName field selector"},

		{"own Node", res("get", "", "nodes", "", "", "n1"), allow, ""},
		{"other Node", res("get", "", "nodes", "", "", "n2"), none, "node 'n1' cannot read 'n2', only its own Node object"},
		{"all Nodes", res("list", "", "nodes", "", "", ""), none, "node 'n1' cannot read all nodes, only its own Node object"},
		{"Node update", res("update", "", "nodes", "", "", "n2"), allow, ""},
		{"Node status", res("patch", "", "nodes", "status", "", "n2"), allow, ""},
		{"Node delete", res("delete", "", "nodes", "", "", "n1"), none, ""},

		{"own pod", res("get", "", "pods", "", "ns", "p1"), allow, ""},
		{"own mirror pod", res("get", "", "pods", "", "ns", "mirror"), allow, ""},
		{"other pod", res("get", "", "pods", "", "ns", "p2"), none, noRelation},
		{"pods on the node", withSelector(res("watch", "", "pods", "", "", ""), "spec.nodeName=n1"), allow, ""},
		{"all pods", res("list", "", "pods", "", "", ""), none, "can only list/watch pods with spec.nodeName field selector"},
		{"pods by name", withSelector(res("watch", "", "pods", "", "ns", "p1"), "metadata.name=p1"), allow, ""},
		{"pod create", res("create", "", "pods", "", "ns", ""), allow, ""},
		{"pod update", res("update", "", "pods", "", "ns", "p1"), none, ""},
		{"pod status", res("patch", "", "pods", "status", "ns", "p2"), allow, ""},
		{"eviction", res("create", "", "pods", "eviction", "ns", "p2"), allow, ""},
		{"pod exec", res("create", "", "pods", "exec", "ns", "p1"), none, ""},

		{"own PCR", res("get", "certificates.k8s.io", "podcertificaterequests", "", "ns", "pcr1"), allow, ""},
		{"PCR list", res("list", "certificates.k8s.io", "podcertificaterequests", "", "ns", ""), none, "can only list/watch podcertificaterequests with nodeName field selector"},
		{"PCR delete", res("delete", "certificates.k8s.io", "podcertificaterequests", "", "ns", "pcr1"), none, "nodes may not delete podcertificaterequests"},
		{"PCR status", res("update", "certificates.k8s.io", "podcertificaterequests", "status", "ns", "pcr1"), none, "nodes may not access the status subresource of PodCertificateRequests"},

		{"services from the node rules", res("list", "", "services", "", "", ""), allow, ""},
		{"CSR create from the node rules", res("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""), allow, ""},
		{"event create from the node rules", res("create", "events.k8s.io", "events", "", "ns", ""), allow, ""},
		{"deployments not in the node rules", res("get", "apps", "deployments", "", "ns", "d"), none, ""},
		{"non-resource URL", authorizer.AttributesRecord{User: node1, Verb: "get", Path: "/healthz"}, none, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason, err := a.Authorize(context.Background(), tt.attrs)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got != tt.want || reason != tt.reason {
				t.Errorf("got %v %q, want %v %q", got, reason, tt.want, tt.reason)
			}
		})
	}
}

// TestGraphUpdates checks that relations follow pods, PVs and attachments
// as they change and go.
func TestGraphUpdates(t *testing.T) {
	a := newTestAuthorizer(t)
	g := a.graph
	steps := []struct {
		name   string
		change func()
		attrs  authorizer.AttributesRecord
		want   authorizer.Decision
	}{
		{"before", func() {}, res("get", "", "secrets", "", "ns", "vol1"), authorizer.DecisionAllow},
		{"a second pod shares the secret", func() {
			g.setPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p3"}, Spec: corev1.PodSpec{NodeName: "n1",
				Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol1"}}}}}})
		}, res("get", "", "secrets", "", "ns", "vol1"), authorizer.DecisionAllow},
		{"first pod gone, second still holds it", func() { g.deletePod("ns", "p1") }, res("get", "", "secrets", "", "ns", "vol1"), authorizer.DecisionAllow},
		{"both gone", func() { g.deletePod("ns", "p3") }, res("get", "", "secrets", "", "ns", "vol1"), authorizer.DecisionNoOpinion},
		{"claim gone with its pod", func() {}, res("get", "", "persistentvolumes", "", "", "pv1"), authorizer.DecisionNoOpinion},
		{"pod without a node relates nothing", func() {
			g.setPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p4"}, Spec: corev1.PodSpec{ServiceAccountName: "sa4"}})
		}, res("create", "", "serviceaccounts", "token", "ns", "sa4"), authorizer.DecisionNoOpinion},
		{"pod bound later", func() {
			g.setPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p4"}, Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "sa4"}})
		}, res("create", "", "serviceaccounts", "token", "ns", "sa4"), authorizer.DecisionAllow},
		{"attachment moved", func() { g.setNode(ref{attachmentType, nsName{"", "va1"}}, "n2") }, res("get", "storage.k8s.io", "volumeattachments", "", "", "va1"), authorizer.DecisionNoOpinion},
		{"attachment back", func() { g.setNode(ref{attachmentType, nsName{"", "va1"}}, "n1") }, res("get", "storage.k8s.io", "volumeattachments", "", "", "va1"), authorizer.DecisionAllow},
		{"attachment deleted", func() { g.deleteNode(ref{attachmentType, nsName{"", "va1"}}) }, res("get", "storage.k8s.io", "volumeattachments", "", "", "va1"), authorizer.DecisionNoOpinion},
		{"PCR deleted", func() {
			g.deleteNode(ref{podCertificateRequestType, nsName{"ns", "pcr1"}})
		}, res("get", "certificates.k8s.io", "podcertificaterequests", "", "ns", "pcr1"), authorizer.DecisionNoOpinion},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change()
			if got, reason, _ := a.Authorize(context.Background(), s.attrs); got != s.want {
				t.Errorf("got %v (%s), want %v", got, reason, s.want)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	a := New(nil)
	if _, _, incomplete, err := a.RulesFor(context.Background(), node1, "ns"); !incomplete || err == nil {
		t.Errorf("node: incomplete %v, err %v; want incomplete with an error", incomplete, err)
	}
	if _, _, incomplete, err := a.RulesFor(context.Background(), notInGroup, "ns"); incomplete || err != nil {
		t.Errorf("non-node: incomplete %v, err %v; want neither", incomplete, err)
	}
}

func TestSameRefs(t *testing.T) {
	base := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u"}, Spec: corev1.PodSpec{NodeName: "n1"}}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{"status message", func(p *corev1.Pod) { p.Status.Message = "m" }, true},
		{"node set", func(p *corev1.Pod) { p.Spec.NodeName = "n2" }, false},
		{"recreated", func(p *corev1.Pod) { p.UID = "v" }, false},
		{"ephemeral container", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
		}, false},
		{"claim status", func(p *corev1.Pod) {
			p.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "c", ResourceClaimName: new("p-c")}}
		}, false},
		{"extended claim status", func(p *corev1.Pod) {
			p.Status.ExtendedResourceClaimStatus = &corev1.PodExtendedResourceClaimStatus{ResourceClaimName: "x"}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := base.DeepCopy()
			tt.mutate(pod)
			if got := sameRefs(base, pod); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
