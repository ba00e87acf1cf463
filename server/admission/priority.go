package admission

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	schedulingv1listers "k8s.io/client-go/listers/scheduling/v1"
	"k8s.io/klog/v2"
)

const (
	// PriorityPluginName is the name kube-apiserver registers the Priority
	// admission plugin under.
	PriorityPluginName = "Priority"
	// SystemPriorityClassesHookName is the post-start hook that creates the
	// system PriorityClasses, named as in kube-apiserver.
	SystemPriorityClassesHookName = "scheduling/bootstrap-system-priority-classes"

	// systemCriticalPriority is where the values reserved for system
	// components start: twice the highest user-definable priority.
	systemCriticalPriority = int32(2000000000)
)

// SystemPriorityClasses returns fresh copies of the PriorityClasses every
// cluster has from the start.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{
			ObjectMeta:  metav1.ObjectMeta{Name: "system-node-critical"},
			Value:       systemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node.",
		},
		{
			ObjectMeta:  metav1.ObjectMeta{Name: "system-cluster-critical"},
			Value:       systemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
		},
	}
}

// AddSystemPriorityClasses is the post-start hook creating the system
// PriorityClasses. Like kube-apiserver it retries for 30 s and then fails
// the server, since critical components cannot be scheduled without them.
func AddSystemPriorityClasses(hc genericapiserver.PostStartHookContext) error {
	client, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("unable to initialize client: %w", err)
	}
	pcs := client.SchedulingV1().PriorityClasses()
	err = wait.PollUntilContextTimeout(hc, time.Second, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, pc := range SystemPriorityClasses() {
			_, err := pcs.Get(ctx, pc.Name, metav1.GetOptions{})
			if err == nil {
				continue
			}
			if !apierrors.IsNotFound(err) {
				klog.Warningf("unable to get PriorityClass %v: %v. Retrying...", pc.Name, err)
				return false, nil
			}
			_, err = pcs.Create(ctx, pc, metav1.CreateOptions{})
			switch {
			case err == nil || apierrors.IsAlreadyExists(err):
				klog.Infof("created PriorityClass %s with value %v", pc.Name, pc.Value)
			case apierrors.IsServiceUnavailable(err):
				klog.Infof("going to retry, unable to create PriorityClass %s: %v", pc.Name, err)
				return false, nil
			default:
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("unable to add default system priority classes: %w", err)
	}
	return nil
}

func registerPriority(plugins *admission.Plugins) {
	plugins.Register(PriorityPluginName, func(io.Reader) (admission.Interface, error) {
		return &priority{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete)}, nil
	})
}

// priority resolves a pod's priorityClassName into spec.priority and
// spec.preemptionPolicy, and keeps at most one PriorityClass globalDefault.
type priority struct {
	*admission.Handler
	lister schedulingv1listers.PriorityClassLister
}

var (
	_ admission.MutationInterface                           = &priority{}
	_ admission.ValidationInterface                         = &priority{}
	_ admission.InitializationValidator                     = &priority{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &priority{}
)

func (p *priority) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	classes := f.Scheduling().V1().PriorityClasses()
	p.lister = classes.Lister()
	p.SetReadyFunc(classes.Informer().HasSynced)
}

func (p *priority) ValidateInitialization() error {
	if p.lister == nil {
		return fmt.Errorf("%s requires a lister", PriorityPluginName)
	}
	return nil
}

var (
	podsResource            = corev1.Resource("pods")
	priorityClassesResource = schedulingv1.Resource("priorityclasses")
)

func (p *priority) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().GroupResource() != podsResource {
		return nil
	}
	// Delete is in the handler's operations as upstream, but there is no
	// new object to resolve then.
	op := a.GetOperation()
	if op != admission.Create && op != admission.Update {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return apierrors.NewBadRequest("resource was marked with kind Pod but was unable to be converted")
	}
	switch op {
	case admission.Update:
		old, ok := a.GetOldObject().(*corev1.Pod)
		if !ok {
			return apierrors.NewBadRequest("resource was marked with kind Pod but was unable to be converted")
		}
		// Priority is set once, at creation; an update that omits it keeps
		// it (validation forbids changing it anyway).
		if pod.Spec.Priority == nil {
			pod.Spec.Priority = old.Spec.Priority
		}
		if pod.Spec.PreemptionPolicy == nil {
			pod.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy
		}
	case admission.Create:
		return p.admitNewPod(a, pod)
	}
	return nil
}

func (p *priority) admitNewPod(a admission.Attributes, pod *corev1.Pod) error {
	name, value, policy, err := p.resolve(a, pod.Spec.PriorityClassName)
	if err != nil {
		return err
	}
	pod.Spec.PriorityClassName = name
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return admission.NewForbidden(a, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if policy != nil {
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != *policy {
			return admission.NewForbidden(a, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, *policy))
		}
		pol := *policy
		pod.Spec.PreemptionPolicy = &pol
	}
	return nil
}

// resolve finds the class a pod gets: the named one, or without a name the
// global default, or with no default priority 0 preempting lower ones.
func (p *priority) resolve(a admission.Attributes, className string) (string, int32, *corev1.PreemptionPolicy, error) {
	if className == "" {
		def, err := p.defaultClass()
		if err != nil {
			return "", 0, nil, fmt.Errorf("error occurred while retrieving default priority class: %w", err)
		}
		if def == nil {
			lower := corev1.PreemptLowerPriority
			return "", 0, &lower, nil
		}
		return def.Name, def.Value, def.PreemptionPolicy, nil
	}
	pc, err := p.lister.Get(className)
	if apierrors.IsNotFound(err) {
		return "", 0, nil, admission.NewForbidden(a, fmt.Errorf("no PriorityClass with name %v was found", className))
	}
	if err != nil {
		return "", 0, nil, fmt.Errorf("failed to resolve PriorityClass with name %s: %w", className, err)
	}
	return className, pc.Value, pc.PreemptionPolicy, nil
}

// defaultClass returns the globalDefault class; should a race have left
// several, the lowest value wins, as in kube-apiserver.
func (p *priority) defaultClass() (*schedulingv1.PriorityClass, error) {
	all, err := p.lister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, pc := range all {
		if pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}

func (p *priority) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().GroupResource() != priorityClassesResource {
		return nil
	}
	op := a.GetOperation()
	if op != admission.Create && op != admission.Update {
		return nil
	}
	pc, ok := a.GetObject().(*schedulingv1.PriorityClass)
	if !ok {
		return apierrors.NewBadRequest("resource was marked with kind PriorityClass but was unable to be converted")
	}
	if !pc.GlobalDefault {
		return nil
	}
	def, err := p.defaultClass()
	if err != nil {
		return fmt.Errorf("failed to get default priority class: %w", err)
	}
	if def != nil && (op == admission.Create || def.Name != pc.Name) {
		return admission.NewForbidden(a, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
	}
	return nil
}
