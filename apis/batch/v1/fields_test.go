package v1

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func TestJobFieldLabels(t *testing.T) {
	tests := []struct{ label, wantErr string }{
		{label: "status.successful"},
		{label: "metadata.namespace"},
		{label: "status.failed", wantErr: `field label "status.failed" not supported for Job`},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			got, _, err := jobFieldLabels(tt.label, "1")
			switch {
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.label):
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
	set := JobSelectableFields(&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "n"}, Status: batchv1.JobStatus{Succeeded: 2}})
	if !fields.SelectorFromSet(fields.Set{"status.successful": "2", "metadata.namespace": "n", "metadata.name": "j"}).Matches(set) {
		t.Errorf("field set %v", set)
	}
}
