package v1

import (
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apis/internal/fieldlabel"
)

// fieldLabels renames the events.k8s.io/v1 labels to the core/v1 field names
// of the stored Event, the ones core/v1's EventSelectableFields sets.
// source, reportingComponent and involvedObject.* themselves are not
// accepted here, as in Kubernetes.
var fieldLabels = fieldlabel.Renaming(map[string]string{
	"reason":                    "reason",
	"regarding.kind":            "involvedObject.kind",
	"regarding.namespace":       "involvedObject.namespace",
	"regarding.name":            "involvedObject.name",
	"regarding.uid":             "involvedObject.uid",
	"regarding.apiVersion":      "involvedObject.apiVersion",
	"regarding.resourceVersion": "involvedObject.resourceVersion",
	"regarding.fieldPath":       "involvedObject.fieldPath",
	"reportingController":       "reportingComponent",
	"type":                      "type",
	"metadata.namespace":        "metadata.namespace",
	"metadata.name":             "metadata.name",
})

// addFieldLabelConversions registers the renaming for the external kind
// only: the group's internal Event is the core/v1 type, whose labels are
// core's.
func addFieldLabelConversions(s *runtime.Scheme) error {
	return s.AddFieldLabelConversionFunc(eventsv1.SchemeGroupVersion.WithKind("Event"), fieldLabels)
}
