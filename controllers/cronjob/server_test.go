package cronjob_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{ExtraArgs: testserver.WithoutScheduler}, func(s *testserver.Server) { server = s }))
}

func setup(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	client, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns := testserver.Namespace(t, client)
	poll(t, "default service account", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return client, ns
}

func poll(t *testing.T, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 45*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

const cronJobManifest = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: tick
spec:
  schedule: "* * * * *"
  timeZone: Etc/UTC
  successfulJobsHistoryLimit: 2
  jobTemplate:
    metadata:
      labels:
        app: tick
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
`

// TestScheduleJustPassed backdates status.lastScheduleTime so that the
// last whole minute is an unmet schedule time: the controller must start
// its Job at once, then see it complete.
func TestScheduleJustPassed(t *testing.T) {
	t.Parallel()
	client, ns := setup(t)
	if r := server.KubectlWith(t, testserver.KubectlOptions{Stdin: cronJobManifest}, "-n", ns, "apply", "-f", "-"); r.Err != nil {
		t.Fatal(r.Err)
	}
	cj, err := client.BatchV1().CronJobs(ns).Get(t.Context(), "tick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	cj.Status.LastScheduleTime = &metav1.Time{Time: last}
	if _, err := client.BatchV1().CronJobs(ns).UpdateStatus(t.Context(), cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	var job *batchv1.Job
	poll(t, "the CronJob's Job", func(ctx context.Context) (bool, error) {
		jobs, err := client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(jobs.Items) == 0 {
			return false, err
		}
		job = &jobs.Items[0]
		return true, nil
	})
	scheduled, err := time.Parse(time.RFC3339, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	if err != nil {
		t.Fatalf("scheduled timestamp annotation: %v", err)
	}
	if !scheduled.After(last) || scheduled.Second() != 0 || time.Since(scheduled) > 2*time.Minute {
		t.Errorf("scheduled time %v, want a minute after %v", scheduled, last)
	}
	if job.Name != fmt.Sprintf("tick-%d", scheduled.Unix()/60) || !metav1.IsControlledBy(job, cj) || job.Labels["app"] != "tick" {
		t.Errorf("job %+v", job.ObjectMeta)
	}
	poll(t, "status.active", func(ctx context.Context) (bool, error) {
		cj, err := client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && len(cj.Status.Active) == 1 && cj.Status.Active[0].UID == job.UID && cj.Status.LastScheduleTime.Time.Equal(scheduled), err
	})

	// The Job controller runs it; a kubelet would finish its pod.
	var pod corev1.Pod
	poll(t, "the Job's pod", func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job.Name})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = pods.Items[0]
		return true, nil
	})
	now := metav1.Now()
	pod.Status.Phase = corev1.PodSucceeded
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", Image: "busybox",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(t.Context(), &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "lastSuccessfulTime", func(ctx context.Context) (bool, error) {
		cj, err := client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
		return err == nil && len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil, err
	})
	poll(t, "events", func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=tick"})
		if err != nil {
			return false, err
		}
		var created, saw bool
		for _, e := range evs.Items {
			created = created || (e.Reason == "SuccessfulCreate" && e.Message == "Created job "+job.Name && e.Source.Component == "cronjob-controller")
			saw = saw || (e.Reason == "SawCompletedJob" && e.Message == fmt.Sprintf("Saw completed job: %s, condition: Complete", job.Name))
		}
		return created && saw, nil
	})
	out, _, err := server.Kubectl(t, "-n", ns, "get", "cronjob", "tick", "--no-headers")
	if err != nil || !strings.Contains(out, "* * * * *") || !strings.Contains(out, "Etc/UTC") || strings.Contains(out, "<none>") {
		t.Errorf("kubectl get cronjob: %q %v", out, err)
	}
}

func TestCreateJobFromCronJob(t *testing.T) {
	t.Parallel()
	client, ns := setup(t)
	manifest := strings.Replace(cronJobManifest, `"* * * * *"`, `"0 0 1 1 *"`, 1)
	if r := server.KubectlWith(t, testserver.KubectlOptions{Stdin: manifest}, "-n", ns, "apply", "-f", "-"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if _, _, err := server.Kubectl(t, "-n", ns, "create", "job", "--from=cronjob/tick", "manual"); err != nil {
		t.Fatal(err)
	}
	job, err := client.BatchV1().Jobs(ns).Get(t.Context(), "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" || metav1.GetControllerOf(job) == nil || metav1.GetControllerOf(job).Name != "tick" {
		t.Errorf("job %+v", job.ObjectMeta)
	}
	poll(t, "the manual Job's pod", func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=manual"})
		return err == nil && len(pods.Items) == 1, err
	})
	// The controller did not start it: it is no active Job of the CronJob.
	poll(t, "UnexpectedJob event", func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=tick"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "UnexpectedJob" && e.Message == "Saw a job that the controller did not create or forgot: manual" {
				return true, nil
			}
		}
		return false, nil
	})
}
