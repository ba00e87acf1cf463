package validation

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// validJob is a job as the strategy leaves it: selector generated from the
// UID, template labelled to match.
func validJob() *batchv1.Job {
	uid := types.UID("1a2b")
	lbls := map[string]string{
		"controller-uid": string(uid), "job-name": "pi",
		batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: "pi",
	}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbls}, Spec: validPodSpec()}
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: uid, ResourceVersion: "1"},
		Spec: batchv1.JobSpec{
			Parallelism:    ptr.To[int32](1),
			Completions:    ptr.To[int32](1),
			BackoffLimit:   ptr.To[int32](6),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template:       tmpl,
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion),
			Suspend:        ptr.To(false),
			ManualSelector: nil,
		},
	}
}

func TestValidateJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", func(*batchv1.Job) {}, nil},
		{"restartPolicy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }, []string{
			`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
		}},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) }, []string{
			"spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"negative backoffLimit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](-1) }, []string{
			"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
		}},
		{"unknown completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Sometimes") }, []string{
			`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`,
		}},
		{"indexed needs completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"generated selector must match labels", func(j *batchv1.Job) {
			j.Spec.Template.Labels = map[string]string{batchv1.ControllerUidLabel: "1a2b"}
		}, []string{
			"spec.template.metadata.labels[controller-uid]: Required value: must be '1a2b'",
			"spec.template.metadata.labels[job-name]: Required value: must be 'pi'",
			"spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: must be 'pi'",
		}},
		{"manual selector skips generation checks", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := validJob()
			tc.mutate(j)
			expectErrors(t, ValidateObject(j), tc.want...)
		})
	}

	t.Run("template immutable", func(t *testing.T) {
		old := validJob()
		j := old.DeepCopy()
		j.Spec.Template.Spec.Containers[0].Image = "busybox"
		errs := ValidateObjectUpdate(j, old)
		if len(errs) != 1 || errs[0].Field != "spec.template" || !strings.HasSuffix(errs[0].Error(), "field is immutable") {
			t.Fatalf("got %v", errs)
		}
	})
	t.Run("suspended job may change node selector", func(t *testing.T) {
		old := validJob()
		old.Spec.Suspend = ptr.To(true)
		j := old.DeepCopy()
		j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
		expectErrors(t, ValidateObjectUpdate(j, old))
	})
	t.Run("status transitions", func(t *testing.T) {
		old := validJob()
		now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		old.Status = batchv1.JobStatus{StartTime: &now, Failed: 2}
		j := old.DeepCopy()
		j.Status.Failed = 1
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		expectErrors(t, ValidateStatusUpdate(j, old),
			"status.completionTime: Required value: completionTime is required for Complete jobs",
			"status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true condition",
			"status.failed: Invalid value: 1: cannot decrease the failed counter",
		)
	})
}

func validCronJob() *batchv1.CronJob {
	tmpl := corev1.PodTemplateSpec{Spec: validPodSpec()}
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "default", ResourceVersion: "1"},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "0 3 * * *",
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate:                batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl, BackoffLimit: ptr.To[int32](6)}},
		},
	}
}

func TestValidateCronJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", func(*batchv1.CronJob) {}, nil},
		{"bad schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" }, []string{
			`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`,
		}},
		{"too few fields", func(c *batchv1.CronJob) { c.Spec.Schedule = "@often" }, []string{
			`spec.schedule: Invalid value: "@often": unrecognized descriptor: @often`,
		}},
		{"TZ in schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 3 * * *" }, []string{
			`spec.schedule: Invalid value: "TZ=UTC 0 3 * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`,
		}},
		{"TZ without schedule", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=0" }, []string{
			`spec.schedule: Invalid value: "TZ=0": invalid schedule format: runtime error: slice bounds out of range [:-1]`,
			`spec.schedule: Invalid value: "TZ=0": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`,
		}},
		{"unknown time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus") }, []string{
			`spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`,
		}},
		{"valid time zone", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Europe/Berlin") }, nil},
		{"concurrency policy", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }, []string{
			`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`,
		}},
		{"name too long", func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }, []string{
			`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters`,
		}},
		{"job template restart policy", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}, []string{
			`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validCronJob()
			tc.mutate(c)
			expectErrors(t, ValidateObject(c), tc.want...)
		})
	}
}
