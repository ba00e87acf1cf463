package admission

import (
	"context"
	"errors"
	"fmt"
	"io"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	psadmission "k8s.io/pod-security-admission/admission"
	psconfig "k8s.io/pod-security-admission/admission/api/load"
	psapi "k8s.io/pod-security-admission/api"
	psmetrics "k8s.io/pod-security-admission/metrics"
	pspolicy "k8s.io/pod-security-admission/policy"
)

// PodSecurityPluginName is the name kube-apiserver registers the Pod
// Security admission plugin under.
const PodSecurityPluginName = "PodSecurity"

func registerPodSecurity(plugins *admission.Plugins) {
	plugins.Register(PodSecurityPluginName, func(config io.Reader) (admission.Interface, error) {
		return newPodSecurity(config)
	})
}

// podSecurity adapts the pod-security-admission library to the generic
// admission chain. Without a configuration file the library's defaults
// apply: every level privileged at "latest", no exemptions.
type podSecurity struct {
	*admission.Handler

	client          kubernetes.Interface
	namespaceLister corev1listers.NamespaceLister
	podLister       corev1listers.PodLister

	delegate *psadmission.Admission
}

var (
	_ admission.ValidationInterface                         = &podSecurity{}
	_ admission.InitializationValidator                     = &podSecurity{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &podSecurity{}
	_ genericadmissioninit.WantsExternalKubeClientSet       = &podSecurity{}
)

func newPodSecurity(config io.Reader) (*podSecurity, error) {
	cfg, err := psconfig.LoadFromReader(config)
	if err != nil {
		return nil, fmt.Errorf("loading the PodSecurity configuration: %w", err)
	}
	evaluator, err := pspolicy.NewEvaluator(pspolicy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the PodSecurity evaluator: %w", err)
	}
	return &podSecurity{
		Handler: admission.NewHandler(admission.Create, admission.Update),
		delegate: &psadmission.Admission{
			Configuration: cfg,
			Evaluator:     evaluator,
			// Not registered with a metrics registry: doing so is
			// process-global and would panic for a second server in one
			// process.
			Metrics:          psmetrics.NewPrometheusRecorder(psapi.GetAPIVersion()),
			PodSpecExtractor: psadmission.DefaultPodSpecExtractor{},
		},
	}, nil
}

func (p *podSecurity) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	namespaces := f.Core().V1().Namespaces()
	p.namespaceLister = namespaces.Lister()
	p.podLister = f.Core().V1().Pods().Lister()
	p.SetReadyFunc(namespaces.Informer().HasSynced)
	p.wireDelegate()
}

func (p *podSecurity) SetExternalKubeClientSet(client kubernetes.Interface) {
	p.client = client
	p.wireDelegate()
}

// wireDelegate runs after each initializer because their order is not
// guaranteed; it completes once both listers and the client are known.
func (p *podSecurity) wireDelegate() {
	if p.namespaceLister == nil || p.podLister == nil || p.client == nil {
		return
	}
	p.delegate.PodLister = psadmission.PodListerFromInformer(p.podLister)
	p.delegate.NamespaceGetter = psadmission.NamespaceGetterFromListerAndClient(p.namespaceLister, p.client)
}

func (p *podSecurity) ValidateInitialization() error {
	if err := p.delegate.CompleteConfiguration(); err != nil {
		return fmt.Errorf("%s configuration error: %w", PodSecurityPluginName, err)
	}
	if err := p.delegate.ValidateConfiguration(); err != nil {
		return fmt.Errorf("%s invalid: %w", PodSecurityPluginName, err)
	}
	return nil
}

var podSecurityResources = map[schema.GroupResource]bool{
	corev1.Resource("pods"):       true,
	corev1.Resource("namespaces"): true,
}

func (p *podSecurity) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	gr := a.GetResource().GroupResource()
	if !podSecurityResources[gr] && !p.delegate.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	result := p.delegate.Validate(ctx, psAttributes{a})
	for _, w := range result.Warnings {
		warning.AddWarning(ctx, "", w)
	}
	if len(result.AuditAnnotations) > 0 {
		kv := make([]string, 0, 2*len(result.AuditAnnotations))
		for k, v := range result.AuditAnnotations {
			kv = append(kv, psapi.AuditAnnotationPrefix+k, v)
		}
		audit.AddAuditAnnotations(ctx, kv...)
	}
	if result.Allowed {
		return nil
	}
	// The library's status, when it has one, carries the exact upstream
	// message ("violates PodSecurity ..."); the generic one is a fallback.
	statusErr := admission.NewForbidden(a, errors.New("Not allowed by PodSecurity")).(*apierrors.StatusError)
	if r := result.Result; r != nil {
		if r.Message != "" {
			statusErr.ErrStatus.Message = r.Message
		}
		if r.Reason != "" {
			statusErr.ErrStatus.Reason = r.Reason
		}
		if r.Details != nil {
			statusErr.ErrStatus.Details = r.Details
		}
		if r.Code != 0 {
			statusErr.ErrStatus.Code = r.Code
		}
	}
	return statusErr
}

// psAttributes presents generic admission attributes the way the library
// wants them. skiff's objects are already v1, so unlike kube-apiserver no
// conversion from internal types is needed.
type psAttributes struct{ admission.Attributes }

func (a psAttributes) GetOperation() admissionv1.Operation {
	return admissionv1.Operation(a.Attributes.GetOperation())
}

func (a psAttributes) GetObject() (runtime.Object, error) { return a.Attributes.GetObject(), nil }

func (a psAttributes) GetOldObject() (runtime.Object, error) {
	return a.Attributes.GetOldObject(), nil
}

func (a psAttributes) GetUserName() string { return a.GetUserInfo().GetName() }
