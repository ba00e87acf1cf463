package v1

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apis/internal/fieldlabel"
)

// jobFieldLabels accepts the labels Kubernetes accepts for jobs, with the
// job-specific wording of its error.
func jobFieldLabels(label, value string) (string, string, error) {
	switch label {
	case "metadata.name", "metadata.namespace", "status.successful":
		return label, value, nil
	}
	return "", "", fmt.Errorf("field label %q not supported for Job", label)
}

func addFieldLabelConversions(s *runtime.Scheme) error {
	return fieldlabel.Register(s, batchv1.SchemeGroupVersion.WithKind("Job"), jobFieldLabels)
}

// JobSelectableFields is the field set a field selector on jobs matches.
func JobSelectableFields(job *batchv1.Job) fields.Set {
	return fieldlabel.With(&job.ObjectMeta, true, fields.Set{
		"status.successful": strconv.Itoa(int(job.Status.Succeeded)),
	})
}
