package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func addAppsHandlers(h handlers) {
	register(h, deploymentColumns(), func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items }, printDeployment)
	register(h, replicaSetColumns(), func(l *appsv1.ReplicaSetList) []appsv1.ReplicaSet { return l.Items }, printReplicaSet)
	register(h, statefulSetColumns(), func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }, printStatefulSet)
	register(h, daemonSetColumns(), func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items }, printDaemonSet)
	register(h, controllerRevisionColumns(), func(l *appsv1.ControllerRevisionList) []appsv1.ControllerRevision { return l.Items }, printControllerRevision)
}

func addBatchHandlers(h handlers) {
	register(h, jobColumns(), func(l *batchv1.JobList) []batchv1.Job { return l.Items }, printJob)
	register(h, cronJobColumns(), func(l *batchv1.CronJobList) []batchv1.CronJob { return l.Items }, printCronJob)
}

func deploymentColumns() []metav1.TableColumnDefinition {
	status := appsv1.DeploymentStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Ready", "Number of the pod with ready state"),
		stringColumn("Up-to-date", status["updatedReplicas"]),
		stringColumn("Available", status["availableReplicas"]),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])),
	}
}

func printDeployment(d *appsv1.Deployment, opts options) (metav1.TableRow, error) {
	row := []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, derefInt32(d.Spec.Replicas)),
		int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d.CreationTimestamp)}
	if opts.wide {
		selector := "<invalid>"
		if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
			selector = s.String()
		}
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		row = append(row, names, images, selector)
	}
	return cells(row...)
}

func replicaSetColumns() []metav1.TableColumnDefinition {
	spec, status := appsv1.ReplicaSetSpec{}.SwaggerDoc(), appsv1.ReplicaSetStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Desired", spec["replicas"]),
		integerColumn("Current", status["replicas"]),
		integerColumn("Ready", status["readyReplicas"]),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", spec["selector"])),
	}
}

func printReplicaSet(rs *appsv1.ReplicaSet, opts options) (metav1.TableRow, error) {
	row := []any{rs.Name, int64(derefInt32(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas), age(rs.CreationTimestamp)}
	if opts.wide {
		names, images := containerCells(rs.Spec.Template.Spec.Containers)
		row = append(row, names, images, metav1.FormatLabelSelector(rs.Spec.Selector))
	}
	return cells(row...)
}

func statefulSetColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Ready", "Number of the pod with ready state"),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
	}
}

func printStatefulSet(ss *appsv1.StatefulSet, opts options) (metav1.TableRow, error) {
	row := []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, derefInt32(ss.Spec.Replicas)), age(ss.CreationTimestamp)}
	if opts.wide {
		names, images := containerCells(ss.Spec.Template.Spec.Containers)
		row = append(row, names, images)
	}
	return cells(row...)
}

func daemonSetColumns() []metav1.TableColumnDefinition {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		integerColumn("Desired", status["desiredNumberScheduled"]),
		integerColumn("Current", status["currentNumberScheduled"]),
		integerColumn("Ready", status["numberReady"]),
		integerColumn("Up-to-date", status["updatedNumberScheduled"]),
		integerColumn("Available", status["numberAvailable"]),
		stringColumn("Node Selector", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])),
	}
}

func printDaemonSet(ds *appsv1.DaemonSet, opts options) (metav1.TableRow, error) {
	s := ds.Status
	row := []any{ds.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
		int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
		age(ds.CreationTimestamp)}
	if opts.wide {
		names, images := containerCells(ds.Spec.Template.Spec.Containers)
		row = append(row, names, images, metav1.FormatLabelSelector(ds.Spec.Selector))
	}
	return cells(row...)
}

func controllerRevisionColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Controller", "Controller of the object"),
		stringColumn("Revision", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
		ageColumn(),
	}
}

func printControllerRevision(cr *appsv1.ControllerRevision, _ options) (metav1.TableRow, error) {
	controller := "<none>"
	if ref := metav1.GetControllerOf(cr); ref != nil {
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return metav1.TableRow{}, fmt.Errorf("controller revision %s/%s: %w", cr.Namespace, cr.Name, err)
		}
		controller = ref.Name
		if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
			controller = strings.ToLower(gk.String()) + "/" + ref.Name
		}
	}
	return cells(cr.Name, controller, cr.Revision, age(cr.CreationTimestamp))
}

func jobColumns() []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Status", "Status of the job."),
		stringColumn("Completions", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		stringColumn("Duration", "Time required to complete the job."),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
	}
}

func jobConditionTrue(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobStatus is the first that applies of: finished, being deleted, suspended,
// about to finish, else Running.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobConditionTrue(job, batchv1.JobComplete):
		return "Complete"
	case jobConditionTrue(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobConditionTrue(job, batchv1.JobSuspended):
		return "Suspended"
	case jobConditionTrue(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobConditionTrue(job, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

func printJob(job *batchv1.Job, opts options) (metav1.TableRow, error) {
	var completions string
	switch parallelism := derefInt32(job.Spec.Parallelism); {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, parallelism)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}
	var took string
	switch start, end := job.Status.StartTime, job.Status.CompletionTime; {
	case start == nil:
	case end == nil:
		took = duration.HumanDuration(time.Since(start.Time))
	default:
		took = duration.HumanDuration(end.Sub(start.Time))
	}
	row := []any{job.Name, jobStatus(job), completions, took, age(job.CreationTimestamp)}
	if opts.wide {
		names, images := containerCells(job.Spec.Template.Spec.Containers)
		row = append(row, names, images, metav1.FormatLabelSelector(job.Spec.Selector))
	}
	return cells(row...)
}

func cronJobColumns() []metav1.TableColumnDefinition {
	spec, status := batchv1.CronJobSpec{}.SwaggerDoc(), batchv1.CronJobStatus{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Schedule", spec["schedule"]),
		stringColumn("Timezone", spec["timeZone"]),
		booleanColumn("Suspend", spec["suspend"]),
		integerColumn("Active", status["active"]),
		stringColumn("Last Schedule", status["lastScheduleTime"]),
		ageColumn(),
		wide(containersColumn()),
		wide(imagesColumn()),
		wide(stringColumn("Selector", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
	}
}

func printCronJob(cj *batchv1.CronJob, opts options) (metav1.TableRow, error) {
	lastSchedule := "<none>"
	if t := cj.Status.LastScheduleTime; t != nil {
		lastSchedule = age(*t)
	}
	timeZone := "<none>"
	if cj.Spec.TimeZone != nil {
		timeZone = *cj.Spec.TimeZone
	}
	row := []any{cj.Name, cj.Spec.Schedule, timeZone, boolPtrString(cj.Spec.Suspend), int64(len(cj.Status.Active)), lastSchedule, age(cj.CreationTimestamp)}
	if opts.wide {
		template := cj.Spec.JobTemplate.Spec
		names, images := containerCells(template.Template.Spec.Containers)
		row = append(row, names, images, metav1.FormatLabelSelector(template.Selector))
	}
	return cells(row...)
}
