package admission

import (
	"context"
	"io"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/klog/v2"
)

const (
	// StorageObjectInUseProtectionPluginName is the name kube-apiserver
	// registers the StorageObjectInUseProtection admission plugin under.
	StorageObjectInUseProtectionPluginName = "StorageObjectInUseProtection"

	pvcProtectionFinalizer = "kubernetes.io/pvc-protection"
	pvProtectionFinalizer  = "kubernetes.io/pv-protection"
	vacProtectionFinalizer = "kubernetes.io/vac-protection"
)

var (
	pvsResource  = corev1.Resource("persistentvolumes")
	vacsResource = storagev1.Resource("volumeattributesclasses")
)

func registerStorageObjectInUseProtection(plugins *admission.Plugins) {
	plugins.Register(StorageObjectInUseProtectionPluginName, func(io.Reader) (admission.Interface, error) {
		return &storageProtection{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// storageProtection puts the protection finalizers on new PVs, PVCs and
// VolumeAttributesClasses; the protection controllers remove them once
// nothing uses the object, so a volume in use is never deleted under a pod.
type storageProtection struct {
	*admission.Handler
}

var _ admission.MutationInterface = &storageProtection{}

func (p *storageProtection) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" {
		return nil
	}
	var finalizer string
	var ok bool
	obj := a.GetObject()
	switch a.GetResource().GroupResource() {
	case pvsResource:
		_, ok = obj.(*corev1.PersistentVolume)
		finalizer = pvProtectionFinalizer
	case pvcsResource:
		_, ok = obj.(*corev1.PersistentVolumeClaim)
		finalizer = pvcProtectionFinalizer
	case vacsResource:
		// VolumeAttributesClass is GA and its gate locked on in 1.37.
		_, ok = obj.(*storagev1.VolumeAttributesClass)
		finalizer = vacProtectionFinalizer
	}
	if !ok {
		return nil
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	if slices.Contains(acc.GetFinalizers(), finalizer) {
		return nil
	}
	klog.V(4).InfoS("Adding protection finalizer", "resource", a.GetResource().Resource, "namespace", acc.GetNamespace(), "name", acc.GetName(), "finalizer", finalizer)
	acc.SetFinalizers(append(acc.GetFinalizers(), finalizer))
	return nil
}
