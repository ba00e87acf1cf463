package admission

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	storagev1listers "k8s.io/client-go/listers/storage/v1"
)

// PersistentVolumeClaimResizePluginName is the name kube-apiserver
// registers the PersistentVolumeClaimResize admission plugin under.
const PersistentVolumeClaimResizePluginName = "PersistentVolumeClaimResize"

func registerPersistentVolumeClaimResize(plugins *admission.Plugins) {
	plugins.Register(PersistentVolumeClaimResizePluginName, func(io.Reader) (admission.Interface, error) {
		return &pvcResize{Handler: admission.NewHandler(admission.Update)}, nil
	})
}

// pvcResize lets a claim grow only when it is bound and its StorageClass
// allows volume expansion.
type pvcResize struct {
	*admission.Handler
	lister storagev1listers.StorageClassLister
}

var (
	_ admission.ValidationInterface                         = &pvcResize{}
	_ admission.InitializationValidator                     = &pvcResize{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &pvcResize{}
)

func (p *pvcResize) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	classes := f.Storage().V1().StorageClasses()
	p.lister = classes.Lister()
	p.SetReadyFunc(classes.Informer().HasSynced)
}

func (p *pvcResize) ValidateInitialization() error {
	if p.lister == nil {
		return fmt.Errorf("missing storageclass lister")
	}
	return nil
}

func (p *pvcResize) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != pvcsResource || a.GetSubresource() != "" {
		return nil
	}
	pvc, ok := a.GetObject().(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	old, ok := a.GetOldObject().(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) <= 0 {
		return nil
	}
	if old.Status.Phase != corev1.ClaimBound {
		return admission.NewForbidden(a, fmt.Errorf("Only bound persistent volume claims can be expanded")) //nolint:staticcheck // upstream's message
	}
	if !p.allowResize(pvc, old) {
		return admission.NewForbidden(a, fmt.Errorf("only dynamically provisioned pvc can be resized and "+
			"the storageclass that provisions the pvc must support resize"))
	}
	return nil
}

// allowResize: the claim keeps its class and that class allows expansion.
func (p *pvcResize) allowResize(pvc, old *corev1.PersistentVolumeClaim) bool {
	class, oldClass := claimClass(pvc), claimClass(old)
	if class == "" || oldClass == "" || class != oldClass {
		return false
	}
	sc, err := p.lister.Get(class)
	if err != nil {
		return false
	}
	return sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
}

// claimClass is the claim's class, the legacy annotation taking precedence.
func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if class, found := pvc.Annotations[betaStorageClassAnnotation]; found {
		return class
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}
