package hollow

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSleepDuration(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		args    []string
		want    time.Duration
		ok      bool
	}{
		{name: "sleep", command: []string{"sleep", "5"}, want: 5 * time.Second, ok: true},
		{name: "path and args", command: []string{"/bin/sleep"}, args: []string{"2.5"}, want: 2500 * time.Millisecond, ok: true},
		{name: "shell", command: []string{"sh", "-c", "sleep 3"}, want: 3 * time.Second, ok: true},
		{name: "shell minutes", command: []string{"/bin/sh", "-c", " sleep 1m "}, want: time.Minute, ok: true},
		{name: "infinity", command: []string{"sleep", "infinity"}, want: 0, ok: true},
		{name: "zero exits", command: []string{"sleep", "0"}, want: time.Nanosecond, ok: true},
		{name: "other shell script", command: []string{"sh", "-c", "echo hi; sleep 3"}},
		{name: "no command"},
		{name: "nginx", command: []string{"nginx", "-g", "daemon off;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sleepDuration(&corev1.Container{Command: tt.command, Args: tt.args})
			if got != tt.want || ok != tt.ok {
				t.Fatalf("sleepDuration = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestAdvance drives the hollow runtime through time and checks the phase
// kubelet would report at each step.
func TestAdvance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at   time.Duration
		want corev1.PodPhase
	}
	tests := []struct {
		name   string
		pod    corev1.Pod
		steps  []step
		checks func(t *testing.T, st *podState)
	}{
		{
			name: "init then long-running",
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways,
				InitContainers: []corev1.Container{{Name: "i", Command: []string{"sleep", "2"}}},
				Containers:     []corev1.Container{{Name: "c"}}}},
			steps: []step{{0, corev1.PodPending}, {time.Second, corev1.PodPending}, {2 * time.Second, corev1.PodRunning}, {time.Hour, corev1.PodRunning}},
		},
		{
			name: "never, exits 0",
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Command: []string{"sleep", "1"}}, {Name: "d", Command: []string{"sleep", "3"}}}}},
			steps: []step{{0, corev1.PodRunning}, {2 * time.Second, corev1.PodRunning}, {3 * time.Second, corev1.PodSucceeded}},
		},
		{
			name: "on failure restarts a failing container",
			pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{DurationAnnotation: "1s", ExitCodeAnnotation: "1"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure, Containers: []corev1.Container{{Name: "c"}}}},
			steps: []step{{0, corev1.PodRunning}, {2 * time.Second, corev1.PodRunning}, {11 * time.Second, corev1.PodRunning}},
			checks: func(t *testing.T, st *podState) {
				if c := st.ctrs[0]; c.restarts != 1 || !c.running {
					t.Errorf("restarts %d running %v, want 1 restart, running", c.restarts, c.running)
				}
			},
		},
		{
			name: "sidecar does not block",
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				InitContainers: []corev1.Container{{Name: "side", RestartPolicy: ptrTo(corev1.ContainerRestartPolicyAlways)}},
				Containers:     []corev1.Container{{Name: "c", Command: []string{"sleep", "1"}}}}},
			steps: []step{{0, corev1.PodRunning}, {time.Second, corev1.PodSucceeded}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newPodState(&tt.pod, &node{name: "n"}, t0)
			st.ip = []byte{10, 0, 0, 2}
			for _, s := range tt.steps {
				st.advance(t0.Add(s.at))
				if got := st.phase(); got != s.want {
					t.Fatalf("at %s: phase %s, want %s", s.at, got, s.want)
				}
			}
			if tt.checks != nil {
				tt.checks(t, st)
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestKilledPodIsTerminal: a pod stopped for its deletion ends Failed,
// even if its containers were still waiting to start, as kubelet reports.
func TestKilledPodIsTerminal(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		pod   corev1.Pod
		start bool
		want  corev1.PodPhase
	}{
		{name: "running", start: true, want: corev1.PodFailed,
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, Containers: []corev1.Container{{Name: "c"}}}}},
		{name: "still initializing", start: true, want: corev1.PodFailed,
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways,
				InitContainers: []corev1.Container{{Name: "i", Command: []string{"sleep", "60"}}}, Containers: []corev1.Container{{Name: "c"}}}}},
		{name: "completed before", start: true, want: corev1.PodSucceeded,
			pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Command: []string{"sleep", "0"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newPodState(&tt.pod, &node{name: "n"}, t0)
			st.ip = []byte{10, 0, 0, 2}
			st.advance(t0)
			st.advance(t0.Add(time.Second))
			st.killAt = t0.Add(2 * time.Second)
			for _, c := range append(append([]*ctr{}, st.init...), st.ctrs...) {
				if c.running {
					c.stop(st.killAt, killedExitCode)
				}
			}
			if got := st.phase(); got != tt.want {
				t.Fatalf("phase %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAPIStatusConditions(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 2},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways,
			InitContainers: []corev1.Container{{Name: "i", Command: []string{"sleep", "5"}}},
			Containers:     []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}
	n := &node{name: "n", ip: "198.18.0.1"}
	type want struct {
		status          corev1.ConditionStatus
		reason, message string
	}
	check := func(t *testing.T, s *corev1.PodStatus, expect map[corev1.PodConditionType]want) {
		t.Helper()
		for _, c := range s.Conditions {
			w, ok := expect[c.Type]
			if !ok {
				continue
			}
			if c.Status != w.status || c.Reason != w.reason || c.Message != w.message || c.ObservedGeneration != 2 {
				t.Errorf("%s: %+v, want %+v", c.Type, c, w)
			}
			delete(expect, c.Type)
		}
		if len(expect) > 0 {
			t.Errorf("missing conditions %v", expect)
		}
	}
	st := newPodState(pod, n, now)
	t.Run("no sandbox", func(t *testing.T) {
		s := st.apiStatus(pod, n, now)
		if s.Phase != corev1.PodPending {
			t.Errorf("phase %s", s.Phase)
		}
		check(t, s, map[corev1.PodConditionType]want{
			corev1.PodReadyToStartContainers: {corev1.ConditionFalse, "PodSandboxNotReady", "no pod sandbox exists"},
			corev1.PodScheduled:              {corev1.ConditionTrue, "", ""},
			corev1.PodInitialized:            {corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [i]"},
			corev1.ContainersReady:           {corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [c]"},
			corev1.PodReady:                  {corev1.ConditionFalse, "ContainersNotReady", "containers with unready status: [c]"},
		})
	})
	t.Run("initializing", func(t *testing.T) {
		st.ip = []byte{10, 42, 0, 2}
		st.advance(now)
		s := st.apiStatus(pod, n, now)
		check(t, s, map[corev1.PodConditionType]want{
			corev1.PodReadyToStartContainers: {corev1.ConditionTrue, "", ""},
			corev1.PodInitialized:            {corev1.ConditionFalse, "ContainersNotInitialized", "containers with incomplete status: [i]"},
		})
		if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
			t.Errorf("container state %+v, want waiting PodInitializing", s.ContainerStatuses[0].State)
		}
		if r := s.InitContainerStatuses[0]; r.State.Running == nil || r.Ready {
			t.Errorf("init container status %+v, want running and not ready", r)
		}
	})
	t.Run("running", func(t *testing.T) {
		st.advance(now.Add(5 * time.Second))
		s := st.apiStatus(pod, n, now.Add(5*time.Second))
		if s.Phase != corev1.PodRunning || s.PodIP != "10.42.0.2" || s.HostIP != "198.18.0.1" {
			t.Errorf("phase %s pod IP %s host IP %s", s.Phase, s.PodIP, s.HostIP)
		}
		check(t, s, map[corev1.PodConditionType]want{
			corev1.PodInitialized:  {corev1.ConditionTrue, "", ""},
			corev1.ContainersReady: {corev1.ConditionTrue, "", ""},
			corev1.PodReady:        {corev1.ConditionTrue, "", ""},
		})
	})
}
