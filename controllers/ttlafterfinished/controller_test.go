package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

func job(name string, ttl *int32, finished corev1.ConditionStatus, finishedAt time.Time) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "uid-j"}, Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if finished != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: finished, LastTransitionTime: metav1.NewTime(finishedAt)}}
	}
	return j
}

func TestTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		job  *batchv1.Job
		// wait is how long after the start the Job is due; -1 never.
		wait time.Duration
	}{
		{"ttl zero goes at once", job("j", ptr.To[int32](0), corev1.ConditionTrue, now), 0},
		{"expired long ago", job("j", ptr.To[int32](10), corev1.ConditionTrue, now.Add(-time.Hour)), 0},
		{"waits for the ttl", job("j", ptr.To[int32](100), corev1.ConditionTrue, now.Add(-40*time.Second)), 60 * time.Second},
		{"no ttl stays", job("j", nil, corev1.ConditionTrue, now), -1},
		{"unfinished stays", job("j", ptr.To[int32](0), "", now), -1},
		{"complete false stays", job("j", ptr.To[int32](0), corev1.ConditionFalse, now), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.job)
			clk := clocktesting.NewFakeClock(now)
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(client, f.Batch().V1().Jobs(), WithClock(clk))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			f.Start(ctx.Done())
			done := make(chan struct{})
			go func() { c.Run(ctx, 1); close(done) }()
			defer func() { cancel(); <-done; f.Shutdown() }()

			deletion := func() *k8stesting.DeleteActionImpl {
				for _, a := range client.Actions() {
					if d, ok := a.(k8stesting.DeleteActionImpl); ok {
						return &d
					}
				}
				return nil
			}
			waitDeleted := func() bool {
				return wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 3*time.Second, true, func(context.Context) (bool, error) {
					return deletion() != nil, nil
				}) == nil
			}
			switch {
			case tt.wait < 0:
				time.Sleep(200 * time.Millisecond)
				clk.Step(24 * time.Hour)
				time.Sleep(200 * time.Millisecond)
				if deletion() != nil {
					t.Fatal("job deleted")
				}
				return
			case tt.wait > 0:
				time.Sleep(200 * time.Millisecond)
				if deletion() != nil {
					t.Fatal("job deleted before its ttl ran out")
				}
				clk.Step(tt.wait - time.Second)
				time.Sleep(200 * time.Millisecond)
				if deletion() != nil {
					t.Fatal("job deleted before its ttl ran out")
				}
				clk.Step(2 * time.Second)
			}
			if !waitDeleted() {
				t.Fatal("job not deleted")
			}
			d := deletion()
			if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
				t.Errorf("propagation policy %v, want Foreground", p)
			}
			if pre := d.DeleteOptions.Preconditions; pre == nil || pre.UID == nil || *pre.UID != tt.job.UID {
				t.Errorf("preconditions %v, want the job's UID", pre)
			}
		})
	}
}
