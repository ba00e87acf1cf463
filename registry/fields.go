package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	skiffappsv1 "github.com/skiff-dev/skiff/apis/apps/v1"
	skiffbatchv1 "github.com/skiff-dev/skiff/apis/batch/v1"
	skiffcertificatesv1 "github.com/skiff-dev/skiff/apis/certificates/v1"
	skiffcorev1 "github.com/skiff-dev/skiff/apis/core/v1"
)

// selectableFields returns the field-selector fields of the kinds that have
// more than metadata.name and metadata.namespace, or nil.
func selectableFields(obj runtime.Object) fields.Set {
	switch o := obj.(type) {
	case *corev1.Pod:
		return skiffcorev1.PodSelectableFields(o)
	case *corev1.Node:
		return skiffcorev1.NodeSelectableFields(o)
	case *corev1.ReplicationController:
		return skiffcorev1.ReplicationControllerSelectableFields(o)
	case *corev1.Event:
		return skiffcorev1.EventSelectableFields(o)
	case *corev1.Namespace:
		return skiffcorev1.NamespaceSelectableFields(o)
	case *corev1.Secret:
		return skiffcorev1.SecretSelectableFields(o)
	case *corev1.Service:
		return skiffcorev1.ServiceSelectableFields(o)
	case *corev1.PersistentVolume:
		return skiffcorev1.PersistentVolumeSelectableFields(o)
	case *corev1.PersistentVolumeClaim:
		return skiffcorev1.PersistentVolumeClaimSelectableFields(o)
	case *appsv1.ReplicaSet:
		return skiffappsv1.ReplicaSetSelectableFields(o)
	case *batchv1.Job:
		return skiffbatchv1.JobSelectableFields(o)
	case *certificatesv1.CertificateSigningRequest:
		return skiffcertificatesv1.CertificateSigningRequestSelectableFields(o)
	}
	return nil
}
