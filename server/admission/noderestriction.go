package admission

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/diff"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/informers"
	corev1listers "k8s.io/client-go/listers/core/v1"
	storagev1listers "k8s.io/client-go/listers/storage/v1"
	"k8s.io/component-helpers/storage/ephemeral"

	"github.com/skiff-dev/skiff/server/nodeauthz"
)

// NodeRestrictionPluginName is the name kube-apiserver registers the
// NodeRestriction admission plugin under.
const NodeRestrictionPluginName = "NodeRestriction"

func registerNodeRestriction(plugins *admission.Plugins) {
	plugins.Register(NodeRestrictionPluginName, func(io.Reader) (admission.Interface, error) {
		return &nodeRestriction{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete)}, nil
	})
}

// nodeRestriction limits what a kubelet may write to its own Node, Lease,
// CSINode and ResourceSlices, the pods bound to it and tokens for them, as
// kube-apiserver 1.37 does with its feature gates at their defaults
// (ServiceAccountNodeAudienceRestriction and PodCertificateRequest on,
// AllowInsecureKubeletCertificateSigningRequests and CSIVolumeHealth off).
// The Node authorizer lets these requests through; the names and contents
// it cannot see are checked here.
type nodeRestriction struct {
	*admission.Handler
	pods            corev1listers.PodLister
	nodes           corev1listers.NodeLister
	serviceAccounts corev1listers.ServiceAccountLister
	csiDrivers      storagev1listers.CSIDriverLister
	pvcs            corev1listers.PersistentVolumeClaimLister
	pvs             corev1listers.PersistentVolumeLister
	authz           authorizer.UnconditionalAuthorizer
}

var (
	_ admission.MutationInterface                           = &nodeRestriction{}
	_ admission.InitializationValidator                     = &nodeRestriction{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &nodeRestriction{}
	_ genericadmissioninit.WantsUnconditionalAuthorizer     = &nodeRestriction{}
)

func (p *nodeRestriction) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	p.pods = f.Core().V1().Pods().Lister()
	p.nodes = f.Core().V1().Nodes().Lister()
	p.serviceAccounts = f.Core().V1().ServiceAccounts().Lister()
	p.csiDrivers = f.Storage().V1().CSIDrivers().Lister()
	p.pvcs = f.Core().V1().PersistentVolumeClaims().Lister()
	p.pvs = f.Core().V1().PersistentVolumes().Lister()
}

func (p *nodeRestriction) SetUnconditionalAuthorizer(a authorizer.UnconditionalAuthorizer) {
	p.authz = a
}

func (p *nodeRestriction) ValidateInitialization() error {
	switch {
	case p.pods == nil:
		return fmt.Errorf("%s requires a pod getter", NodeRestrictionPluginName)
	case p.nodes == nil:
		return fmt.Errorf("%s requires a node getter", NodeRestrictionPluginName)
	case p.csiDrivers == nil:
		return fmt.Errorf("%s requires a CSI driver getter", NodeRestrictionPluginName)
	case p.pvcs == nil:
		return fmt.Errorf("%s requires a PVC getter", NodeRestrictionPluginName)
	case p.pvs == nil:
		return fmt.Errorf("%s requires a PV getter", NodeRestrictionPluginName)
	case p.authz == nil:
		return fmt.Errorf("%s requires an authorizer", NodeRestrictionPluginName)
	case p.serviceAccounts == nil:
		return fmt.Errorf("%s requires a service account getter", NodeRestrictionPluginName)
	}
	return nil
}

var (
	serviceAccountsResource        = corev1.Resource("serviceaccounts")
	leasesResource                 = coordinationv1.Resource("leases")
	csiNodesResource               = storagev1.Resource("csinodes")
	resourceSlicesResource         = resourcev1.Resource("resourceslices")
	podCertificateRequestsResource = certificatesv1.Resource("podcertificaterequests")
)

func (p *nodeRestriction) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	node, isNode := nodeauthz.NodeIdentity(a.GetUserInfo())
	if !isNode {
		return nil
	}
	if node == "" {
		return admission.NewForbidden(a, fmt.Errorf("could not determine node from user %q", a.GetUserInfo().GetName()))
	}
	switch a.GetResource().GroupResource() {
	case podsResource:
		switch a.GetSubresource() {
		case "":
			return p.admitPod(node, a)
		case "status":
			return admitPodStatus(node, a)
		case "eviction":
			return p.admitPodEviction(node, a)
		default:
			return admission.NewForbidden(a, fmt.Errorf("unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.GetSubresource()))
		}
	case nodesResource:
		return admitNode(node, a)
	case pvcsResource:
		if a.GetSubresource() == "status" {
			return admitPVCStatus(node, a)
		}
		return admission.NewForbidden(a, errors.New("may only update PVC status"))
	case serviceAccountsResource:
		return p.admitServiceAccount(ctx, node, a)
	case podCertificateRequestsResource:
		return p.admitPodCertificateRequest(ctx, node, a)
	case leasesResource:
		return admitLease(node, a)
	case csiNodesResource:
		return admitCSINode(node, a)
	case resourceSlicesResource:
		return admitResourceSlice(node, a)
	case csrsResource:
		return admitCSR(node, a)
	}
	return nil
}

// admitPod lets a node create its mirror pods and delete pods bound to it.
func (p *nodeRestriction) admitPod(node string, a admission.Attributes) error {
	switch a.GetOperation() {
	case admission.Create:
		return p.admitMirrorPod(node, a)
	case admission.Delete:
		existing, err := p.pods.Pods(a.GetNamespace()).Get(a.GetName())
		if apierrors.IsNotFound(err) {
			return err
		}
		if err != nil {
			return admission.NewForbidden(a, err)
		}
		if existing.Spec.NodeName != node {
			return admission.NewForbidden(a, fmt.Errorf("node %q can only delete pods with spec.nodeName set to itself", node))
		}
		return nil
	default:
		return admission.NewForbidden(a, fmt.Errorf("unexpected operation %q, node %q can only create and delete mirror pods", a.GetOperation(), node))
	}
}

func (p *nodeRestriction) admitMirrorPod(node string, a admission.Attributes) error {
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; !mirror {
		return admission.NewForbidden(a, fmt.Errorf("pod does not have %q annotation, node %q can only create mirror pods", corev1.MirrorPodAnnotationKey, node))
	}
	if pod.Spec.NodeName != node {
		return admission.NewForbidden(a, fmt.Errorf("node %q can only create pods with spec.nodeName set to itself", node))
	}
	switch len(pod.OwnerReferences) {
	case 0:
		return admission.NewForbidden(a, fmt.Errorf("node %q can only create pods with an owner reference set to itself", node))
	case 1:
	default:
		return admission.NewForbidden(a, fmt.Errorf("node %q can only create pods with a single owner reference set to itself", node))
	}
	owner := pod.OwnerReferences[0]
	if owner.APIVersion != corev1.SchemeGroupVersion.String() || owner.Kind != "Node" || owner.Name != node {
		return admission.NewForbidden(a, fmt.Errorf("node %q can only create pods with an owner reference set to itself", node))
	}
	if owner.Controller == nil || !*owner.Controller {
		return admission.NewForbidden(a, fmt.Errorf("node %q can only create pods with a controller owner reference set to itself", node))
	}
	if owner.BlockOwnerDeletion != nil && *owner.BlockOwnerDeletion {
		return admission.NewForbidden(a, fmt.Errorf("node %q must not set blockOwnerDeletion on an owner reference", node))
	}
	n, err := p.nodes.Get(node)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up node %s to verify uid: %w", node, err))
	}
	if owner.UID != n.UID {
		return admission.NewForbidden(a, fmt.Errorf("node %s UID mismatch: expected %s got %s", node, owner.UID, n.UID))
	}
	referencing, resource, err := podAPIReference(pod)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error checking mirror pod for API references: %w", err))
	}
	if referencing {
		return admission.NewForbidden(a, fmt.Errorf("node %q can not create pods that reference %s", node, resource))
	}
	return nil
}

// podAPIReference reports what API object, if any, a pod needs the API for:
// a mirror pod comes from a file on the node, which must not reach objects
// the node could not otherwise read.
func podAPIReference(pod *corev1.Pod) (bool, string, error) {
	if pod.Spec.ServiceAccountName != "" {
		return true, "serviceaccounts", nil
	}
	found := func(seen *bool) func(string) bool {
		return func(string) bool { *seen = true; return false }
	}
	var hasSecrets, hasConfigMaps bool
	nodeauthz.VisitPodSecretNames(pod, found(&hasSecrets))
	if hasSecrets {
		return true, "secrets", nil
	}
	nodeauthz.VisitPodConfigMapNames(pod, found(&hasConfigMaps))
	if hasConfigMaps {
		return true, "configmaps", nil
	}
	if len(pod.Spec.ResourceClaims) > 0 {
		return true, "resourceclaims", nil
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.AWSElasticBlockStore != nil, v.AzureDisk != nil, v.CephFS != nil, v.Cinder != nil,
			v.DownwardAPI != nil, v.EmptyDir != nil, v.FC != nil, v.FlexVolume != nil, v.Flocker != nil, v.GCEPersistentDisk != nil,
			v.GitRepo != nil, v.HostPath != nil, v.Image != nil, v.ISCSI != nil, v.NFS != nil, v.PhotonPersistentDisk != nil,
			v.PortworxVolume != nil, v.Quobyte != nil, v.RBD != nil, v.ScaleIO != nil, v.StorageOS != nil, v.VsphereVolume != nil:
			continue
		case v.ConfigMap != nil:
			return true, "configmaps (via configmap volumes)", nil
		case v.Secret != nil:
			return true, "secrets (via secret volumes)", nil
		case v.CSI != nil:
			return true, "csidrivers (via CSI volumes)", nil
		case v.Glusterfs != nil:
			return true, "endpoints (via glusterFS volumes)", nil
		case v.PersistentVolumeClaim != nil:
			return true, "persistentvolumeclaims", nil
		case v.Ephemeral != nil:
			return true, "persistentvolumeclaims (via ephemeral volumes)", nil
		case v.AzureFile != nil:
			return true, "secrets (via azureFile volumes)", nil
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				switch {
				case s.ConfigMap != nil:
					return true, "configmaps (via projected volumes)", nil
				case s.Secret != nil:
					return true, "secrets (via projected volumes)", nil
				case s.ServiceAccountToken != nil:
					return true, "serviceaccounts (via projected volumes)", nil
				case s.ClusterTrustBundle != nil:
					return true, "clustertrustbundles", nil
				case s.PodCertificate != nil:
					return true, "podcertificates", nil
				case s.DownwardAPI != nil:
					continue
				default:
					return true, "", fmt.Errorf("unknown source for projected volume %q", v.Name)
				}
			}
		default:
			return true, "", fmt.Errorf("unknown volume type for volume  %q", v.Name)
		}
	}
	return false, "", nil
}

// admitPodStatus lets a node update the status of pods bound to it, but
// not their labels or the claims the scheduler and DRA record there.
func admitPodStatus(node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Update {
		return admission.NewForbidden(a, fmt.Errorf("unexpected operation %q", a.GetOperation()))
	}
	oldPod, ok := a.GetOldObject().(*corev1.Pod)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetOldObject()))
	}
	if oldPod.Spec.NodeName != node {
		return admission.NewForbidden(a, fmt.Errorf("node %q can only update pod status for pods with spec.nodeName set to itself", node))
	}
	newPod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	if !labels.Equals(oldPod.Labels, newPod.Labels) {
		return admission.NewForbidden(a, fmt.Errorf("node %q cannot update labels through pod status", node))
	}
	if !slices.EqualFunc(oldPod.Status.ResourceClaimStatuses, newPod.Status.ResourceClaimStatuses, func(x, y corev1.PodResourceClaimStatus) bool {
		return x.Name == y.Name && equalPtr(x.ResourceClaimName, y.ResourceClaimName)
	}) {
		return admission.NewForbidden(a, fmt.Errorf("node %q cannot update resource claim statues", node))
	}
	if !extendedClaimStatusEqual(oldPod.Status.ExtendedResourceClaimStatus, newPod.Status.ExtendedResourceClaimStatus) {
		return admission.NewForbidden(a, fmt.Errorf("node %q cannot update extended resource claim status", node))
	}
	if !slices.EqualFunc(oldPod.Status.NodeAllocatableResourceClaimStatuses, newPod.Status.NodeAllocatableResourceClaimStatuses, nodeAllocatableClaimStatusEqual) {
		return admission.NewForbidden(a, fmt.Errorf("node %q cannot update node allocatable resource claim statuses", node))
	}
	return nil
}

func equalPtr[T comparable](x, y *T) bool {
	if x == nil || y == nil {
		return x == y
	}
	return *x == *y
}

func extendedClaimStatusEqual(x, y *corev1.PodExtendedResourceClaimStatus) bool {
	if x == nil || y == nil {
		return x == y
	}
	return x.ResourceClaimName == y.ResourceClaimName && slices.Equal(x.RequestMappings, y.RequestMappings)
}

func nodeAllocatableClaimStatusEqual(x, y corev1.NodeAllocatableResourceClaimStatus) bool {
	return x.ResourceClaimName == y.ResourceClaimName &&
		slices.Equal(x.Containers, y.Containers) &&
		slices.EqualFunc(x.Mapping, y.Mapping, func(m, n corev1.NodeAllocatableMappedResources) bool {
			return m.Name == n.Name && apiresource.QuantityPtrEqual(m.Quantity, n.Quantity)
		}) &&
		slices.EqualFunc(x.Overhead, y.Overhead, func(m, n corev1.NodeAllocatableOverheadResources) bool {
			return m.Name == n.Name && apiresource.QuantityPtrEqual(m.PerPod, n.PerPod) && apiresource.QuantityPtrEqual(m.PerContainer, n.PerContainer)
		})
}

// admitPodEviction lets a node evict pods bound to it.
func (p *nodeRestriction) admitPodEviction(node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Create {
		return admission.NewForbidden(a, fmt.Errorf("unexpected operation %s", a.GetOperation()))
	}
	eviction, ok := a.GetObject().(*policyv1.Eviction)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	// The pod named in the URL counts, not the one in the body.
	podName := a.GetName()
	if podName == "" {
		if eviction.Name == "" {
			return admission.NewForbidden(a, errors.New("could not determine pod from request data"))
		}
		podName = eviction.Name
	}
	existing, err := p.pods.Pods(a.GetNamespace()).Get(podName)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	if existing.Spec.NodeName != node {
		return admission.NewForbidden(a, fmt.Errorf("node %s can only evict pods with spec.nodeName set to itself", node))
	}
	return nil
}

// admitPVCStatus lets a node change only a claim's capacity, conditions and
// allocated resources (volume expansion recovery is GA).
func admitPVCStatus(node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Update {
		return admission.NewForbidden(a, fmt.Errorf("unexpected operation %q", a.GetOperation()))
	}
	oldPVC, ok := a.GetOldObject().(*corev1.PersistentVolumeClaim)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetOldObject()))
	}
	newPVC, ok := a.GetObject().(*corev1.PersistentVolumeClaim)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	oldPVC, newPVC = oldPVC.DeepCopy(), newPVC.DeepCopy()
	for _, c := range []*corev1.PersistentVolumeClaim{oldPVC, newPVC} {
		// An update may leave resourceVersion empty to be unconditional.
		c.ResourceVersion = ""
		c.ManagedFields = nil
		c.Status.Capacity = nil
		c.Status.Conditions = nil
		c.Status.AllocatedResourceStatuses = nil
		c.Status.AllocatedResources = nil
	}
	if !apiequality.Semantic.DeepEqual(oldPVC, newPVC) {
		return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to update fields other than status.quantity and status.conditions: %v", node, diff.Diff(oldPVC, newPVC)))
	}
	return nil
}

// admitNode lets a node write only its own Node, and not in ways that
// would steer workloads to it: taints, owner references, config source and
// labels outside the kubelet's set stay as they are.
func admitNode(node string, a admission.Attributes) error {
	if a.GetName() != node {
		return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to modify node %q", node, a.GetName()))
	}
	switch a.GetOperation() {
	case admission.Create:
		n, ok := a.GetObject().(*corev1.Node)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
		}
		if n.Spec.ConfigSource != nil {
			return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to create pods with a non-nil configSource", node))
		}
		if forbidden := forbiddenLabels(modifiedLabels(n.Labels, nil)); len(forbidden) > 0 {
			return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to set the following labels: %s", node, strings.Join(sets.List(forbidden), ", ")))
		}
	case admission.Update:
		n, ok := a.GetObject().(*corev1.Node)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
		}
		old, ok := a.GetOldObject().(*corev1.Node)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
		}
		// Old kubelets may drop configSource in a status update, so only a
		// new non-nil one counts.
		if n.Spec.ConfigSource != nil && !apiequality.Semantic.DeepEqual(n.Spec.ConfigSource, old.Spec.ConfigSource) {
			return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to update configSource to a new non-nil configSource", node))
		}
		if !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to modify taints", node))
		}
		if !apiequality.Semantic.DeepEqual(n.OwnerReferences, old.OwnerReferences) {
			return admission.NewForbidden(a, fmt.Errorf("node %q is not allowed to modify ownerReferences", node))
		}
		if forbidden := forbiddenLabels(modifiedLabels(n.Labels, old.Labels)); len(forbidden) > 0 {
			return admission.NewForbidden(a, fmt.Errorf("is not allowed to modify labels: %s", strings.Join(sets.List(forbidden), ", ")))
		}
	}
	return nil
}

func modifiedLabels(x, y map[string]string) sets.Set[string] {
	modified := sets.New[string]()
	for k, v := range x {
		if w, ok := y[k]; !ok || v != w {
			modified.Insert(k)
		}
	}
	for k, v := range y {
		if w, ok := x[k]; !ok || v != w {
			modified.Insert(k)
		}
	}
	return modified
}

func labelNamespace(key string) string {
	if ns, _, ok := strings.Cut(key, "/"); ok {
		return ns
	}
	return ""
}

func inLabelNamespace(key, namespace string) bool {
	ns := labelNamespace(key)
	return ns == namespace || strings.HasSuffix(ns, "."+namespace)
}

// kubeletLabels are the kubernetes.io labels a kubelet sets on its Node.
var kubeletLabels = sets.New(
	corev1.LabelHostname,
	corev1.LabelTopologyZone,
	corev1.LabelTopologyRegion,
	corev1.LabelFailureDomainBetaZone,
	corev1.LabelFailureDomainBetaRegion,
	corev1.LabelInstanceType,
	corev1.LabelInstanceTypeStable,
	corev1.LabelOSStable,
	corev1.LabelArchStable,
	"beta.kubernetes.io/os",
	"beta.kubernetes.io/arch",
)

func isKubeletLabel(key string) bool {
	return kubeletLabels.Has(key) ||
		inLabelNamespace(key, corev1.LabelNamespaceSuffixKubelet) ||
		inLabelNamespace(key, corev1.LabelNamespaceSuffixNode)
}

// forbiddenLabels returns the labels of modified a node may not set:
// node-restriction.kubernetes.io ones, reserved for what admins set, and
// kubernetes.io and k8s.io ones the kubelet does not own.
func forbiddenLabels(modified sets.Set[string]) sets.Set[string] {
	forbidden := sets.New[string]()
	for label := range modified {
		if inLabelNamespace(label, corev1.LabelNamespaceNodeRestriction) {
			forbidden.Insert(label)
		}
		kubernetes := inLabelNamespace(label, "kubernetes.io") || inLabelNamespace(label, "k8s.io")
		if kubernetes && !isKubeletLabel(label) {
			forbidden.Insert(label)
		}
	}
	return forbidden
}

// admitServiceAccount lets a node request tokens only bound to a pod of its
// own, and only for audiences that pod uses.
func (p *nodeRestriction) admitServiceAccount(ctx context.Context, node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Create || a.GetSubresource() != "token" {
		return nil
	}
	tr, ok := a.GetObject().(*authenticationv1.TokenRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name == "" {
		return admission.NewForbidden(a, errors.New("node requested token not bound to a pod"))
	}
	if ref.UID == "" {
		return admission.NewForbidden(a, errors.New("node requested token with a pod binding without a uid"))
	}
	pod, err := p.pods.Pods(a.GetNamespace()).Get(ref.Name)
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	if ref.UID != pod.UID {
		return admission.NewForbidden(a, fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	if pod.Spec.NodeName != node {
		return admission.NewForbidden(a, errors.New("node requested token bound to a pod scheduled on a different node"))
	}
	if err := p.checkAudience(ctx, tr, pod, a); err != nil {
		return admission.NewForbidden(a, err)
	}
	return nil
}

func (p *nodeRestriction) checkAudience(ctx context.Context, tr *authenticationv1.TokenRequest, pod *corev1.Pod, a admission.Attributes) error {
	audience := ""
	switch len(tr.Spec.Audiences) {
	case 0:
	case 1:
		audience = tr.Spec.Audiences[0]
	default:
		return errors.New("node may only request 0 or 1 audiences")
	}
	found, err := p.podUsesAudience(pod, audience)
	if err != nil {
		return fmt.Errorf("error validating audience %q: %w", audience, err)
	}
	if found {
		return nil
	}
	attrs := extraAttributes(a, "request-serviceaccounts-token-audience", audience, a.GetName())
	decision, _, err := p.authz.Authorize(ctx, attrs)
	// An authorizer may allow despite evaluation errors, so the decision
	// comes first.
	if decision == authorizer.DecisionAllow {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error authorizing %s to request tokens for audience %q: %w", a.GetUserInfo().GetName(), audience, err)
	}
	return fmt.Errorf("%s is not authorized to request tokens for audience %q", a.GetUserInfo().GetName(), audience)
}

// inTreeCSIDrivers are the CSI drivers that in-tree volume types migrate to.
var inTreeCSIDrivers = []struct {
	inline func(*corev1.VolumeSource) bool
	pv     func(*corev1.PersistentVolumeSource) bool
	driver string
}{
	{func(v *corev1.VolumeSource) bool { return v.AWSElasticBlockStore != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.AWSElasticBlockStore != nil }, "ebs.csi.aws.com"},
	{func(v *corev1.VolumeSource) bool { return v.AzureDisk != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.AzureDisk != nil }, "disk.csi.azure.com"},
	{func(v *corev1.VolumeSource) bool { return v.AzureFile != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.AzureFile != nil }, "file.csi.azure.com"},
	{func(v *corev1.VolumeSource) bool { return v.GCEPersistentDisk != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.GCEPersistentDisk != nil }, "pd.csi.storage.gke.io"},
	{func(v *corev1.VolumeSource) bool { return v.Cinder != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.Cinder != nil }, "cinder.csi.openstack.org"},
	{func(v *corev1.VolumeSource) bool { return v.PortworxVolume != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.PortworxVolume != nil }, "pxd.portworx.com"},
	{func(v *corev1.VolumeSource) bool { return v.VsphereVolume != nil }, func(v *corev1.PersistentVolumeSource) bool { return v.VsphereVolume != nil }, "csi.vsphere.vmware.com"},
}

// podUsesAudience reports whether the pod mounts a token for audience, or
// a CSI volume whose driver requests tokens for it (directly, through a
// PVC, or as a migrated in-tree volume).
func (p *nodeRestriction) podUsesAudience(pod *corev1.Pod, audience string) (bool, error) {
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil && s.ServiceAccountToken.Audience == audience {
					return true, nil
				}
			}
		}
		var driver string
		var err error
		switch {
		case v.Ephemeral != nil && v.Ephemeral.VolumeClaimTemplate != nil:
			driver, err = p.claimCSIDriver(pod.Namespace, ephemeral.VolumeClaimName(pod, v))
		case v.PersistentVolumeClaim != nil:
			driver, err = p.claimCSIDriver(pod.Namespace, v.PersistentVolumeClaim.ClaimName)
		case v.CSI != nil:
			driver = v.CSI.Driver
		default:
			for _, t := range inTreeCSIDrivers {
				if t.inline(&v.VolumeSource) {
					driver = t.driver
				}
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if driver == "" {
			continue
		}
		has, err := p.driverRequestsAudience(driver, audience)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if has {
			return true, nil
		}
	}
	return false, utilerrors.NewAggregate(errs)
}

func (p *nodeRestriction) claimCSIDriver(namespace, claim string) (string, error) {
	pvc, err := p.pvcs.PersistentVolumeClaims(namespace).Get(claim)
	if err != nil {
		return "", err
	}
	pv, err := p.pvs.Get(pvc.Spec.VolumeName)
	if err != nil {
		return "", err
	}
	if pv.Spec.CSI != nil {
		return pv.Spec.CSI.Driver, nil
	}
	for _, t := range inTreeCSIDrivers {
		if t.pv(&pv.Spec.PersistentVolumeSource) {
			return t.driver, nil
		}
	}
	return "", nil
}

func (p *nodeRestriction) driverRequestsAudience(driver, audience string) (bool, error) {
	d, err := p.csiDrivers.Get(driver)
	if err != nil {
		return false, err
	}
	for _, tr := range d.Spec.TokenRequests {
		if tr.Audience == audience {
			return true, nil
		}
	}
	return false, nil
}

// extraAttributes describes a check beyond the request itself, such as
// whether the node may request tokens for an audience.
func extraAttributes(a admission.Attributes, verb, resource, name string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{
		User:            a.GetUserInfo(),
		Verb:            verb,
		APIGroup:        a.GetResource().Group,
		APIVersion:      a.GetResource().Version,
		Resource:        resource,
		Namespace:       a.GetNamespace(),
		Name:            name,
		ResourceRequest: true,
	}
}

// admitPodCertificateRequest lets a node request certificates only for its
// own running, non-mirror pods, as their service account, and for signers
// they mount.
func (p *nodeRestriction) admitPodCertificateRequest(ctx context.Context, node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Create {
		return admission.NewForbidden(a, fmt.Errorf("unexpected operation %v", a.GetOperation()))
	}
	if a.GetSubresource() != "" {
		return admission.NewForbidden(a, fmt.Errorf("unexpected subresource %v", a.GetSubresource()))
	}
	namespace := a.GetNamespace()
	req, ok := a.GetObject().(*certificatesv1.PodCertificateRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	if string(req.Spec.NodeName) != node {
		return admission.NewForbidden(a, fmt.Errorf("PodCertificateRequest.Spec.NodeName=%q, which is not the requesting node %q", req.Spec.NodeName, node))
	}
	n, err := p.nodes.Get(string(req.Spec.NodeName))
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("while retrieving node %q named in the PodCertificateRequest: %w", req.Spec.NodeName, err)
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("while retrieving node %q named in the PodCertificateRequest: %w", req.Spec.NodeName, err))
	}
	// Mismatched UIDs may be informer lag, so these errors are not
	// Forbidden: a retry may succeed.
	if n.UID != req.Spec.NodeUID {
		return fmt.Errorf("PodCertificateRequest for pod %q names node UID %q, inconsistent with the running node (%q)", namespace+"/"+req.Spec.PodName, req.Spec.NodeUID, n.UID)
	}
	pod, err := p.pods.Pods(namespace).Get(req.Spec.PodName)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("while retrieving pod %q named in the PodCertificateRequest: %w", namespace+"/"+req.Spec.PodName, err)
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("while retrieving pod %q named in the PodCertificateRequest: %w", namespace+"/"+req.Spec.PodName, err))
	}
	if req.Spec.PodUID != pod.UID {
		return fmt.Errorf("PodCertificateRequest for pod %q contains pod UID (%q) which differs from running pod %q", namespace+"/"+req.Spec.PodName, req.Spec.PodUID, string(pod.UID))
	}
	if pod.Spec.NodeName != string(req.Spec.NodeName) {
		return admission.NewForbidden(a, fmt.Errorf("pod %q is not running on node %q named in the PodCertificateRequest", namespace+"/"+req.Spec.PodName, req.Spec.NodeName))
	}
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return admission.NewForbidden(a, fmt.Errorf("pod %q is a mirror pod", namespace+"/"+req.Spec.PodName))
	}
	if req.Spec.ServiceAccountName != pod.Spec.ServiceAccountName {
		return admission.NewForbidden(a, fmt.Errorf("PodCertificateRequest for pod %q contains serviceAccountName (%q) that differs from running pod (%q)", namespace+"/"+req.Spec.PodName, req.Spec.ServiceAccountName, pod.Spec.ServiceAccountName))
	}
	sa, err := p.serviceAccounts.ServiceAccounts(namespace).Get(req.Spec.ServiceAccountName)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("while retrieving service account %q named in the PodCertificateRequest: %w", namespace+"/"+req.Spec.ServiceAccountName, err)
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("while retrieving service account %q named in the PodCertificateRequest: %w", namespace+"/"+req.Spec.ServiceAccountName, err))
	}
	if req.Spec.ServiceAccountUID != sa.UID {
		return fmt.Errorf("PodCertificateRequest for pod %q names service account UID %q, which differs from the running service account (%q)", namespace+"/"+req.Spec.PodName, req.Spec.ServiceAccountUID, sa.UID)
	}
	if err := p.checkSigner(ctx, pod, req, a); err != nil {
		return admission.NewForbidden(a, err)
	}
	return nil
}

func (p *nodeRestriction) checkSigner(ctx context.Context, pod *corev1.Pod, req *certificatesv1.PodCertificateRequest, a admission.Attributes) error {
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.PodCertificate != nil && s.PodCertificate.SignerName == req.Spec.SignerName {
				return nil
			}
		}
	}
	// RBAC resources cannot hold slashes; ClusterTrustBundle names encode
	// signer names the same way.
	attrs := extraAttributes(a, "request-serviceaccounts-podcertificate-signer", strings.ReplaceAll(req.Spec.SignerName, "/", ":"), req.Spec.ServiceAccountName)
	decision, _, err := p.authz.Authorize(ctx, attrs)
	if decision == authorizer.DecisionAllow {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error authorizing %s to request podcertificaterequests for signer %q: %w", a.GetUserInfo().GetName(), req.Spec.SignerName, err)
	}
	return fmt.Errorf("pod %q does not mount a podCertificate projected volume for signer %q", a.GetNamespace()+"/"+req.Spec.PodName, req.Spec.SignerName)
}

// admitLease lets a node write only its own lease in kube-node-lease.
func admitLease(node string, a admission.Attributes) error {
	if a.GetNamespace() != corev1.NamespaceNodeLease {
		return admission.NewForbidden(a, fmt.Errorf("can only access leases in the %q system namespace", corev1.NamespaceNodeLease))
	}
	name := a.GetName()
	if a.GetOperation() == admission.Create {
		// The name of a create is in the body.
		lease, ok := a.GetObject().(*coordinationv1.Lease)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
		}
		name = lease.Name
	}
	if name != node {
		return admission.NewForbidden(a, errors.New("can only access node lease with the same name as the requesting node"))
	}
	return nil
}

// admitCSINode lets a node write only its own CSINode.
func admitCSINode(node string, a admission.Attributes) error {
	name := a.GetName()
	if a.GetOperation() == admission.Create {
		accessor, err := meta.Accessor(a.GetObject())
		if err != nil {
			return admission.NewForbidden(a, errors.New("unable to access the object name"))
		}
		name = accessor.GetName()
	}
	if name != node {
		return admission.NewForbidden(a, errors.New("can only access CSINode with the same name as the requesting node"))
	}
	if a.GetSubresource() == "status" {
		// CSIVolumeHealth is alpha, off.
		return admission.NewForbidden(a, errors.New("CSIVolumeHealth feature gate is disabled"))
	}
	return nil
}

// admitResourceSlice checks what the Node authorizer cannot see: the node
// of a slice being created, and of each slice a deletecollection removes.
func admitResourceSlice(node string, a admission.Attributes) error {
	switch a.GetOperation() {
	case admission.Create:
		slice, ok := a.GetObject().(*resourcev1.ResourceSlice)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
		}
		if slice.Spec.NodeName == nil || *slice.Spec.NodeName != node {
			return admission.NewForbidden(a, errors.New("can only create ResourceSlice with the same NodeName as the requesting node"))
		}
	case admission.Delete:
		slice, ok := a.GetOldObject().(*resourcev1.ResourceSlice)
		if !ok {
			return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetOldObject()))
		}
		if slice.Spec.NodeName == nil || *slice.Spec.NodeName != node {
			return admission.NewForbidden(a, errors.New("can only delete ResourceSlice with the same NodeName as the requesting node"))
		}
	}
	return nil
}

// admitCSR lets a node request kubelet client and serving certificates only
// in its own name; other signers' checks are theirs.
func admitCSR(node string, a admission.Attributes) error {
	if a.GetOperation() != admission.Create {
		return nil
	}
	csr, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName && csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return nil
	}
	req, err := parseCSR(csr.Spec.Request)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("unable to parse csr: %w", err))
	}
	if req.Subject.CommonName != "system:node:"+node {
		return admission.NewForbidden(a, fmt.Errorf("can only create a node CSR with CN=system:node:%s", node))
	}
	return nil
}

func parseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
