package printers

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func running(ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Ready: ready, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{RestartCount: restarts, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exitCode, Signal: signal}}}
}

// restartedAgo marks a status as having last ended d ago.
func restartedAgo(s corev1.ContainerStatus, d time.Duration) corev1.ContainerStatus {
	s.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(d)}}
	return s
}

func named(name string, s corev1.ContainerStatus) corev1.ContainerStatus {
	s.Name = name
	return s
}

func started(s corev1.ContainerStatus, v bool) corev1.ContainerStatus {
	s.Started = ptr.To(v)
	return s
}

func TestPodStatusColumns(t *testing.T) {
	deleted := ago(10 * time.Second)
	always := corev1.ContainerRestartPolicyAlways
	sidecars := []corev1.Container{{Name: "sidecar-1", RestartPolicy: &always}, {Name: "sidecar-2", RestartPolicy: &always}}
	succeeded := []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}}
	failed := []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}}
	readyCondition := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}

	tests := []struct {
		name           string
		pod            corev1.Pod
		want           []any
		wantConditions []metav1.TableRowCondition
	}{
		{
			name: "running and unready containers add restarts",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{running(true, 3), {RestartCount: 3}}},
			},
			want: []any{"1/2", "Running", "6"},
		},
		{
			name: "a waiting reason replaces the phase",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{running(true, 0), waiting("ContainerCreating", 0)}},
			},
			want: []any{"1/2", "ContainerCreating", "0"},
		},
		{
			name: "the first container's reason wins",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					waiting("ImagePullBackOff", 0), terminated("OOMKilled", 137, 0)}},
			},
			want: []any{"0/2", "ImagePullBackOff", "0"},
		},
		{
			name: "CrashLoopBackOff with time of the last restart",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					restartedAgo(waiting("CrashLoopBackOff", 5), 3*time.Minute)}},
			},
			want: []any{"0/1", "CrashLoopBackOff", "5 (3m ago)"},
		},
		{
			name: "the pod's reason replaces the phase",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Failed", Reason: "Evicted"},
			},
			want: []any{"0/1", "Evicted", "0"}, wantConditions: failed,
		},
		{
			name: "Completed with a running container and no Ready condition is NotReady",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					terminated("Completed", 0, 0), running(true, 0)}},
			},
			want: []any{"1/2", "NotReady", "0"},
		},
		{
			name: "Completed with a running container and the Ready condition is Running",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", Conditions: readyCondition, ContainerStatuses: []corev1.ContainerStatus{
					terminated("Completed", 0, 0), running(true, 0)}},
			},
			want: []any{"1/2", "Running", "0"},
		},
		{
			name: "a later True Ready condition counts even after a False one",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running",
					Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}},
					ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0), running(true, 0)}},
			},
			want: []any{"1/2", "Running", "0"},
		},
		{
			name: "Completed next to a failed container shows the failure",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					terminated("Completed", 0, 0), terminated("Error", 1, 0)}},
			},
			want: []any{"0/2", "Error", "0"},
		},
		{
			name: "terminated without reason shows signal, then exit code",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					terminated("", 137, 9), terminated("", 2, 0)}},
			},
			want: []any{"0/2", "Signal:9", "0"},
		},
		{
			name: "terminated without reason or signal shows the exit code",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{terminated("", 2, 0)}},
			},
			want: []any{"0/1", "ExitCode:2", "0"},
		},
		{
			name: "succeeded pod is Completed",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Succeeded", ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0)}},
			},
			want: []any{"0/1", "Completed", "0"}, wantConditions: succeeded,
		},
		{
			name: "failed pod shows the container's reason",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Failed", ContainerStatuses: []corev1.ContainerStatus{terminated("Error", 1, 0)}},
			},
			want: []any{"0/1", "Error", "0"}, wantConditions: failed,
		},
		{
			name: "deleting a running pod is Terminating",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status:     corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{running(true, 0)}},
			},
			want: []any{"1/1", "Terminating", "0"},
		},
		{
			name: "deleting a pending pod is Terminating",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status:     corev1.PodStatus{Phase: "Pending"},
			},
			want: []any{"0/1", "Terminating", "0"},
		},
		{
			name: "deleting a finished pod keeps its status",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status:     corev1.PodStatus{Phase: "Succeeded", ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0, 0)}},
			},
			want: []any{"0/1", "Completed", "0"}, wantConditions: succeeded,
		},
		{
			name: "a pod on a lost node being deleted is Unknown",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status:     corev1.PodStatus{Phase: "Running", Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{running(true, 0)}},
			},
			want: []any{"1/1", "Unknown", "0"},
		},
		{
			name: "a pod on a lost node not yet deleted shows NodeLost until a container says otherwise",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{Phase: "Running", Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{running(true, 0)}},
			},
			want: []any{"1/1", "NodeLost", "0"},
		},
		{
			name: "scheduling gates",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Pending", Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated}}},
			},
			want: []any{"0/2", "SchedulingGated", "0"},
		},
		{
			name: "an init container running shows its index and only init restarts count",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 2), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{
						terminated("Completed", 0, 0), restartedAgo(running(false, 3), 10*time.Second)},
					ContainerStatuses: []corev1.ContainerStatus{waiting("PodInitializing", 7)},
				},
			},
			want: []any{"0/1", "Init:1/2", "3 (10s ago)"},
		},
		{
			name: "an init container in back-off",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase:                 "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff", 2)},
					ContainerStatuses:     []corev1.ContainerStatus{waiting("PodInitializing", 0)},
				},
			},
			want: []any{"0/1", "Init:CrashLoopBackOff", "2"},
		},
		{
			name: "an init container waiting in PodInitializing shows its index",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase:                 "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{waiting("PodInitializing", 0)},
				},
			},
			want: []any{"0/1", "Init:0/1", "0"},
		},
		{
			name: "failed init containers show reason, signal or exit code",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase:                 "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{terminated("", 1, 0)},
				},
			},
			want: []any{"0/1", "Init:ExitCode:1", "0"},
		},
		{
			name: "failed init container killed by a signal",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase:                 "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{terminated("", 137, 9)},
				},
			},
			want: []any{"0/1", "Init:Signal:9", "0"},
		},
		{
			name: "failed init container with a reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase:                 "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{terminated("Error", 1, 0)},
				},
			},
			want: []any{"0/1", "Init:Error", "0"},
		},
		{
			name: "after initialisation restarts of plain init containers no longer count",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: make([]corev1.Container, 1), Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Running",
					InitContainerStatuses: []corev1.ContainerStatus{
						restartedAgo(func() corev1.ContainerStatus { s := terminated("Completed", 0, 0); s.RestartCount = 3; return s }(), 10*time.Minute)},
					ContainerStatuses: []corev1.ContainerStatus{restartedAgo(running(false, 1), 20*time.Second)},
				},
			},
			want: []any{"0/1", "Running", "1 (20s ago)"},
		},
		{
			name: "restarts show the most recent restart of several containers",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: make([]corev1.Container, 2)},
				Status: corev1.PodStatus{Phase: "Running", ContainerStatuses: []corev1.ContainerStatus{
					restartedAgo(running(true, 6), 20*24*time.Hour), restartedAgo(running(true, 3), 5*24*time.Hour)}},
			},
			want: []any{"2/2", "Running", "9 (5d ago)"},
		},
		{
			name: "sidecar running but not started holds initialisation",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: sidecars, Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{
						started(named("sidecar-1", restartedAgo(running(false, 3), 10*time.Second)), false),
						started(named("sidecar-2", waiting("", 0)), false),
					},
					ContainerStatuses: []corev1.ContainerStatus{waiting("", 0)},
					Conditions:        []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionFalse}},
				},
			},
			want: []any{"0/3", "Init:0/2", "3 (10s ago)"},
		},
		{
			name: "started sidecar lets initialisation move on",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: sidecars, Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Pending",
					InitContainerStatuses: []corev1.ContainerStatus{
						started(named("sidecar-1", restartedAgo(running(false, 3), 10*time.Second)), true),
						started(named("sidecar-2", running(false, 0)), false),
					},
					ContainerStatuses: []corev1.ContainerStatus{waiting("", 0)},
					Conditions:        []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionFalse}},
				},
			},
			want: []any{"0/3", "Init:1/2", "3 (10s ago)"},
		},
		{
			name: "running pod with sidecars counts them as containers and adds their restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: sidecars, Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Running",
					InitContainerStatuses: []corev1.ContainerStatus{
						started(named("sidecar-1", restartedAgo(running(true, 3), 10*time.Second)), true),
						started(named("sidecar-2", running(false, 0)), true),
					},
					ContainerStatuses: []corev1.ContainerStatus{restartedAgo(running(true, 4), 20*time.Second)},
					Conditions:        []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				},
			},
			want: []any{"2/3", "Running", "7 (10s ago)"},
		},
		{
			name: "succeeded pod whose sidecars were killed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: sidecars, Containers: make([]corev1.Container, 1)},
				Status: corev1.PodStatus{
					Phase: "Succeeded",
					InitContainerStatuses: []corev1.ContainerStatus{
						started(named("sidecar-1", restartedAgo(func() corev1.ContainerStatus { s := terminated("Error", 137, 0); s.RestartCount = 3; return s }(), 10*time.Second)), false),
						started(named("sidecar-2", terminated("Error", 137, 0)), false),
					},
					ContainerStatuses: []corev1.ContainerStatus{restartedAgo(func() corev1.ContainerStatus { s := terminated("Completed", 0, 0); s.RestartCount = 4; return s }(), 20*time.Second)},
					Conditions:        []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				},
			},
			want: []any{"0/3", "Completed", "7 (10s ago)"}, wantConditions: succeeded,
		},
		{
			name: "statuses of unknown containers",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "init1"}, {Name: "sidecar1", RestartPolicy: &always}},
					Containers:     []corev1.Container{{Name: "container1"}},
				},
				Status: corev1.PodStatus{
					Phase:                 "Running",
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "initinvalid"}, {Name: "init1"}, {Name: "sidecar1"}},
					ContainerStatuses:     []corev1.ContainerStatus{{Name: "containerinvalid"}, {Name: "container1"}},
				},
			},
			want: []any{"0/2", "Init:0/2", "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			pod.Name = "web"
			pod.CreationTimestamp = ago(3 * time.Hour)
			rows := narrowCells(t, &pod)
			want := append([]any{"web"}, tt.want...)
			want = append(want, "3h")
			expectCells(t, rows[0].Cells, want)
			if !reflect.DeepEqual(rows[0].Conditions, tt.wantConditions) {
				t.Errorf("conditions %+v, want %+v", rows[0].Conditions, tt.wantConditions)
			}
		})
	}
}

func TestPodWideColumns(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want []any
	}{
		{
			name: "unscheduled pod",
			pod:  corev1.Pod{Spec: corev1.PodSpec{Containers: make([]corev1.Container, 1)}, Status: corev1.PodStatus{Phase: "Pending"}},
			want: []any{"0/1", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"},
		},
		{
			name: "running pod with the first of its IPs, node and readiness gates",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: ago(20 * time.Minute)},
				Spec: corev1.PodSpec{
					NodeName:       "node-a",
					Containers:     make([]corev1.Container, 1),
					ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}},
				},
				Status: corev1.PodStatus{
					Phase:             "Running",
					NominatedNodeName: "node-b",
					PodIP:             "10.42.0.5",
					PodIPs:            []corev1.PodIP{{IP: "10.42.0.5"}, {IP: "fd00::5"}},
					ContainerStatuses: []corev1.ContainerStatus{running(true, 0)},
					Conditions: []corev1.PodCondition{
						{Type: "example.com/lb", Status: corev1.ConditionTrue},
						{Type: "example.com/dns", Status: corev1.ConditionFalse},
					},
				},
			},
			want: []any{"1/1", "Running", "0", "20m", "10.42.0.5", "node-a", "node-b", "1/2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod
			pod.Name = "web"
			expectCells(t, serverCells(t, pods, &pod), append([]any{"web"}, tt.want...))
		})
	}
}
