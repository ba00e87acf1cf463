package admission

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	resourcehelper "k8s.io/component-helpers/resource"
)

const (
	// PodResizeValidatorPluginName is the name kube-apiserver registers
	// the PodResizeValidator admission plugin under. InPlacePodVerticalScaling
	// is GA in 1.37, so it is always active.
	PodResizeValidatorPluginName = "PodResizeValidator"

	// Causes attached to a refused resize, for clients to tell why.
	reasonNodeCapacity        metav1.CauseType = "NodeCapacity"
	reasonUnsupportedPlatform metav1.CauseType = "UnsupportedPlatform"
)

func registerPodResizeValidator(plugins *admission.Plugins) {
	plugins.Register(PodResizeValidatorPluginName, func(io.Reader) (admission.Interface, error) {
		return &podResize{withNodes: newWithNodes(PodResizeValidatorPluginName, admission.Update)}, nil
	})
}

// podResize refuses an in-place resize of a bound pod that its node could
// never satisfy: on a non-Linux node, or beyond the node's allocatable.
type podResize struct {
	withNodes
}

var (
	_ admission.ValidationInterface                         = &podResize{}
	_ admission.InitializationValidator                     = &podResize{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &podResize{}
)

func (p *podResize) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() != admission.Update || a.GetResource().GroupResource() != podsResource || a.GetSubresource() != "resize" {
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
	// An unchanged generation means the spec did not change: nothing to
	// check.
	if old.Generation == pod.Generation {
		return nil
	}
	if !p.WaitForReady() {
		return admission.NewForbidden(a, fmt.Errorf("not yet ready to handle request"))
	}
	node, err := p.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return admission.NewForbidden(a, fmt.Errorf("node %q not found", pod.Spec.NodeName))
	}
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to get node %q: %w", pod.Spec.NodeName, err))
	}
	if os, ok := node.Labels[corev1.LabelOSStable]; ok && os != "linux" {
		return resizeRefused(a, fmt.Errorf("pod resize is only supported on linux nodes, node %q is %q", node.Name, os), reasonUnsupportedPlatform)
	}
	if err := requestsWithinAllocatable(pod, node.Status.Allocatable); err != nil {
		return resizeRefused(a, err, reasonNodeCapacity)
	}
	return nil
}

func resizeRefused(a admission.Attributes, err error, reason metav1.CauseType) error {
	forbidden := admission.NewForbidden(a, err)
	var status *apierrors.StatusError
	if errors.As(forbidden, &status) {
		status.ErrStatus.Details.Causes = append(status.ErrStatus.Details.Causes, metav1.StatusCause{Type: reason})
		return status
	}
	return forbidden
}

func requestsWithinAllocatable(pod *corev1.Pod, allocatable corev1.ResourceList) error {
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	cpu, mem := requests[corev1.ResourceCPU], requests[corev1.ResourceMemory]
	var msg []string
	if allocCPU := allocatable.Cpu(); cpu.Cmp(*allocCPU) > 0 {
		msg = append(msg, fmt.Sprintf("cpu, requested: %d, allocatable: %d", cpu.MilliValue(), allocCPU.MilliValue()))
	}
	if allocMem := allocatable.Memory(); mem.Cmp(*allocMem) > 0 {
		msg = append(msg, fmt.Sprintf("memory, requested: %d, allocatable: %d", mem.Value(), allocMem.Value()))
	}
	if len(msg) > 0 {
		return fmt.Errorf("node didn't have enough allocatable resources: %s", strings.Join(msg, "; "))
	}
	return nil
}
