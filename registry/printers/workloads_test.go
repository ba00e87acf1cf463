package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

func podTemplate(containers ...corev1.Container) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: containers}}
}

var webContainers = []corev1.Container{{Name: "nginx", Image: "nginx:1.25"}, {Name: "sidecar", Image: "busybox"}}

func TestWorkloads(t *testing.T) {
	created := ago(3 * time.Hour)
	meta := metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: created}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	apps := func(r string) schema.GroupResource { return schema.GroupResource{Group: "apps", Resource: r} }
	batch := func(r string) schema.GroupResource { return schema.GroupResource{Group: "batch", Resource: r} }
	start := metav1.NewTime(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	finish := metav1.NewTime(start.Add(2*time.Minute + 5*time.Second))
	deleted := ago(time.Second)
	condition := func(t batchv1.JobConditionType, s corev1.ConditionStatus) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: t, Status: s}}
	}

	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want []any
	}{
		{
			name: "deployment",
			gr:   apps("deployments"),
			obj: &appsv1.Deployment{ObjectMeta: meta,
				Spec:   appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: selector, Template: podTemplate(webContainers...)},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			want: []any{"web", "2/3", int64(3), int64(2), "3h", "nginx,sidecar", "nginx:1.25,busybox", "app=web"},
		},
		{
			name: "deployment without replicas or selector",
			gr:   apps("deployments"),
			obj:  &appsv1.Deployment{ObjectMeta: meta},
			want: []any{"web", "0/0", int64(0), int64(0), "3h", "", "", ""},
		},
		{
			name: "deployment with an invalid selector",
			gr:   apps("deployments"),
			obj: &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}}}},
			want: []any{"web", "0/0", int64(0), int64(0), "3h", "", "", "<invalid>"},
		},
		{
			name: "replicaset",
			gr:   apps("replicasets"),
			obj: &appsv1.ReplicaSet{ObjectMeta: meta,
				Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](5), Selector: selector, Template: podTemplate(webContainers[0])},
				Status: appsv1.ReplicaSetStatus{Replicas: 5, ReadyReplicas: 4}},
			want: []any{"web", int64(5), int64(5), int64(4), "3h", "nginx", "nginx:1.25", "app=web"},
		},
		{
			name: "replicaset without selector",
			gr:   apps("replicasets"),
			obj:  &appsv1.ReplicaSet{ObjectMeta: meta},
			want: []any{"web", int64(0), int64(0), int64(0), "3h", "", "", "<none>"},
		},
		{
			name: "statefulset",
			gr:   apps("statefulsets"),
			obj: &appsv1.StatefulSet{ObjectMeta: meta,
				Spec:   appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Template: podTemplate(webContainers[0])},
				Status: appsv1.StatefulSetStatus{ReadyReplicas: 1}},
			want: []any{"web", "1/3", "3h", "nginx", "nginx:1.25"},
		},
		{
			name: "daemonset",
			gr:   apps("daemonsets"),
			obj: &appsv1.DaemonSet{ObjectMeta: meta,
				Spec: appsv1.DaemonSetSpec{Selector: selector, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"kubernetes.io/os": "linux"}, Containers: webContainers[:1]}}},
				Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 1, NumberAvailable: 2}},
			want: []any{"web", int64(3), int64(3), int64(2), int64(1), int64(2), "kubernetes.io/os=linux", "3h", "nginx", "nginx:1.25", "app=web"},
		},
		{
			name: "daemonset without node selector",
			gr:   apps("daemonsets"),
			obj:  &appsv1.DaemonSet{ObjectMeta: meta},
			want: []any{"web", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "3h", "", "", "<none>"},
		},
		{
			name: "controller revision of a statefulset",
			gr:   apps("controllerrevisions"),
			obj: &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c", CreationTimestamp: created,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: ptr.To(true)}}},
				Revision: 4},
			want: []any{"web-7d4b9c", "statefulset.apps/web", int64(4), "3h"},
		},
		{
			name: "controller revision of a core kind",
			gr:   apps("controllerrevisions"),
			obj: &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "r", CreationTimestamp: created,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptr.To(true)}}}},
			want: []any{"r", "pod/p", int64(0), "3h"},
		},
		{
			name: "controller revision owned by no controller",
			gr:   apps("controllerrevisions"),
			obj: &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "r", CreationTimestamp: created,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", Controller: ptr.To(false)}}}},
			want: []any{"r", "<none>", int64(0), "3h"},
		},
		{
			name: "complete job",
			gr:   batch("jobs"),
			obj: &batchv1.Job{ObjectMeta: meta,
				Spec: batchv1.JobSpec{Completions: ptr.To[int32](1), Parallelism: ptr.To[int32](1), Selector: selector,
					Template: podTemplate(corev1.Container{Name: "pi", Image: "perl"})},
				Status: batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &finish,
					Conditions: append(condition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), condition(batchv1.JobComplete, corev1.ConditionTrue)...)}},
			want: []any{"web", "Complete", "1/1", "2m5s", "3h", "pi", "perl", "app=web"},
		},
		{
			name: "running job",
			gr:   batch("jobs"),
			obj: &batchv1.Job{ObjectMeta: meta,
				Spec:   batchv1.JobSpec{Completions: ptr.To[int32](5), Parallelism: ptr.To[int32](2)},
				Status: batchv1.JobStatus{Succeeded: 2, StartTime: ptr.To(ago(30 * time.Second))}},
			want: []any{"web", "Running", "2/5", "30s", "3h", "", "", "<none>"},
		},
		{
			name: "work queue job with parallelism and no start yet",
			gr:   batch("jobs"),
			obj:  &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](3)}},
			want: []any{"web", "Running", "0/1 of 3", "", "3h", "", "", "<none>"},
		},
		{
			name: "failed job",
			gr:   batch("jobs"),
			obj: &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{
				Conditions: append(condition(batchv1.JobFailureTarget, corev1.ConditionTrue), condition(batchv1.JobFailed, corev1.ConditionTrue)...)}},
			want: []any{"web", "Failed", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "job being deleted",
			gr:   batch("jobs"),
			obj: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: created, DeletionTimestamp: &deleted},
				Status: batchv1.JobStatus{Conditions: condition(batchv1.JobSuspended, corev1.ConditionTrue)}},
			want: []any{"web", "Terminating", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "suspended job",
			gr:   batch("jobs"),
			obj:  &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: condition(batchv1.JobSuspended, corev1.ConditionTrue)}},
			want: []any{"web", "Suspended", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "job about to fail",
			gr:   batch("jobs"),
			obj:  &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: condition(batchv1.JobFailureTarget, corev1.ConditionTrue)}},
			want: []any{"web", "FailureTarget", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "job about to succeed",
			gr:   batch("jobs"),
			obj:  &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: condition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue)}},
			want: []any{"web", "SuccessCriteriaMet", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "job with a false complete condition is running",
			gr:   batch("jobs"),
			obj:  &batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: condition(batchv1.JobComplete, corev1.ConditionFalse)}},
			want: []any{"web", "Running", "0/1", "", "3h", "", "", "<none>"},
		},
		{
			name: "cronjob",
			gr:   batch("cronjobs"),
			obj: &batchv1.CronJob{ObjectMeta: meta,
				Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: ptr.To(false),
					JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Selector: selector, Template: podTemplate(corev1.Container{Name: "hello", Image: "busybox"})}}},
				Status: batchv1.CronJobStatus{Active: make([]corev1.ObjectReference, 1), LastScheduleTime: ptr.To(ago(5 * time.Minute))}},
			want: []any{"web", "*/5 * * * *", "<none>", "False", int64(1), "5m", "3h", "hello", "busybox", "app=web"},
		},
		{
			name: "cronjob never scheduled, with time zone and unset suspend",
			gr:   batch("cronjobs"),
			obj:  &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{Schedule: "@daily", TimeZone: ptr.To("Europe/Paris")}},
			want: []any{"web", "@daily", "Europe/Paris", "<unset>", int64(0), "<none>", "3h", "", "", "<none>"},
		},
		{
			name: "replication controller",
			gr:   schema.GroupResource{Resource: "replicationcontrollers"},
			obj: &corev1.ReplicationController{ObjectMeta: meta,
				Spec: corev1.ReplicationControllerSpec{Replicas: ptr.To[int32](2), Selector: map[string]string{"app": "web"},
					Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: webContainers}}},
				Status: corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 1}},
			want: []any{"web", int64(2), int64(2), int64(1), "3h", "nginx,sidecar", "nginx:1.25,busybox", "app=web"},
		},
		{
			name: "pod template",
			gr:   schema.GroupResource{Resource: "podtemplates"},
			obj: &corev1.PodTemplate{ObjectMeta: meta, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{Containers: webContainers}}},
			want: []any{"web", "nginx,sidecar", "nginx:1.25,busybox", "app=web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectCells(t, serverCells(t, tt.gr, tt.obj), tt.want)
		})
	}
}
