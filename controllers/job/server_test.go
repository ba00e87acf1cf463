package job_test

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

// setup returns an admin client and a namespace whose default
// ServiceAccount exists, so that the controller's pods are admitted.
func setup(t *testing.T) (kubernetes.Interface, string) {
	t.Helper()
	client, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns := testserver.Namespace(t, client)
	poll(t, 20*time.Second, "default service account", func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return client, ns
}

func poll(t *testing.T, timeout time.Duration, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func kubectlApply(t *testing.T, ns, manifest string) {
	t.Helper()
	if r := server.KubectlWith(t, testserver.KubectlOptions{Stdin: manifest}, "-n", ns, "apply", "-f", "-"); r.Err != nil {
		t.Fatalf("kubectl apply: %v: %s", r.Err, r.Stderr)
	}
}

// activePods waits until the Job has n pods neither finished nor deleted.
func activePods(t *testing.T, client kubernetes.Interface, ns, job string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	poll(t, 30*time.Second, fmt.Sprintf("%d active pods of job %s", n, job), func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job})
		if err != nil {
			return false, err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				pods = append(pods, p)
			}
		}
		return len(pods) == n, nil
	})
	return pods
}

// finish does what a kubelet would: the pod's container exits with code
// and the pod ends Succeeded (code 0) or Failed.
func finish(t *testing.T, client kubernetes.Interface, pod corev1.Pod, code int32) {
	t.Helper()
	phase, reason := corev1.PodSucceeded, "Completed"
	if code != 0 {
		phase, reason = corev1.PodFailed, "Error"
	}
	now := metav1.Now()
	pod.Status.Phase = phase
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now, Reason: "PodCompleted"}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: pod.Spec.Containers[0].Name, Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now}},
	}}
	if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(t.Context(), &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finishing pod %s: %v", pod.Name, err)
	}
}

// waitCondition waits for the Job's condition of type ct to be True.
func waitCondition(t *testing.T, client kubernetes.Interface, ns, name string, ct batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	poll(t, 45*time.Second, fmt.Sprintf("job %s condition %s", name, ct), func(ctx context.Context) (bool, error) {
		j, err := client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		job = j
		for _, c := range j.Status.Conditions {
			if c.Type == ct && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	return job
}

func condition(job *batchv1.Job, ct batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == ct {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func jobManifest(name, spec string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
`, name, spec)
}

func TestJobCompletes(t *testing.T) {
	t.Parallel()
	client, ns := setup(t)
	kubectlApply(t, ns, jobManifest("pi", "  completions: 3\n  parallelism: 2"))
	pods := activePods(t, client, ns, "pi", 2)
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "pi-") || len(p.Finalizers) != 1 || p.Finalizers[0] != batchv1.JobTrackingFinalizer {
			t.Errorf("pod %s finalizers %v", p.Name, p.Finalizers)
		}
	}
	out, _, err := server.Kubectl(t, "-n", ns, "get", "job", "pi")
	if err != nil || !strings.Contains(out, "Running") || !strings.Contains(out, "0/3") {
		t.Errorf("kubectl get job while running: %q %v", out, err)
	}
	finish(t, client, pods[0], 0)
	finish(t, client, pods[1], 0)
	last := activePods(t, client, ns, "pi", 1)
	finish(t, client, last[0], 0)

	job := waitCondition(t, client, ns, "pi", batchv1.JobComplete)
	if job.Status.Succeeded != 3 || job.Status.CompletionTime == nil || job.Status.StartTime == nil || job.Status.Active != 0 {
		t.Errorf("status %+v", job.Status)
	}
	if c := condition(job, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != batchv1.JobReasonCompletionsReached {
		t.Errorf("conditions %+v", job.Status.Conditions)
	}
	out, _, err = server.Kubectl(t, "-n", ns, "get", "job", "pi")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATUS COMPLETIONS DURATION AGE" {
		t.Fatalf("kubectl get job: %q", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "pi" || f[1] != "Complete" || f[2] != "3/3" {
		t.Errorf("kubectl get job row %q", lines[1])
	}
	// Counted pods lose the tracking finalizer.
	poll(t, 20*time.Second, "finalizers removed", func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, p := range list.Items {
			if len(p.Finalizers) > 0 {
				return false, nil
			}
		}
		return true, nil
	})
	poll(t, 20*time.Second, "Completed event", func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=pi"})
		if err != nil {
			return false, err
		}
		created, completed := 0, false
		for _, e := range evs.Items {
			created += map[bool]int{true: int(max(e.Count, 1))}[e.Reason == "SuccessfulCreate"]
			completed = completed || (e.Reason == "Completed" && e.Message == "Job completed" && e.Source.Component == "job-controller")
		}
		return created == 3 && completed, nil
	})
}

func TestJobFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, spec string
		exitCode   int32
		failPods   int
		reason     string
		message    string
	}{
		{"backofflimit", "  completions: 2\n  parallelism: 2\n  backoffLimit: 1", 1, 2, "BackoffLimitExceeded", "Job has reached the specified backoff limit"},
		{"deadline", "  activeDeadlineSeconds: 2", 0, 0, "DeadlineExceeded", "Job was active longer than specified deadline"},
		{"failjob", `  completions: 2
  parallelism: 2
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes:
        operator: In
        values: [42]`, 42, 1, "PodFailurePolicy", "Container main for pod %s/%s failed with exit code 42 matching FailJob rule at index 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client, ns := setup(t)
			kubectlApply(t, ns, jobManifest(tc.name, tc.spec))
			want := 1
			if strings.Contains(tc.spec, "parallelism: 2") {
				want = 2
			}
			pods := activePods(t, client, ns, tc.name, want)
			msg := tc.message
			for _, p := range pods[:tc.failPods] {
				finish(t, client, p, tc.exitCode)
				if strings.Contains(msg, "%s") {
					msg = fmt.Sprintf(msg, ns, p.Name)
				}
			}
			job := waitCondition(t, client, ns, tc.name, batchv1.JobFailed)
			for _, ct := range []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed} {
				if c := condition(job, ct); c == nil || c.Reason != tc.reason || c.Message != msg {
					t.Errorf("condition %s: %+v, want %s %q", ct, c, tc.reason, msg)
				}
			}
			if job.Status.Active != 0 || job.Status.Failed != int32(want) || job.Status.CompletionTime != nil {
				t.Errorf("status %+v", job.Status)
			}
			// The running pods were deleted.
			activePods(t, client, ns, tc.name, 0)
			out, _, _ := server.Kubectl(t, "-n", ns, "get", "job", tc.name, "--no-headers")
			if f := strings.Fields(out); len(f) < 2 || f[1] != "Failed" {
				t.Errorf("kubectl get job: %q", out)
			}
		})
	}
}

func TestJobIndexed(t *testing.T) {
	t.Parallel()
	client, ns := setup(t)
	kubectlApply(t, ns, jobManifest("idx", "  completions: 3\n  parallelism: 3\n  completionMode: Indexed"))
	pods := activePods(t, client, ns, "idx", 3)
	seen := map[string]bool{}
	for _, p := range pods {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		seen[ix] = true
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || !strings.HasPrefix(p.Name, "idx-"+ix+"-") {
			t.Errorf("pod %s: index %q labels %v hostname %q", p.Name, ix, p.Labels, p.Spec.Hostname)
		}
	}
	if len(seen) != 3 || !seen["0"] || !seen["1"] || !seen["2"] {
		t.Fatalf("indexes %v", seen)
	}
	for _, p := range pods {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] != "1" {
			finish(t, client, p, 0)
		}
	}
	poll(t, 20*time.Second, "completedIndexes 0,2", func(ctx context.Context) (bool, error) {
		j, err := client.BatchV1().Jobs(ns).Get(ctx, "idx", metav1.GetOptions{})
		return err == nil && j.Status.CompletedIndexes == "0,2" && j.Status.Succeeded == 2, err
	})
	for _, p := range pods {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] == "1" {
			finish(t, client, p, 0)
		}
	}
	job := waitCondition(t, client, ns, "idx", batchv1.JobComplete)
	if job.Status.CompletedIndexes != "0-2" || job.Status.Succeeded != 3 {
		t.Errorf("status %+v", job.Status)
	}
}

func TestJobSuspend(t *testing.T) {
	t.Parallel()
	client, ns := setup(t)
	kubectlApply(t, ns, jobManifest("sus", "  suspend: true\n  parallelism: 2\n  completions: 2"))
	job := waitCondition(t, client, ns, "sus", batchv1.JobSuspended)
	if c := condition(job, batchv1.JobSuspended); c.Reason != "JobSuspended" || c.Message != "Job suspended" || job.Status.StartTime != nil {
		t.Errorf("suspended job status %+v", job.Status)
	}
	if out, _, _ := server.Kubectl(t, "-n", ns, "get", "job", "sus", "--no-headers"); !strings.Contains(out, "Suspended") {
		t.Errorf("kubectl get job: %q", out)
	}
	if _, _, err := server.Kubectl(t, "-n", ns, "patch", "job", "sus", "--type=merge", "-p", `{"spec":{"suspend":false}}`); err != nil {
		t.Fatal(err)
	}
	activePods(t, client, ns, "sus", 2)
	poll(t, 20*time.Second, "resumed", func(ctx context.Context) (bool, error) {
		j, err := client.BatchV1().Jobs(ns).Get(ctx, "sus", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		c := condition(j, batchv1.JobSuspended)
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == "JobResumed" && j.Status.StartTime != nil && j.Status.Active == 2, nil
	})
	// Suspending again deletes the running pods.
	if _, _, err := server.Kubectl(t, "-n", ns, "patch", "job", "sus", "--type=merge", "-p", `{"spec":{"suspend":true}}`); err != nil {
		t.Fatal(err)
	}
	activePods(t, client, ns, "sus", 0)
	waitCondition(t, client, ns, "sus", batchv1.JobSuspended)
}
