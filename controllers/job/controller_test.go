package job

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	events  *record.FakeRecorder
	clock   *clocktesting.FakeClock
	created []*corev1.Pod
}

// newFixture puts job and pods into a fake API and the controller's caches.
func newFixture(t *testing.T, job *batchv1.Job, pods ...*corev1.Pod) *fixture {
	t.Helper()
	client := fake.NewClientset(job)
	for _, p := range pods {
		if err := client.Tracker().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{client: client, clock: clocktesting.NewFakeClock(now), events: record.NewFakeRecorder(100)}
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
		pod.Name = pod.GenerateName + string(rune('a'+len(f.created)))
		f.created = append(f.created, pod)
		return true, pod, nil
	})
	inf := informers.NewSharedInformerFactory(client, 0)
	f.c = New(client, inf.Core().V1().Pods(), inf.Batch().V1().Jobs(), f.clock)
	f.c.recorder = f.events
	f.c.pods.recorder = f.events
	if err := inf.Batch().V1().Jobs().Informer().GetIndexer().Add(job); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := inf.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) sync(t *testing.T, job *batchv1.Job) {
	t.Helper()
	ctx := klog.NewContext(context.Background(), klog.Background())
	if err := f.c.Sync(ctx, job.Namespace+"/"+job.Name); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

// lastStatus is the Job status the last UpdateStatus wrote.
func (f *fixture) lastStatus(t *testing.T) *batchv1.JobStatus {
	t.Helper()
	var last *batchv1.JobStatus
	for _, a := range f.client.Actions() {
		if u, ok := a.(clienttesting.UpdateAction); ok && a.GetSubresource() == "status" {
			last = &u.GetObject().(*batchv1.Job).Status
		}
	}
	if last == nil {
		t.Fatal("no status update")
	}
	return last
}

func (f *fixture) count(verb, resource string) int {
	n := 0
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == "" {
			n++
		}
	}
	return n
}

func (f *fixture) drainEvents() []string {
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

func newJob(completions, parallelism int32, mutate ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "job-uid", Generation: 1},
		Spec: batchv1.JobSpec{
			Completions:  ptr.To(completions),
			Parallelism:  ptr.To(parallelism),
			BackoffLimit: ptr.To[int32](6),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "pi"}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "main", Image: "busybox"}},
				},
			},
		},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

func newPod(job *batchv1.Job, name string, phase corev1.PodPhase, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: job.Namespace, UID: types.UID(name + "-uid"),
			Labels:            job.Spec.Template.Labels,
			Finalizers:        []string{batchv1.JobTrackingFinalizer},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(job, jobKind)},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Minute)),
		},
		Status: corev1.PodStatus{Phase: phase},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func withExitCode(code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, FinishedAt: metav1.NewTime(now.Add(-30 * time.Second))},
		}}}
	}
}

func withIndex(ix string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: ix}
	}
}

func condition(s *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

func TestSyncCreatesPods(t *testing.T) {
	tests := []struct {
		name        string
		job         *batchv1.Job
		pods        []*corev1.Pod
		wantCreated int
		check       func(t *testing.T, f *fixture)
	}{
		{
			name: "parallelism bounds the first pods", job: newJob(3, 2), wantCreated: 2,
			check: func(t *testing.T, f *fixture) {
				for _, p := range f.created {
					if !hasTrackingFinalizer(p) || p.GenerateName != "pi-" || metav1.GetControllerOf(p).UID != "job-uid" {
						t.Errorf("pod %+v: want tracking finalizer, generateName pi- and the Job as controller", p.ObjectMeta)
					}
				}
				s := f.lastStatus(t)
				if s.Active != 2 || s.StartTime == nil || !s.StartTime.Time.Equal(now) {
					t.Errorf("status active=%d startTime=%v, want 2 and now", s.Active, s.StartTime)
				}
				if ev := f.drainEvents(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: pi-") {
					t.Errorf("events %q", ev)
				}
			},
		},
		{
			name: "remaining completions bound the replacements", job: newJob(3, 2),
			pods:        []*corev1.Pod{newPod(newJob(3, 2), "a", corev1.PodSucceeded), newPod(newJob(3, 2), "b", corev1.PodSucceeded)},
			wantCreated: 1,
		},
		{
			name: "indexed pods get index annotation, label, hostname and env",
			job: newJob(3, 3, func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			}),
			pods:        []*corev1.Pod{newPod(newJob(3, 3), "one", corev1.PodRunning, withIndex("1"))},
			wantCreated: 2,
			check: func(t *testing.T, f *fixture) {
				var got []string
				for _, p := range f.created {
					ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
					got = append(got, ix)
					if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "pi-"+ix || p.GenerateName != "pi-"+ix+"-" {
						t.Errorf("pod of index %s: labels %v hostname %q generateName %q", ix, p.Labels, p.Spec.Hostname, p.GenerateName)
					}
					if env := p.Spec.Containers[0].Env; len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" ||
						env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
						t.Errorf("env %+v", env)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, []string{"0", "2"}) {
					t.Errorf("created indexes %v, want 0 and 2", got)
				}
			},
		},
		{
			name: "a recent failure delays the replacement", job: newJob(1, 1),
			pods: []*corev1.Pod{newPod(newJob(1, 1), "f", corev1.PodFailed, withExitCode(1), func(p *corev1.Pod) {
				p.Status.ContainerStatuses[0].State.Terminated.FinishedAt = metav1.NewTime(now.Add(-2 * time.Second))
			})},
		},
		{
			name: "an older failure is replaced", job: newJob(1, 1), wantCreated: 1,
			pods: []*corev1.Pod{newPod(newJob(1, 1), "f", corev1.PodFailed, withExitCode(1))},
		},
		{
			name: "podReplacementPolicy Failed waits for terminating pods",
			job:  newJob(1, 1, func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed) }),
			pods: []*corev1.Pod{newPod(newJob(1, 1), "t", corev1.PodRunning, func(p *corev1.Pod) {
				p.DeletionTimestamp = ptr.To(metav1.NewTime(now))
			})},
			check: func(t *testing.T, f *fixture) {
				if s := f.lastStatus(t); ptr.Deref(s.Terminating, -1) != 1 || s.Failed != 0 {
					t.Errorf("terminating %v failed %d, want 1 and 0", s.Terminating, s.Failed)
				}
			},
		},
		{
			name: "TerminatingOrFailed replaces a terminating pod",
			job:  newJob(1, 1),
			pods: []*corev1.Pod{newPod(newJob(1, 1), "t", corev1.PodRunning, func(p *corev1.Pod) {
				p.DeletionTimestamp = ptr.To(metav1.NewTime(now.Add(-time.Hour)))
			})},
			wantCreated: 1,
			check: func(t *testing.T, f *fixture) {
				if s := f.lastStatus(t); s.Failed != 1 {
					t.Errorf("failed %d, want the terminating pod counted as failed", s.Failed)
				}
			},
		},
		{
			name: "managedBy another controller is left alone",
			job:  newJob(1, 1, func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("example.com/queue") }),
			check: func(t *testing.T, f *fixture) {
				if n := len(f.client.Actions()); n != 0 {
					t.Errorf("%d API calls, want none", n)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.job, tc.pods...)
			f.sync(t, tc.job)
			if len(f.created) != tc.wantCreated {
				t.Errorf("created %d pods, want %d", len(f.created), tc.wantCreated)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestSyncFinishes(t *testing.T) {
	tests := []struct {
		name                   string
		job                    *batchv1.Job
		pods                   []*corev1.Pod
		wantInterim, wantFinal batchv1.JobConditionType
		wantReason, wantMsg    string
		wantSucceeded          int32
		wantFailed             int32
		wantEvent              string
		wantDeleted            int
	}{
		{
			name: "completions reached",
			job:  newJob(3, 2),
			pods: []*corev1.Pod{newPod(newJob(3, 2), "a", corev1.PodSucceeded), newPod(newJob(3, 2), "b", corev1.PodSucceeded),
				newPod(newJob(3, 2), "c", corev1.PodSucceeded)},
			wantInterim: batchv1.JobSuccessCriteriaMet, wantFinal: batchv1.JobComplete,
			wantReason: "CompletionsReached", wantMsg: "Reached expected number of succeeded pods",
			wantSucceeded: 3, wantEvent: "Normal Completed Job completed",
		},
		{
			name:        "backoff limit exceeded",
			job:         newJob(2, 2, func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1) }),
			pods:        []*corev1.Pod{newPod(newJob(2, 2), "a", corev1.PodFailed, withExitCode(1)), newPod(newJob(2, 2), "b", corev1.PodFailed, withExitCode(1))},
			wantInterim: batchv1.JobFailureTarget, wantFinal: batchv1.JobFailed,
			wantReason: "BackoffLimitExceeded", wantMsg: "Job has reached the specified backoff limit",
			wantFailed: 2, wantEvent: "Warning BackoffLimitExceeded Job has reached the specified backoff limit",
		},
		{
			name: "pod failure policy FailJob on an exit code",
			job: newJob(2, 2, func(j *batchv1.Job) {
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
					{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
					{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
				}}
			}),
			pods:        []*corev1.Pod{newPod(newJob(2, 2), "a", corev1.PodFailed, withExitCode(42)), newPod(newJob(2, 2), "b", corev1.PodRunning)},
			wantInterim: batchv1.JobFailureTarget, wantReason: "PodFailurePolicy",
			wantMsg:    "Container main for pod ns/a failed with exit code 42 matching FailJob rule at index 1",
			wantFailed: 2, wantDeleted: 1,
		},
		{
			name: "active deadline exceeded",
			job: newJob(2, 1, func(j *batchv1.Job) {
				j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
				j.Status.StartTime = ptr.To(metav1.NewTime(now.Add(-2 * time.Minute)))
			}),
			pods:        []*corev1.Pod{newPod(newJob(2, 1), "a", corev1.PodRunning)},
			wantInterim: batchv1.JobFailureTarget, wantReason: "DeadlineExceeded", wantMsg: "Job was active longer than specified deadline",
			wantFailed: 1, wantDeleted: 1,
		},
		{
			name: "success policy on indexes",
			job: newJob(3, 3, func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededIndexes: ptr.To("0")}}}
			}),
			pods:        []*corev1.Pod{newPod(newJob(3, 3), "a", corev1.PodSucceeded, withIndex("0")), newPod(newJob(3, 3), "b", corev1.PodRunning, withIndex("1"))},
			wantInterim: batchv1.JobSuccessCriteriaMet, wantReason: "SuccessPolicy", wantMsg: "Matched rules at index 0",
			wantSucceeded: 1, wantDeleted: 1,
		},
		{
			name: "maxFailedIndexes exceeded",
			job: newJob(4, 4, func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
				j.Spec.MaxFailedIndexes = ptr.To[int32](0)
			}),
			pods: []*corev1.Pod{newPod(newJob(4, 4), "b", corev1.PodFailed, withIndex("1"), withExitCode(3)),
				newPod(newJob(4, 4), "c", corev1.PodRunning, withIndex("2"))},
			wantInterim: batchv1.JobFailureTarget, wantReason: "MaxFailedIndexesExceeded", wantMsg: "Job has exceeded the specified maximal number of failed indexes",
			wantFailed: 2, wantDeleted: 1,
		},
		{
			name: "failed indexes under backoffLimitPerIndex",
			job: newJob(2, 2, func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
			}),
			pods: []*corev1.Pod{newPod(newJob(2, 2), "a", corev1.PodSucceeded, withIndex("0")),
				newPod(newJob(2, 2), "b", corev1.PodFailed, withIndex("1"), withExitCode(3))},
			wantInterim: batchv1.JobFailureTarget, wantFinal: batchv1.JobFailed, wantReason: "FailedIndexes", wantMsg: "Job has failed indexes",
			wantSucceeded: 1, wantFailed: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.job, tc.pods...)
			f.sync(t, tc.job)
			s := f.lastStatus(t)
			interim := condition(s, tc.wantInterim)
			if interim == nil || interim.Reason != tc.wantReason || interim.Message != tc.wantMsg {
				t.Fatalf("conditions %+v, want %s %s %q", s.Conditions, tc.wantInterim, tc.wantReason, tc.wantMsg)
			}
			if tc.wantFinal != "" {
				final := condition(s, tc.wantFinal)
				if final == nil || final.Reason != tc.wantReason || final.Message != tc.wantMsg {
					t.Errorf("conditions %+v, want final %s", s.Conditions, tc.wantFinal)
				}
				if (tc.wantFinal == batchv1.JobComplete) != (s.CompletionTime != nil) {
					t.Errorf("completionTime %v with final condition %s", s.CompletionTime, tc.wantFinal)
				}
			}
			if s.Succeeded != tc.wantSucceeded || s.Failed != tc.wantFailed {
				t.Errorf("succeeded %d failed %d, want %d and %d", s.Succeeded, s.Failed, tc.wantSucceeded, tc.wantFailed)
			}
			if u := s.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
				t.Errorf("uncounted pods left: %+v", u)
			}
			if n := f.count("patch", "pods"); n != len(tc.pods) {
				t.Errorf("%d finalizer patches, want one per pod (%d)", n, len(tc.pods))
			}
			if n := f.count("delete", "pods"); n != tc.wantDeleted {
				t.Errorf("%d pod deletions, want %d", n, tc.wantDeleted)
			}
			if tc.wantEvent != "" && !slices.Contains(f.drainEvents(), tc.wantEvent) {
				t.Errorf("no event %q", tc.wantEvent)
			}
		})
	}
}

// A cache that has not shown the pods of the last sync must not make the
// next sync create them again.
func TestSyncExpectations(t *testing.T) {
	job := newJob(3, 2)
	f := newFixture(t, job)
	f.sync(t, job)
	f.sync(t, job)
	if len(f.created) != 2 {
		t.Fatalf("created %d pods over two syncs with a stale cache, want 2", len(f.created))
	}
	for range f.created {
		f.c.expectations.creationObserved("ns/pi")
	}
	if !f.c.expectations.satisfied("ns/pi") {
		t.Error("expectations not satisfied after observing every creation")
	}
}

func TestPodFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ptr.To("main"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{0, 7}}},
		{Action: batchv1.PodFailurePolicyActionFailIndex, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{7}}},
	}}
	disrupted := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
	}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		wantMsg    string
		wantCount  bool
		wantAction batchv1.PodFailurePolicyAction
	}{
		{"disruption ignored", newPod(newJob(1, 1), "p", corev1.PodFailed, withExitCode(42), disrupted), "", false, batchv1.PodFailurePolicyActionIgnore},
		{"exit code fails the job", newPod(newJob(1, 1), "p", corev1.PodFailed, withExitCode(42)),
			"Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1", true, batchv1.PodFailurePolicyActionFailJob},
		{"other exit codes count", newPod(newJob(1, 1), "p", corev1.PodFailed, withExitCode(3)), "", true, batchv1.PodFailurePolicyActionCount},
		{"exit code fails the index", newPod(newJob(1, 1), "p", corev1.PodFailed, withExitCode(7)), "", true, batchv1.PodFailurePolicyActionFailIndex},
		{"no rule matches", newPod(newJob(1, 1), "p", corev1.PodFailed), "", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, count, action := matchPodFailurePolicy(policy, tc.pod)
			if ptr.Deref(msg, "") != tc.wantMsg || count != tc.wantCount || (action == nil) != (tc.wantAction == "") || (action != nil && *action != tc.wantAction) {
				t.Errorf("got %v %v %v", ptr.Deref(msg, ""), count, action)
			}
		})
	}
}

func TestSyncSuspend(t *testing.T) {
	job := newJob(3, 2, func(j *batchv1.Job) {
		j.Spec.Suspend = ptr.To(true)
		j.Status.StartTime = ptr.To(metav1.NewTime(now.Add(-time.Minute)))
	})
	f := newFixture(t, job, newPod(job, "a", corev1.PodRunning), newPod(job, "b", corev1.PodPending))
	f.sync(t, job)
	if n := f.count("delete", "pods"); n != 2 {
		t.Errorf("%d deletions, want both active pods", n)
	}
	s := f.lastStatus(t)
	c := condition(s, batchv1.JobSuspended)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "JobSuspended" || c.Message != "Job suspended" {
		t.Errorf("conditions %+v", s.Conditions)
	}
	if s.StartTime != nil || s.Active != 0 || ptr.Deref(s.Terminating, 0) != 2 {
		t.Errorf("startTime %v active %d terminating %v, want nil, 0, 2", s.StartTime, s.Active, s.Terminating)
	}
	if ev := f.drainEvents(); !slices.Contains(ev, "Normal Suspended Job suspended") {
		t.Errorf("events %q", ev)
	}

	// Resuming sets the condition False and restarts the clock.
	resumed := newJob(3, 2, func(j *batchv1.Job) { j.Status = *s.DeepCopy(); j.Spec.Suspend = ptr.To(false) })
	f = newFixture(t, resumed)
	f.sync(t, resumed)
	s = f.lastStatus(t)
	if c := condition(s, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Errorf("conditions %+v", s.Conditions)
	}
	if s.StartTime == nil || !s.StartTime.Time.Equal(now) || len(f.created) != 2 {
		t.Errorf("startTime %v, created %d, want now and 2", s.StartTime, len(f.created))
	}
}

func TestIntervals(t *testing.T) {
	tests := []struct {
		in    string
		add   []int
		want  string
		total int
	}{
		{"", []int{0, 1, 2}, "0-2", 3},
		{"1,3-5", []int{2}, "1-5", 5},
		{"0,5", []int{1, 7}, "0,1,5,7", 4},
		{"0-2,9", nil, "0-2", 3}, // 9 is beyond completions
		{"x,4", nil, "4", 1},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := parseIndexes(klog.Background(), tc.in, 8).withIndexes(tc.add)
			if got.String() != tc.want || got.total() != tc.total {
				t.Errorf("got %q (%d), want %q (%d)", got.String(), got.total(), tc.want, tc.total)
			}
		})
	}
}

func TestRemainingBackoff(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(now)
	tests := []struct {
		failures int32
		ago      time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1, 0, 10 * time.Second},
		{1, 4 * time.Second, 6 * time.Second},
		{3, 0, 40 * time.Second},
		{20, 0, 10 * time.Minute},
		{2, time.Minute, 0},
	}
	for _, tc := range tests {
		last := now.Add(-tc.ago)
		if got := remainingBackoff(clk, tc.failures, &last); got != tc.want {
			t.Errorf("%d failures %v ago: %v, want %v", tc.failures, tc.ago, got, tc.want)
		}
	}
}

func TestSyncWaitsForOwnStatusWrite(t *testing.T) {
	tests := []struct {
		name     string
		cached   string
		written  string
		wantSkip bool
	}{
		{"cache behind the write", "5", "7", true},
		{"cache caught up", "7", "7", false},
		{"cache ahead", "9", "7", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob(1, 1, func(j *batchv1.Job) { j.ResourceVersion = tc.cached })
			f := newFixture(t, job)
			f.c.written.Store("ns/pi", writtenVersion{uid: job.UID, resourceVersion: tc.written})
			f.sync(t, job)
			if skipped := len(f.client.Actions()) == 0; skipped != tc.wantSkip {
				t.Errorf("skipped %v, want %v", skipped, tc.wantSkip)
			}
		})
	}
}
