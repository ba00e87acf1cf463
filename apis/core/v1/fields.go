package v1

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apis/internal/fieldlabel"
)

// fieldLabels lists, per kind, the field selector labels Kubernetes 1.37
// accepts. Kinds not listed accept only metadata.name and metadata.namespace,
// which the scheme allows by default.
var fieldLabels = map[string]runtime.FieldLabelConversionFunc{
	"Pod": fieldlabel.Renaming(map[string]string{
		"metadata.name":            "metadata.name",
		"metadata.namespace":       "metadata.namespace",
		"spec.nodeName":            "spec.nodeName",
		"spec.restartPolicy":       "spec.restartPolicy",
		"spec.schedulerName":       "spec.schedulerName",
		"spec.serviceAccountName":  "spec.serviceAccountName",
		"spec.hostNetwork":         "spec.hostNetwork",
		"status.phase":             "status.phase",
		"status.podIP":             "status.podIP",
		"status.podIPs":            "status.podIPs",
		"status.nominatedNodeName": "status.nominatedNodeName",
		// Clients of the first v1 releases still select on spec.host.
		"spec.host": "spec.nodeName",
	}),
	"Node": fieldlabel.Accepting("metadata.name", "spec.unschedulable"),
	"ReplicationController": fieldlabel.Accepting(
		"metadata.name", "metadata.namespace", "status.replicas"),
	"Event": fieldlabel.Accepting(
		"involvedObject.kind",
		"involvedObject.namespace",
		"involvedObject.name",
		"involvedObject.uid",
		"involvedObject.apiVersion",
		"involvedObject.resourceVersion",
		"involvedObject.fieldPath",
		"reason",
		"reportingComponent",
		"source",
		"type",
		"metadata.namespace",
		"metadata.name",
	),
	"Namespace": fieldlabel.Accepting("status.phase", "metadata.name"),
	"Secret":    fieldlabel.Accepting("type", "metadata.namespace", "metadata.name"),
	"Service": fieldlabel.Accepting(
		"metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type"),
}

func addFieldLabelConversions(s *runtime.Scheme) error {
	for kind, fn := range fieldLabels {
		if err := fieldlabel.Register(s, corev1.SchemeGroupVersion.WithKind(kind), fn); err != nil {
			return err
		}
	}
	return nil
}

// PodSelectableFields is the field set a field selector on pods matches.
// status.podIPs is an accepted label but, as in Kubernetes, has no field, so
// a selector on it matches only the empty value.
func PodSelectableFields(pod *corev1.Pod) fields.Set {
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fieldlabel.With(&pod.ObjectMeta, true, fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	})
}

// NodeSelectableFields is the field set a field selector on nodes matches.
func NodeSelectableFields(node *corev1.Node) fields.Set {
	return fieldlabel.With(&node.ObjectMeta, false, fields.Set{
		"spec.unschedulable": strconv.FormatBool(node.Spec.Unschedulable),
	})
}

// ReplicationControllerSelectableFields is the field set a field selector on
// replication controllers matches.
func ReplicationControllerSelectableFields(rc *corev1.ReplicationController) fields.Set {
	return fieldlabel.With(&rc.ObjectMeta, true, fields.Set{
		"status.replicas": strconv.Itoa(int(rc.Status.Replicas)),
	})
}

// EventSelectableFields is the field set a field selector on events matches,
// both in core/v1 and in events.k8s.io/v1, whose labels are renamed to these.
func EventSelectableFields(event *corev1.Event) fields.Set {
	// Events written through events.k8s.io carry no source component; their
	// reporting controller stands in for it.
	source := event.Source.Component
	if source == "" {
		source = event.ReportingController
	}
	ref := event.InvolvedObject
	return fieldlabel.With(&event.ObjectMeta, true, fields.Set{
		"involvedObject.kind":            ref.Kind,
		"involvedObject.namespace":       ref.Namespace,
		"involvedObject.name":            ref.Name,
		"involvedObject.uid":             string(ref.UID),
		"involvedObject.apiVersion":      ref.APIVersion,
		"involvedObject.resourceVersion": ref.ResourceVersion,
		"involvedObject.fieldPath":       ref.FieldPath,
		"reason":                         event.Reason,
		"reportingComponent":             event.ReportingController,
		"source":                         source,
		"type":                           event.Type,
	})
}

// NamespaceSelectableFields is the field set a field selector on namespaces
// matches. The bare "name" field is a historical mistake kept for clients
// that depend on it; it is matchable but not an accepted label.
func NamespaceSelectableFields(ns *corev1.Namespace) fields.Set {
	return fieldlabel.With(&ns.ObjectMeta, false, fields.Set{
		"status.phase": string(ns.Status.Phase),
		"name":         ns.Name,
	})
}

// SecretSelectableFields is the field set a field selector on secrets matches.
func SecretSelectableFields(secret *corev1.Secret) fields.Set {
	return fieldlabel.With(&secret.ObjectMeta, true, fields.Set{
		"type": string(secret.Type),
	})
}

// ServiceSelectableFields is the field set a field selector on services
// matches.
func ServiceSelectableFields(svc *corev1.Service) fields.Set {
	return fieldlabel.With(&svc.ObjectMeta, true, fields.Set{
		"spec.clusterIP": svc.Spec.ClusterIP,
		"spec.type":      string(svc.Spec.Type),
	})
}

// PersistentVolumeSelectableFields is the field set a field selector on
// persistent volumes matches, with the historical bare "name" field.
func PersistentVolumeSelectableFields(pv *corev1.PersistentVolume) fields.Set {
	return fieldlabel.With(&pv.ObjectMeta, false, fields.Set{"name": pv.Name})
}

// PersistentVolumeClaimSelectableFields is the field set a field selector on
// persistent volume claims matches, with the historical bare "name" field.
func PersistentVolumeClaimSelectableFields(pvc *corev1.PersistentVolumeClaim) fields.Set {
	return fieldlabel.With(&pvc.ObjectMeta, true, fields.Set{"name": pvc.Name})
}
