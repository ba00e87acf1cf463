package admission

import (
	"context"
	"fmt"
	"io"

	networkingv1 "k8s.io/api/networking/v1"
	networkingv1beta1 "k8s.io/api/networking/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	networkingv1listers "k8s.io/client-go/listers/networking/v1"
	"k8s.io/klog/v2"
)

// DefaultIngressClassPluginName is the name kube-apiserver registers the
// DefaultIngressClass admission plugin under.
const DefaultIngressClassPluginName = "DefaultIngressClass"

var ingressesResource = networkingv1.Resource("ingresses")

func registerDefaultIngressClass(plugins *admission.Plugins) {
	plugins.Register(DefaultIngressClassPluginName, func(io.Reader) (admission.Interface, error) {
		return &defaultIngressClass{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// defaultIngressClass gives an Ingress naming no class, by field or by the
// legacy annotation, the cluster's default IngressClass.
type defaultIngressClass struct {
	*admission.Handler
	lister networkingv1listers.IngressClassLister
}

var (
	_ admission.MutationInterface                           = &defaultIngressClass{}
	_ admission.InitializationValidator                     = &defaultIngressClass{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &defaultIngressClass{}
)

func (p *defaultIngressClass) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	classes := f.Networking().V1().IngressClasses()
	p.lister = classes.Lister()
	p.SetReadyFunc(classes.Informer().HasSynced)
}

func (p *defaultIngressClass) ValidateInitialization() error {
	if p.lister == nil {
		return fmt.Errorf("missing lister")
	}
	return nil
}

func (p *defaultIngressClass) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != ingressesResource || a.GetSubresource() != "" {
		return nil
	}
	ing, ok := a.GetObject().(*networkingv1.Ingress)
	if !ok {
		return apierrors.NewInternalError(fmt.Errorf("Expected Ingress resource, got: %v", a.GetKind())) //nolint:staticcheck // upstream's message
	}
	if ing.Spec.IngressClassName != nil {
		return nil
	}
	if _, ok := ing.Annotations[networkingv1beta1.AnnotationIngressClass]; ok {
		return nil
	}
	all, err := p.lister.List(labels.Everything())
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	def := newestDefault(all, func(c *networkingv1.IngressClass) bool {
		return c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true"
	})
	if def == nil {
		return nil
	}
	klog.V(4).InfoS("Defaulting class for Ingress", "ingress", ing.Name, "ingressClass", def.Name)
	name := def.Name
	ing.Spec.IngressClassName = &name
	return nil
}
