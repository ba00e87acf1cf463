package admission

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
)

const (
	// DefaultTolerationSecondsPluginName is the name kube-apiserver
	// registers the DefaultTolerationSeconds admission plugin under.
	DefaultTolerationSecondsPluginName = "DefaultTolerationSeconds"

	// defaultTolerationSeconds is how long a pod stays bound to a node
	// that is not ready or unreachable before it is evicted: the default
	// of kube-apiserver's --default-not-ready-toleration-seconds and
	// --default-unreachable-toleration-seconds.
	defaultTolerationSeconds = int64(300)
)

func registerDefaultTolerationSeconds(plugins *admission.Plugins) {
	plugins.Register(DefaultTolerationSecondsPluginName, func(io.Reader) (admission.Interface, error) {
		return &defaultTolerations{Handler: admission.NewHandler(admission.Create, admission.Update)}, nil
	})
}

// defaultTolerations gives pods a bounded tolerance for NoExecute
// not-ready and unreachable taints, so they are evicted from a lost node
// after five minutes rather than at once.
type defaultTolerations struct {
	*admission.Handler
}

var _ admission.MutationInterface = &defaultTolerations{}

func (p *defaultTolerations) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != podsResource || a.GetSubresource() != "" {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("expected *api.Pod but got %T", a.GetObject()))
	}
	addDefaultTolerations(pod)
	return nil
}

func addDefaultTolerations(pod *corev1.Pod) {
	notReady, unreachable := false, false
	for _, t := range pod.Spec.Tolerations {
		// An empty key or effect tolerates every taint of that kind.
		if t.Effect != corev1.TaintEffectNoExecute && t.Effect != "" {
			continue
		}
		if t.Key == corev1.TaintNodeNotReady || t.Key == "" {
			notReady = true
		}
		if t.Key == corev1.TaintNodeUnreachable || t.Key == "" {
			unreachable = true
		}
	}
	add := func(key string) {
		seconds := defaultTolerationSeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: &seconds,
		})
	}
	if !notReady {
		add(corev1.TaintNodeNotReady)
	}
	if !unreachable {
		add(corev1.TaintNodeUnreachable)
	}
}
