package admission

import (
	"context"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	versionutil "k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/component-base/version"
	ndf "k8s.io/component-helpers/nodedeclaredfeatures"
)

// NodeDeclaredFeatureValidatorPluginName is the name kube-apiserver
// registers the NodeDeclaredFeatureValidator admission plugin under. Its
// gate, NodeDeclaredFeatures, is GA in 1.37. The ResourceSlice half of the
// plugin is behind DRANodeAllocatableResources, alpha and off in 1.37, so
// only pod updates are checked.
const NodeDeclaredFeatureValidatorPluginName = "NodeDeclaredFeatureValidator"

func registerNodeDeclaredFeatureValidator(plugins *admission.Plugins) {
	plugins.Register(NodeDeclaredFeatureValidatorPluginName, func(io.Reader) (admission.Interface, error) {
		ver, err := versionutil.Parse(version.Get().String())
		if err != nil {
			return nil, fmt.Errorf("failed to parse version: %w", err)
		}
		return &nodeDeclaredFeatures{
			withNodes: newWithNodes(NodeDeclaredFeatureValidatorPluginName, admission.Create, admission.Update),
			framework: ndf.DefaultFramework,
			version:   ver,
		}, nil
	})
}

// nodeDeclaredFeatures refuses an update of a bound pod that needs a node
// feature (such as in-place resize of some kind) its node does not declare
// in status.declaredFeatures.
type nodeDeclaredFeatures struct {
	withNodes
	framework *ndf.Framework
	version   *versionutil.Version
}

var (
	_ admission.ValidationInterface                         = &nodeDeclaredFeatures{}
	_ admission.InitializationValidator                     = &nodeDeclaredFeatures{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &nodeDeclaredFeatures{}
)

func (p *nodeDeclaredFeatures) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != podsResource || a.GetOperation() != admission.Update {
		return nil
	}
	if sub := a.GetSubresource(); sub != "" && sub != "resize" {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("expected a pod but got a %T", a.GetObject()))
	}
	if pod.Spec.NodeName == "" {
		return nil
	}
	old, ok := a.GetOldObject().(*corev1.Pod)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("expected an old pod but got a %T", a.GetOldObject()))
	}
	if old.Generation == pod.Generation {
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, fmt.Errorf("not yet ready to handle request"))
	}
	reqs, err := p.framework.InferForPodUpdate(
		&ndf.PodInfo{Spec: &old.Spec, Status: &old.Status},
		&ndf.PodInfo{Spec: &pod.Spec, Status: &pod.Status},
		p.version)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to infer pod capability requirements: %w", err))
	}
	if reqs.IsEmpty() {
		return nil
	}
	node, err := p.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return admission.NewForbidden(a, fmt.Errorf("node %q not found", pod.Spec.NodeName))
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to get node %q: %w", pod.Spec.NodeName, err))
	}
	result, err := p.framework.MatchNode(reqs, node)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to match pod requirements against node %q: %w", node.Name, err))
	}
	if !result.IsMatch {
		return admission.NewForbidden(a, fmt.Errorf("pod update requires features %s which are not available on node %q", strings.Join(result.UnsatisfiedRequirements, ", "), node.Name))
	}
	return nil
}
