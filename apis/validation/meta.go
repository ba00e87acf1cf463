package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nameFunc reports what is wrong with a name; prefix is true for a
// generateName, which may end in a dash.
type nameFunc = apimachineryvalidation.ValidateNameFunc

var (
	nameIsDNSSubdomain  nameFunc = apimachineryvalidation.NameIsDNSSubdomain
	nameIsDNSLabel      nameFunc = apimachineryvalidation.NameIsDNSLabel
	nameIsDNS1035Label  nameFunc = apimachineryvalidation.NameIsDNS1035Label
	namespaceNameFunc   nameFunc = apimachineryvalidation.ValidateNamespaceName
	serviceAccountNameF nameFunc = apimachineryvalidation.ValidateServiceAccountName
)

var metadataPath = field.NewPath("metadata")

// validateObjectMeta validates the metadata of a new object; finalizer names
// additionally get the core check for unqualified, non-standard names.
func validateObjectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn nameFunc, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(m, namespaced, nameFn, fldPath)
	for i := range m.Finalizers {
		allErrs = append(allErrs, validateKubeFinalizerName(m.Finalizers[i], fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

// validateObjectMetaUpdate validates metadata changes of an update.
func validateObjectMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, fldPath)
	for i := range newMeta.Finalizers {
		allErrs = append(allErrs, validateKubeFinalizerName(newMeta.Finalizers[i], fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

func validateMetaAccessor(m metav1.Object, namespaced bool, nameFn nameFunc, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaAccessor(m, namespaced, nameFn, fldPath)
	for i, f := range m.GetFinalizers() {
		allErrs = append(allErrs, validateKubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

func validateMetaAccessorUpdate(m, old metav1.Object, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaAccessorUpdate(m, old, fldPath)
	for i, f := range m.GetFinalizers() {
		allErrs = append(allErrs, validateKubeFinalizerName(f, fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

// validateKubeFinalizerName rejects unqualified finalizer names other than the
// ones Kubernetes itself defines.
func validateKubeFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(name, "/") {
		return nil
	}
	switch name {
	case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified")}
}

// validateFinalizerName is the full check used for namespace spec finalizers.
func validateFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateFinalizerName(name, fldPath)
	return append(allErrs, validateKubeFinalizerName(name, fldPath)...)
}

// validateTemplateObjectMeta checks the metadata embedded in a template that
// only carries labels and annotations (e.g. a PVC template).
func validateTemplateObjectMeta(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateAnnotations(m.Annotations, fldPath.Child("annotations"))
	allErrs = append(allErrs, metavalidation.ValidateLabels(m.Labels, fldPath.Child("labels"))...)
	allErrs = append(allErrs, validateFieldAllowList(*m, allowedTemplateObjectMetaFields, "cannot be set", fldPath)...)
	return allErrs
}

var allowedTemplateObjectMetaFields = map[string]bool{"Annotations": true, "Labels": true}
