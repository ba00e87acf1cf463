package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// t0 is a whole minute; schedules below fire at t0, t0+1m, ...
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newCronJob(mutate ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0.Add(-90 * time.Second))},
		Spec: batchv1.CronJobSpec{
			Schedule:          "* * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}, Annotations: map[string]string{"note": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
	for _, m := range mutate {
		m(cj)
	}
	return cj
}

// ownedJob is a Job of cj scheduled at t; finished is "", Complete or Failed.
func ownedJob(cj *batchv1.CronJob, t time.Time, finished batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: jobNameFor(cj, t), Namespace: cj.Namespace, UID: types.UID(fmt.Sprintf("job-%d", t.Unix())),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, cronJobKind)},
		},
		Status: batchv1.JobStatus{StartTime: ptr.To(metav1.NewTime(t))},
	}
	if finished != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: finished, Status: corev1.ConditionTrue}}
		if finished == batchv1.JobComplete {
			j.Status.CompletionTime = ptr.To(metav1.NewTime(t.Add(10 * time.Second)))
		}
	}
	return j
}

func activeRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID}
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	events *record.FakeRecorder
}

func newFixture(t *testing.T, now time.Time, cj *batchv1.CronJob, jobs ...*batchv1.Job) *fixture {
	t.Helper()
	client := fake.NewClientset(cj)
	inf := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{client: client, events: record.NewFakeRecorder(100)}
	f.c = New(client, inf.Batch().V1().Jobs(), inf.Batch().V1().CronJobs(), clocktesting.NewFakePassiveClock(now))
	f.c.recorder = f.events
	if err := inf.Batch().V1().CronJobs().Informer().GetIndexer().Add(cj); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := client.Tracker().Add(j); err != nil {
			t.Fatal(err)
		}
		if err := inf.Batch().V1().Jobs().Informer().GetIndexer().Add(j); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.Sync(klog.NewContext(context.Background(), klog.Background()), "ns/tick"); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func (f *fixture) actions(verb, resource string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			out = append(out, a)
		}
	}
	return out
}

func (f *fixture) status(t *testing.T) *batchv1.CronJobStatus {
	t.Helper()
	ups := f.actions("update", "cronjobs")
	if len(ups) == 0 {
		t.Fatal("no status update")
	}
	return &ups[len(ups)-1].(clienttesting.UpdateAction).GetObject().(*batchv1.CronJob).Status
}

func (f *fixture) eventList() []string {
	var out []string
	for {
		select {
		case e := <-f.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEventPrefix(events []string, prefix string) bool {
	return slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, prefix) })
}

func TestSync(t *testing.T) {
	tests := []struct {
		name        string
		now         time.Time
		cj          *batchv1.CronJob
		jobs        func(cj *batchv1.CronJob) []*batchv1.Job
		wantCreate  bool
		wantDeleted []string
		wantEvent   string
		check       func(t *testing.T, f *fixture, cj *batchv1.CronJob)
	}{
		{
			name: "a schedule time just passed starts its Job", now: t0.Add(5 * time.Second), cj: newCronJob(), wantCreate: true,
			wantEvent: "Normal SuccessfulCreate Created job tick-" + fmt.Sprint(t0.Unix()/60),
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				job := f.actions("create", "jobs")[0].(clienttesting.CreateAction).GetObject().(*batchv1.Job)
				if job.Name != fmt.Sprintf("tick-%d", t0.Unix()/60) || job.Labels["app"] != "tick" || job.Annotations["note"] != "x" ||
					job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-11-22T10:00:00Z" || !metav1.IsControlledBy(job, cj) {
					t.Errorf("job %+v", job.ObjectMeta)
				}
				s := f.status(t)
				if len(s.Active) != 1 || s.Active[0].Name != job.Name || !s.LastScheduleTime.Time.Equal(t0) {
					t.Errorf("status %+v", s)
				}
			},
		},
		{
			name: "nothing due before the first schedule time", now: t0.Add(-10 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) { cj.CreationTimestamp = metav1.NewTime(t0.Add(-30 * time.Second)) }),
		},
		{
			name: "an already started schedule time is not repeated", now: t0.Add(5 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0)) }),
		},
		{
			name: "suspended", now: t0.Add(5 * time.Second), cj: newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
		},
		{
			// Upstream looks for schedule times only within the deadline.
			name: "the starting deadline passed", now: t0.Add(50 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10) }),
		},
		{
			name: "within the starting deadline", now: t0.Add(50 * time.Second), wantCreate: true,
			cj: newCronJob(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60) }),
		},
		{
			name: "too many missed start times warns and starts the latest", now: t0.Add(5 * time.Second),
			cj:         newCronJob(func(cj *batchv1.CronJob) { cj.CreationTimestamp = metav1.NewTime(t0.Add(-3 * time.Hour)) }),
			wantCreate: true,
			wantEvent:  "Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				if s := f.status(t); !s.LastScheduleTime.Time.Equal(t0) {
					t.Errorf("lastScheduleTime %v, want %v", s.LastScheduleTime, t0)
				}
			},
		},
		{
			name: "Forbid skips while a Job runs", now: t0.Add(5 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
				cj.Status.Active = []corev1.ObjectReference{activeRef(ownedJob(cj, t0.Add(-time.Minute), ""))}
			}),
			jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
				return []*batchv1.Job{ownedJob(cj, t0.Add(-time.Minute), "")}
			},
			wantEvent: "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid",
		},
		{
			name: "Allow runs Jobs side by side", now: t0.Add(5 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
				cj.Status.Active = []corev1.ObjectReference{activeRef(ownedJob(cj, t0.Add(-time.Minute), ""))}
			}),
			jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
				return []*batchv1.Job{ownedJob(cj, t0.Add(-time.Minute), "")}
			},
			wantCreate: true,
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				if s := f.status(t); len(s.Active) != 2 {
					t.Errorf("active %v, want both", s.Active)
				}
			},
		},
		{
			name: "Replace deletes the running Job", now: t0.Add(5 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
				cj.Status.Active = []corev1.ObjectReference{activeRef(ownedJob(cj, t0.Add(-time.Minute), ""))}
			}),
			jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
				return []*batchv1.Job{ownedJob(cj, t0.Add(-time.Minute), "")}
			},
			wantCreate:  true,
			wantDeleted: []string{fmt.Sprintf("tick-%d", t0.Unix()/60-1)},
			wantEvent:   fmt.Sprintf("Normal SuccessfulDelete Deleted job tick-%d", t0.Unix()/60-1),
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				if s := f.status(t); len(s.Active) != 1 || s.Active[0].Name != fmt.Sprintf("tick-%d", t0.Unix()/60) {
					t.Errorf("active %v, want only the new Job", s.Active)
				}
			},
		},
		{
			name: "a finished Job leaves active and sets lastSuccessfulTime", now: t0.Add(-30 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
				cj.Status.Active = []corev1.ObjectReference{activeRef(ownedJob(cj, t0.Add(-time.Minute), ""))}
			}),
			jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
				return []*batchv1.Job{ownedJob(cj, t0.Add(-time.Minute), batchv1.JobComplete)}
			},
			wantEvent: fmt.Sprintf("Normal SawCompletedJob Saw completed job: tick-%d, condition: Complete", t0.Unix()/60-1),
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				s := f.status(t)
				if len(s.Active) != 0 || s.LastSuccessfulTime == nil || !s.LastSuccessfulTime.Time.Equal(t0.Add(-50*time.Second)) {
					t.Errorf("status %+v", s)
				}
			},
		},
		{
			name: "history limits delete the oldest finished Jobs", now: t0.Add(-30 * time.Second),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(t0.Add(-time.Minute)))
				cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](1)
				cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](0)
			}),
			jobs: func(cj *batchv1.CronJob) []*batchv1.Job {
				return []*batchv1.Job{
					ownedJob(cj, t0.Add(-4*time.Minute), batchv1.JobComplete),
					ownedJob(cj, t0.Add(-3*time.Minute), batchv1.JobFailed),
					ownedJob(cj, t0.Add(-2*time.Minute), batchv1.JobComplete),
					ownedJob(cj, t0.Add(-time.Minute), batchv1.JobComplete),
				}
			},
			wantDeleted: []string{
				fmt.Sprintf("tick-%d", t0.Unix()/60-4), fmt.Sprintf("tick-%d", t0.Unix()/60-2), fmt.Sprintf("tick-%d", t0.Unix()/60-3),
			},
		},
		{
			name: "timeZone decides the schedule time and the annotation", now: time.Date(2026, 11, 22, 0, 0, 5, 0, time.UTC),
			cj: newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.Schedule = "0 9 * * *"
				cj.Spec.TimeZone = ptr.To("Asia/Tokyo")
				cj.CreationTimestamp = metav1.NewTime(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
			}),
			wantCreate: true,
			check: func(t *testing.T, f *fixture, cj *batchv1.CronJob) {
				job := f.actions("create", "jobs")[0].(clienttesting.CreateAction).GetObject().(*batchv1.Job)
				if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-11-22T09:00:00+09:00" {
					t.Errorf("scheduled timestamp %q", got)
				}
			},
		},
		{
			name: "an unknown timeZone starts nothing", now: t0.Add(5 * time.Second),
			cj:        newCronJob(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") }),
			wantEvent: `Warning UnknownTimeZone invalid timeZone: "Mars/Olympus"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var jobs []*batchv1.Job
			if tc.jobs != nil {
				jobs = tc.jobs(tc.cj)
			}
			f := newFixture(t, tc.now, tc.cj, jobs...)
			f.sync(t)
			if got := len(f.actions("create", "jobs")); got != map[bool]int{true: 1}[tc.wantCreate] {
				t.Errorf("%d jobs created, want create=%v", got, tc.wantCreate)
			}
			var deleted []string
			for _, a := range f.actions("delete", "jobs") {
				deleted = append(deleted, a.(clienttesting.DeleteAction).GetName())
			}
			if !slices.Equal(deleted, tc.wantDeleted) {
				t.Errorf("deleted %v, want %v", deleted, tc.wantDeleted)
			}
			events := f.eventList()
			if tc.wantEvent != "" && !hasEventPrefix(events, tc.wantEvent) {
				t.Errorf("events %q, want %q", events, tc.wantEvent)
			}
			if tc.check != nil {
				tc.check(t, f, tc.cj)
			}
		})
	}
}

func TestNextScheduleTimeDuration(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		tz       *string
		last     *time.Time
		now      time.Time
		want     time.Duration
	}{
		{"every minute, just after a run", "* * * * *", nil, &t0, t0.Add(5 * time.Second), 55*time.Second + nextScheduleDelta},
		{"every minute, never run", "* * * * *", nil, nil, t0.Add(-20 * time.Second), 20*time.Second + nextScheduleDelta},
		{"hourly", "0 * * * *", nil, &t0, t0.Add(time.Minute), 59*time.Minute + nextScheduleDelta},
		{"daily in a zone", "30 9 * * *", ptr.To("Europe/Berlin"), nil, time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC), 30*time.Minute + nextScheduleDelta},
		{"missed runs: next after now", "*/5 * * * *", nil, ptr.To(t0.Add(-time.Hour)), t0.Add(time.Minute), 4*time.Minute + nextScheduleDelta},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob(func(cj *batchv1.CronJob) {
				cj.Spec.Schedule, cj.Spec.TimeZone = tc.schedule, tc.tz
				cj.CreationTimestamp = metav1.NewTime(t0.Add(-30 * time.Second))
				if tc.last != nil {
					cj.Status.LastScheduleTime = ptr.To(metav1.NewTime(*tc.last))
				}
			})
			sched, err := parseSchedule(formatSchedule(cj, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := nextScheduleTimeDuration(cj, tc.now, sched); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMostRecentScheduleTime(t *testing.T) {
	tests := []struct {
		name        string
		created     time.Time
		deadline    *int64
		now         time.Time
		wantTime    *time.Time
		wantMissed  missedSchedules
		withDeadine bool
	}{
		{"none due", t0.Add(-30 * time.Second), nil, t0.Add(-time.Second), nil, noneMissed, false},
		{"one due", t0.Add(-30 * time.Second), nil, t0.Add(time.Second), &t0, noneMissed, false},
		{"few missed", t0.Add(-5 * time.Minute), nil, t0.Add(time.Second), &t0, fewMissed, false},
		{"many missed", t0.Add(-200 * time.Minute), nil, t0.Add(time.Second), &t0, manyMissed, false},
		{"deadline bounds the missed count", t0.Add(-200 * time.Minute), ptr.To[int64](120), t0.Add(time.Second), &t0, fewMissed, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob(func(cj *batchv1.CronJob) {
				cj.CreationTimestamp = metav1.NewTime(tc.created)
				cj.Spec.StartingDeadlineSeconds = tc.deadline
			})
			sched, _ := parseSchedule(cj.Spec.Schedule)
			_, got, missed, err := mostRecentScheduleTime(cj, tc.now, sched, tc.withDeadine)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.wantTime == nil) || (got != nil && !got.Equal(*tc.wantTime)) || missed != tc.wantMissed {
				t.Errorf("got %v %v, want %v %v", got, missed, tc.wantTime, tc.wantMissed)
			}
		})
	}
}
