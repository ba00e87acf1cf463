package admission

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	nodev1client "k8s.io/client-go/kubernetes/typed/node/v1"
	nodev1listers "k8s.io/client-go/listers/node/v1"
	"k8s.io/klog/v2"
)

// RuntimeClassPluginName is the name kube-apiserver registers the
// RuntimeClass admission plugin under.
const RuntimeClassPluginName = "RuntimeClass"

func registerRuntimeClass(plugins *admission.Plugins) {
	plugins.Register(RuntimeClassPluginName, func(io.Reader) (admission.Interface, error) {
		return &runtimeClass{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// runtimeClass copies a pod's RuntimeClass overhead and scheduling
// constraints into the pod, and refuses pods naming a class that does not
// exist.
type runtimeClass struct {
	*admission.Handler
	lister nodev1listers.RuntimeClassLister
	client nodev1client.RuntimeClassInterface
}

var (
	_ admission.MutationInterface                           = &runtimeClass{}
	_ admission.ValidationInterface                         = &runtimeClass{}
	_ admission.InitializationValidator                     = &runtimeClass{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &runtimeClass{}
	_ genericadmissioninit.WantsExternalKubeClientSet       = &runtimeClass{}
)

func (r *runtimeClass) SetExternalKubeClientSet(c kubernetes.Interface) {
	r.client = c.NodeV1().RuntimeClasses()
}

func (r *runtimeClass) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	rcs := f.Node().V1().RuntimeClasses()
	r.SetReadyFunc(rcs.Informer().HasSynced)
	r.lister = rcs.Lister()
}

func (r *runtimeClass) ValidateInitialization() error {
	if r.lister == nil {
		return fmt.Errorf("missing RuntimeClass lister")
	}
	if r.client == nil {
		return fmt.Errorf("missing RuntimeClass client")
	}
	return nil
}

func (r *runtimeClass) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().GroupResource() != podsResource {
		return nil
	}
	pod, rc, err := r.prepare(ctx, a)
	if err != nil {
		return err
	}
	if err := setOverhead(a, pod, rc); err != nil {
		return err
	}
	return setScheduling(a, pod, rc)
}

func (r *runtimeClass) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().GroupResource() != podsResource {
		return nil
	}
	pod, rc, err := r.prepare(ctx, a)
	if err != nil {
		return err
	}
	return validateOverhead(a, pod, rc)
}

// prepare looks the class up in the informer and, should it be missing
// there, on the server, since it may have been created moments ago.
func (r *runtimeClass) prepare(ctx context.Context, a admission.Attributes) (*corev1.Pod, *nodev1.RuntimeClass, error) {
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil, nil, apierrors.NewBadRequest("Resource was marked with kind Pod but was unable to be converted")
	}
	if pod.Spec.RuntimeClassName == nil {
		return pod, nil, nil
	}
	name := *pod.Spec.RuntimeClassName
	rc, err := r.lister.Get(name)
	if apierrors.IsNotFound(err) {
		rc, err = r.client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return pod, nil, admission.NewForbidden(a, fmt.Errorf("pod rejected: RuntimeClass %q not found", name))
		}
	}
	return pod, rc, err
}

func setOverhead(a admission.Attributes, pod *corev1.Pod, rc *nodev1.RuntimeClass) error {
	if rc == nil || rc.Overhead == nil {
		return nil
	}
	fixed := rc.Overhead.PodFixed.DeepCopy()
	if len(pod.Spec.Overhead) > 0 && !apiequality.Semantic.DeepEqual(fixed, pod.Spec.Overhead) {
		return admission.NewForbidden(a, fmt.Errorf("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"))
	}
	pod.Spec.Overhead = fixed
	return nil
}

func setScheduling(a admission.Attributes, pod *corev1.Pod, rc *nodev1.RuntimeClass) error {
	if rc == nil || rc.Scheduling == nil {
		return nil
	}
	sched := rc.Scheduling.DeepCopy()
	selector := pod.Spec.NodeSelector
	if selector == nil {
		selector = sched.NodeSelector
	} else {
		for key, rcValue := range sched.NodeSelector {
			if podValue, ok := selector[key]; ok && podValue != rcValue {
				return admission.NewForbidden(a, fmt.Errorf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", key, rcValue, key, podValue))
			}
			selector[key] = rcValue
		}
	}
	pod.Spec.NodeSelector = selector
	pod.Spec.Tolerations = mergeTolerations(pod.Spec.Tolerations, sched.Tolerations)
	return nil
}

func validateOverhead(a admission.Attributes, pod *corev1.Pod, rc *nodev1.RuntimeClass) error {
	if rc != nil && rc.Overhead != nil {
		if !apiequality.Semantic.DeepEqual(rc.Overhead.PodFixed, pod.Spec.Overhead) {
			return admission.NewForbidden(a, fmt.Errorf("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"))
		}
		return nil
	}
	if pod.Spec.Overhead != nil {
		return admission.NewForbidden(a, fmt.Errorf("pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead"))
	}
	return nil
}

// mergeTolerations joins two toleration lists, dropping every toleration
// another one in the result already covers.
func mergeTolerations(first, second []corev1.Toleration) []corev1.Toleration {
	all := make([]corev1.Toleration, 0, len(first)+len(second))
	all = append(append(all, first...), second...)
	var merged []corev1.Toleration
next:
	for i, t := range all {
		for _, m := range merged {
			if tolerationCovers(m, t) {
				continue next
			}
		}
		for _, later := range all[i+1:] {
			if !apiequality.Semantic.DeepEqual(&t, &later) && tolerationCovers(later, t) {
				continue next
			}
		}
		merged = append(merged, t)
	}
	return merged
}

// tolerationCovers reports whether ss tolerates everything t does.
func tolerationCovers(ss, t corev1.Toleration) bool {
	if apiequality.Semantic.DeepEqual(&t, &ss) {
		return true
	}
	if t.Key != ss.Key && (ss.Key != "" || ss.Operator != corev1.TolerationOpExists) {
		return false
	}
	if t.Effect != ss.Effect && ss.Effect != "" {
		return false
	}
	if ss.Effect == corev1.TaintEffectNoExecute && ss.TolerationSeconds != nil {
		if t.TolerationSeconds == nil || *t.TolerationSeconds > *ss.TolerationSeconds {
			return false
		}
	}
	switch ss.Operator {
	case corev1.TolerationOpEqual, "":
		return t.Operator == corev1.TolerationOpEqual && t.Value == ss.Value
	case corev1.TolerationOpExists:
		return true
	default:
		klog.ErrorS(nil, "Unknown toleration operator", "operator", ss.Operator)
		return false
	}
}
