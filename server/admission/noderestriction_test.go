package admission

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
)

var kubeletN1 = &user.DefaultInfo{Name: "system:node:n1", Groups: []string{user.NodesGroup}}

func attrs(u user.Info, op admission.Operation, gr schema.GroupResource, sub, ns, name string, obj, old runtime.Object) admission.Attributes {
	return admission.NewAttributesRecord(obj, old, schema.GroupVersionKind{}, ns, name, gr.WithVersion("v1"), sub, op, nil, false, u)
}

func labeled(name string, labels map[string]string, mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if mutate != nil {
		mutate(n)
	}
	return n
}

// TestNodeRestriction covers the checks that need no listers; the server
// tests in server/nodeauthz cover the rest against a real server.
func TestNodeRestriction(t *testing.T) {
	p := &nodeRestriction{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete)}
	slice := func(node string) *resourcev1.ResourceSlice {
		return &resourcev1.ResourceSlice{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: resourcev1.ResourceSliceSpec{NodeName: &node}}
	}
	tests := []struct {
		name  string
		attrs admission.Attributes
		want  string
	}{
		{"not a node", attrs(&user.DefaultInfo{Name: "system:node:n1"}, admission.Update, nodesResource, "", "", "n2", labeled("n2", nil, nil), labeled("n2", nil, nil)), ""},
		{"node without a name", attrs(&user.DefaultInfo{Name: "system:node:", Groups: []string{user.NodesGroup}}, admission.Update, nodesResource, "", "", "n1", nil, nil),
			`nodes "n1" is forbidden: could not determine node from user "system:node:"`},
		{"other Node", attrs(kubeletN1, admission.Update, nodesResource, "status", "", "n2", labeled("n2", nil, nil), labeled("n2", nil, nil)),
			`nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`},
		{"register with kubelet labels", attrs(kubeletN1, admission.Create, nodesResource, "", "", "n1",
			labeled("n1", map[string]string{"kubernetes.io/hostname": "n1", "node.kubernetes.io/exclude-from-external-load-balancers": "", "kubelet.kubernetes.io/x": "y", "topology.kubernetes.io/zone": "z", "example.com/a": "b"}, nil), nil), ""},
		{"register with restricted labels", attrs(kubeletN1, admission.Create, nodesResource, "", "", "n1",
			labeled("n1", map[string]string{"node-restriction.kubernetes.io/a": "1", "foo.node-restriction.kubernetes.io/b": "2", "k8s.io/c": "3", "node-role.kubernetes.io/master": ""}, nil), nil),
			`nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: foo.node-restriction.kubernetes.io/b, k8s.io/c, node-restriction.kubernetes.io/a, node-role.kubernetes.io/master`},
		{"remove a restricted label", attrs(kubeletN1, admission.Update, nodesResource, "", "", "n1",
			labeled("n1", nil, nil), labeled("n1", map[string]string{"node-restriction.kubernetes.io/a": "1"}, nil)),
			`nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/a`},
		{"keep a restricted label", attrs(kubeletN1, admission.Update, nodesResource, "status", "", "n1",
			labeled("n1", map[string]string{"node-restriction.kubernetes.io/a": "1"}, nil), labeled("n1", map[string]string{"node-restriction.kubernetes.io/a": "1"}, nil)), ""},
		{"config source", attrs(kubeletN1, admission.Create, nodesResource, "", "", "n1",
			labeled("n1", nil, func(n *corev1.Node) { n.Spec.ConfigSource = &corev1.NodeConfigSource{} }), nil),
			`nodes "n1" is forbidden: node "n1" is not allowed to create pods with a non-nil configSource`},
		{"owner references", attrs(kubeletN1, admission.Update, nodesResource, "", "", "n1",
			labeled("n1", nil, func(n *corev1.Node) { n.OwnerReferences = []metav1.OwnerReference{{Name: "x"}} }), labeled("n1", nil, nil)),
			`nodes "n1" is forbidden: node "n1" is not allowed to modify ownerReferences`},
		{"taints", attrs(kubeletN1, admission.Update, nodesResource, "", "", "n1",
			labeled("n1", nil, nil), labeled("n1", nil, func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{{Key: "k", Effect: corev1.TaintEffectNoSchedule}} })),
			`nodes "n1" is forbidden: node "n1" is not allowed to modify taints`},

		{"own lease", attrs(kubeletN1, admission.Create, leasesResource, "", "kube-node-lease", "", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, nil), ""},
		{"other lease", attrs(kubeletN1, admission.Create, leasesResource, "", "kube-node-lease", "", &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, nil),
			`leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node`},
		{"lease elsewhere", attrs(kubeletN1, admission.Update, leasesResource, "", "default", "n1", nil, nil),
			`leases.coordination.k8s.io "n1" is forbidden: can only access leases in the "kube-node-lease" system namespace`},

		{"own slice", attrs(kubeletN1, admission.Create, resourceSlicesResource, "", "", "", slice("n1"), nil), ""},
		{"slice of another node", attrs(kubeletN1, admission.Create, resourceSlicesResource, "", "", "", slice("n2"), nil),
			`resourceslices.resource.k8s.io "s" is forbidden: can only create ResourceSlice with the same NodeName as the requesting node`},
		{"delete slice of another node", attrs(kubeletN1, admission.Delete, resourceSlicesResource, "", "", "s", nil, slice("n2")),
			`resourceslices.resource.k8s.io "s" is forbidden: can only delete ResourceSlice with the same NodeName as the requesting node`},

		{"CSR that does not parse", attrs(kubeletN1, admission.Create, csrsResource, "", "", "", &certificatesv1.CertificateSigningRequest{
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: certificatesv1.KubeletServingSignerName, Request: []byte("x")}}, nil),
			`certificatesigningrequests.certificates.k8s.io "Unknown" is forbidden: unable to parse csr: PEM block type must be CERTIFICATE REQUEST`},
		{"CSR of another signer", attrs(kubeletN1, admission.Create, csrsResource, "", "", "", &certificatesv1.CertificateSigningRequest{
			Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: "example.com/x", Request: []byte("x")}}, nil), ""},

		{"CSINode of another node", attrs(kubeletN1, admission.Update, csiNodesResource, "", "", "n2", nil, nil),
			`csinodes.storage.k8s.io "n2" is forbidden: can only access CSINode with the same name as the requesting node`},
		{"PVC spec", attrs(kubeletN1, admission.Update, pvcsResource, "", "ns", "c", nil, nil),
			`persistentvolumeclaims "c" is forbidden: may only update PVC status`},
		{"PVC status with a label", attrs(kubeletN1, admission.Update, pvcsResource, "status", "ns", "c",
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Labels: map[string]string{"a": "b"}}}, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c"}}), "prefix"},
		{"PVC capacity", attrs(kubeletN1, admission.Update, pvcsResource, "status", "ns", "c",
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", ResourceVersion: "2"}, Status: corev1.PersistentVolumeClaimStatus{Capacity: corev1.ResourceList{}}},
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", ResourceVersion: "1"}}), ""},
		{"pod subresource", attrs(kubeletN1, admission.Create, podsResource, "binding", "ns", "p", nil, nil),
			`pods "p" is forbidden: unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`},
		{"pod status of another node's pod", attrs(kubeletN1, admission.Update, podsResource, "status", "ns", "p",
			&corev1.Pod{Spec: corev1.PodSpec{NodeName: "n2"}}, &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n2"}}),
			`pods "p" is forbidden: node "n1" can only update pod status for pods with spec.nodeName set to itself`},
		{"pod labels through status", attrs(kubeletN1, admission.Update, podsResource, "status", "ns", "p",
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: corev1.PodSpec{NodeName: "n1"}}, &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}),
			`pods "p" is forbidden: node "n1" cannot update labels through pod status`},
		{"pod update", attrs(kubeletN1, admission.Update, podsResource, "", "ns", "p", &corev1.Pod{}, &corev1.Pod{}),
			`pods "p" is forbidden: unexpected operation "UPDATE", node "n1" can only create and delete mirror pods`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Admit(context.Background(), tt.attrs, nil)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want admitted", err)
			case tt.want == "prefix":
				if err == nil {
					t.Errorf("admitted, want an error")
				}
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestPodAPIReference(t *testing.T) {
	vol := func(s corev1.VolumeSource) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: s}}}}
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"none", vol(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}), ""},
		{"service account", &corev1.Pod{Spec: corev1.PodSpec{ServiceAccountName: "sa"}}, "serviceaccounts"},
		{"secret volume", vol(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}), "secrets"},
		{"configmap env", &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}}}}}}}}, "configmaps"},
		{"pvc", vol(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}), "persistentvolumeclaims"},
		{"csi", vol(corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}), "csidrivers (via CSI volumes)"},
		{"projected token", vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{}}}}}), "serviceaccounts (via projected volumes)"},
		{"projected downward API", vol(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{DownwardAPI: &corev1.DownwardAPIProjection{}}}}}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			referencing, resource, err := podAPIReference(tt.pod)
			if err != nil {
				t.Fatal(err)
			}
			if referencing != (tt.want != "") || resource != tt.want {
				t.Errorf("got %v %q, want %q", referencing, resource, tt.want)
			}
		})
	}
}
