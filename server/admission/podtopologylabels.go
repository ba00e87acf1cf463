package admission

import (
	"context"
	"fmt"
	"io"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/klog/v2"
)

// PodTopologyLabelsPluginName is the name kube-apiserver registers the
// PodTopologyLabels admission plugin under. Its gate,
// PodTopologyLabelsAdmission, is beta and on in 1.37.
const PodTopologyLabelsPluginName = "PodTopologyLabels"

// topologyLabels are the node labels a pod inherits from the node it is
// bound to.
var topologyLabels = []string{"topology.kubernetes.io/zone", "topology.kubernetes.io/region"}

func registerPodTopologyLabels(plugins *admission.Plugins) {
	plugins.Register(PodTopologyLabelsPluginName, func(io.Reader) (admission.Interface, error) {
		return &podTopologyLabels{withNodes: newWithNodes(PodTopologyLabelsPluginName, admission.Create)}, nil
	})
}

// podTopologyLabels copies the zone and region labels of a pod's node onto
// the pod when it is bound (through pods/binding, or created with a
// nodeName), so workloads can read their topology through the downward API.
type podTopologyLabels struct {
	withNodes
}

var (
	_ admission.MutationInterface                           = &podTopologyLabels{}
	_ admission.InitializationValidator                     = &podTopologyLabels{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &podTopologyLabels{}
)

func (p *podTopologyLabels) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != podsResource {
		return nil
	}
	var nodeName string
	var target *map[string]string
	switch a.GetSubresource() {
	case "":
		pod, ok := a.GetObject().(*corev1.Pod)
		if !ok {
			return fmt.Errorf("expected Pod but got %T", a.GetObject())
		}
		nodeName, target = pod.Spec.NodeName, &pod.Labels
	case "binding":
		b, ok := a.GetObject().(*corev1.Binding)
		if !ok {
			return fmt.Errorf("expected Binding but got %s", a.GetKind().Kind)
		}
		if b.Target.Kind != "Node" {
			klog.V(6).InfoS("Skipping Pod being bound to non-Node object type", "target", b.Target.GroupVersionKind())
			return nil
		}
		nodeName, target = b.Target.Name, &b.Labels
	default:
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, fmt.Errorf("not yet ready to handle request"))
	}
	if nodeName == "" {
		return nil
	}
	labels, err := p.nodeTopologyLabels(nodeName)
	if err != nil || len(labels) == 0 {
		return err
	}
	if *target == nil {
		*target = map[string]string{}
	}
	maps.Copy(*target, labels)
	return nil
}

// nodeTopologyLabels returns the node's topology labels; an unknown node
// has none.
func (p *podTopologyLabels) nodeTopologyLabels(name string) (map[string]string, error) {
	out := map[string]string{}
	node, err := p.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, key := range topologyLabels {
		if v, ok := node.Labels[key]; ok {
			out[key] = v
		}
	}
	return out, nil
}
