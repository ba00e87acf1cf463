package admission

import (
	"context"
	"fmt"
	"io"
	"sort"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninit "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/client-go/informers"
	storagev1listers "k8s.io/client-go/listers/storage/v1"
	"k8s.io/klog/v2"
)

const (
	// DefaultStorageClassPluginName is the name kube-apiserver registers
	// the DefaultStorageClass admission plugin under.
	DefaultStorageClassPluginName = "DefaultStorageClass"

	isDefaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
	betaStorageClassAnnotation          = "volume.beta.kubernetes.io/storage-class"
)

var pvcsResource = corev1.Resource("persistentvolumeclaims")

func registerDefaultStorageClass(plugins *admission.Plugins) {
	plugins.Register(DefaultStorageClassPluginName, func(io.Reader) (admission.Interface, error) {
		return &defaultStorageClass{Handler: admission.NewHandler(admission.Create)}, nil
	})
}

// defaultStorageClass gives a claim that names no class the cluster's
// default StorageClass.
type defaultStorageClass struct {
	*admission.Handler
	lister storagev1listers.StorageClassLister
}

var (
	_ admission.MutationInterface                           = &defaultStorageClass{}
	_ admission.InitializationValidator                     = &defaultStorageClass{}
	_ genericadmissioninit.WantsExternalKubeInformerFactory = &defaultStorageClass{}
)

func (p *defaultStorageClass) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	classes := f.Storage().V1().StorageClasses()
	p.lister = classes.Lister()
	p.SetReadyFunc(classes.Informer().HasSynced)
}

func (p *defaultStorageClass) ValidateInitialization() error {
	if p.lister == nil {
		return fmt.Errorf("missing lister")
	}
	return nil
}

func (p *defaultStorageClass) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != pvcsResource || a.GetSubresource() != "" {
		return nil
	}
	pvc, ok := a.GetObject().(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	// An explicit class, even "", is the user's choice; "" asks for no
	// class at all.
	if _, found := pvc.Annotations[betaStorageClassAnnotation]; found || pvc.Spec.StorageClassName != nil {
		return nil
	}
	all, err := p.lister.List(labels.Everything())
	if err != nil {
		return admission.NewForbidden(a, err)
	}
	def := defaultClass(all)
	if def == nil {
		return nil
	}
	klog.V(4).InfoS("Defaulting storage class for claim", "claim", pvc.Name, "generateName", pvc.GenerateName, "storageClass", def.Name)
	name := def.Name
	pvc.Spec.StorageClassName = &name
	return nil
}

// defaultClass picks among the classes annotated default the newest one,
// ties broken by name, so adding a new default takes over from the old one
// at once.
func defaultClass(classes []*storagev1.StorageClass) *storagev1.StorageClass {
	return newestDefault(classes, func(c *storagev1.StorageClass) bool {
		return c.Annotations[isDefaultStorageClassAnnotation] == "true" || c.Annotations[betaIsDefaultStorageClassAnnotation] == "true"
	})
}

// newestDefault returns the newest item isDefault accepts, ties broken by
// name, or nil.
func newestDefault[T metav1.Object](items []T, isDefault func(T) bool) T {
	var defaults []T
	for _, it := range items {
		if isDefault(it) {
			defaults = append(defaults, it)
		}
	}
	var none T
	if len(defaults) == 0 {
		return none
	}
	sort.Slice(defaults, func(i, j int) bool {
		ti, tj := defaults[i].GetCreationTimestamp().UnixNano(), defaults[j].GetCreationTimestamp().UnixNano()
		if ti == tj {
			return defaults[i].GetName() < defaults[j].GetName()
		}
		return ti > tj
	})
	return defaults[0]
}
