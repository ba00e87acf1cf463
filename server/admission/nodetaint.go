package admission

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/admission"
)

// TaintNodesByConditionPluginName is the name kube-apiserver registers the
// TaintNodesByCondition admission plugin under.
const TaintNodesByConditionPluginName = "TaintNodesByCondition"

var nodesResource = corev1.Resource("nodes")

func registerTaintNodesByCondition(plugins *admission.Plugins) {
	plugins.Register(TaintNodesByConditionPluginName, func(io.Reader) (admission.Interface, error) {
		return &nodeTaint{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// nodeTaint marks a new node not-ready until the node lifecycle controller
// has seen it report Ready, so nothing is scheduled onto it too early.
type nodeTaint struct {
	*admission.Handler
}

var _ admission.MutationInterface = &nodeTaint{}

func (p *nodeTaint) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != nodesResource || a.GetSubresource() != "" {
		return nil
	}
	node, ok := a.GetObject().(*corev1.Node)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("unexpected type %T", a.GetObject()))
	}
	addNotReadyTaint(node)
	return nil
}

func addNotReadyTaint(node *corev1.Node) {
	taint := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	for _, t := range node.Spec.Taints {
		if t.MatchTaint(&taint) {
			return
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, taint)
}
