package printers

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets
// when the node of a pod stops answering.
const nodeLostReason = "NodeLost"

func podColumns() []metav1.TableColumnDefinition {
	status, spec := corev1.PodStatus{}.SwaggerDoc(), corev1.PodSpec{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		nameColumn(),
		stringColumn("Ready", "The aggregate readiness state of this pod for accepting traffic."),
		stringColumn("Status", "The aggregate status of the containers in this pod."),
		stringColumn("Restarts", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
		ageColumn(),
		wide(stringColumn("IP", status["podIP"])),
		wide(stringColumn("Node", spec["nodeName"])),
		wide(stringColumn("Nominated Node", status["nominatedNodeName"])),
		wide(stringColumn("Readiness Gates", spec["readinessGates"])),
	}
}

// restartTally adds up container restarts and remembers when the last one
// ended.
type restartTally struct {
	count int
	last  metav1.Time
}

func (r *restartTally) add(s *corev1.ContainerStatus) {
	r.count += int(s.RestartCount)
	if t := s.LastTerminationState.Terminated; t != nil && r.last.Before(&t.FinishedAt) {
		r.last = t.FinishedAt
	}
}

func (r restartTally) String() string {
	if r.count != 0 && !r.last.IsZero() {
		return fmt.Sprintf("%d (%s ago)", r.count, age(r.last))
	}
	return strconv.Itoa(r.count)
}

func isSidecar(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// terminatedReason names a terminated container's end: its reason, else its
// signal, else its exit code.
func terminatedReason(prefix string, t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return prefix + t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("%sSignal:%d", prefix, t.Signal)
	default:
		return fmt.Sprintf("%sExitCode:%d", prefix, t.ExitCode)
	}
}

func podConditionTrue(status *corev1.PodStatus, t corev1.PodConditionType) bool {
	for _, c := range status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// anyReadyCondition differs from podConditionTrue on purpose: upstream
// looks past a False Ready condition for a later True one.
func anyReadyCondition(status *corev1.PodStatus) bool {
	for _, c := range status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func printPod(pod *corev1.Pod, opts options) (metav1.TableRow, error) {
	var row metav1.TableRow
	switch pod.Status.Phase {
	case corev1.PodSucceeded:
		row.Conditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodSucceeded), Message: "The pod has completed successfully."}}
	case corev1.PodFailed:
		row.Conditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: string(corev1.PodFailed), Message: "The pod failed."}}
	}

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	// Sidecars (restartable init containers) count as containers of the pod.
	total := len(pod.Spec.Containers)
	initSpecs := make(map[string]*corev1.Container, len(pod.Spec.InitContainers))
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		initSpecs[c.Name] = c
		if isSidecar(c) {
			total++
		}
	}

	ready := 0
	var all, sidecars restartTally
	initializing := false
	// Walk the init containers in order up to the first one that has not
	// finished; it decides the status while the pod initialises.
	for i := range pod.Status.InitContainerStatuses {
		s := &pod.Status.InitContainerStatuses[i]
		sidecar := isSidecar(initSpecs[s.Name])
		all.add(s)
		if sidecar {
			sidecars.add(s)
		}
		if t := s.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		if sidecar && s.Started != nil && *s.Started {
			if s.Ready {
				ready++
			}
			continue
		}
		initializing = true
		switch w := s.State.Waiting; {
		case s.State.Terminated != nil:
			reason = terminatedReason("Init:", s.State.Terminated)
		case w != nil && w.Reason != "" && w.Reason != "PodInitializing":
			reason = "Init:" + w.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		break
	}

	restarts := all
	if !initializing || podConditionTrue(&pod.Status, corev1.PodInitialized) {
		// Once initialised, only sidecars still restart among init containers.
		restarts = sidecars
		hasRunning := false
		errorReason := ""
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			s := &pod.Status.ContainerStatuses[i]
			restarts.add(s)
			switch {
			case s.State.Waiting != nil && s.State.Waiting.Reason != "":
				reason = s.State.Waiting.Reason
			case s.State.Terminated != nil:
				reason = terminatedReason("", s.State.Terminated)
				if s.State.Terminated.ExitCode != 0 {
					errorReason = reason
				}
			case s.Ready && s.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		// A container that completed does not make a pod with running ones
		// Completed.
		if reason == "Completed" {
			switch {
			case hasRunning && anyReadyCondition(&pod.Status):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == nodeLostReason {
			reason = "Unknown"
		} else if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			reason = "Terminating"
		}
	}

	row.Cells = []any{pod.Name, fmt.Sprintf("%d/%d", ready, total), reason, restarts.String(), age(pod.CreationTimestamp)}
	if opts.wide {
		row.Cells = append(row.Cells, podIP(pod), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates(pod))
	}
	return row, nil
}

func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 && pod.Status.PodIPs[0].IP != "" {
		return pod.Status.PodIPs[0].IP
	}
	return "<none>"
}

func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	met := 0
	for _, gate := range pod.Spec.ReadinessGates {
		for _, c := range pod.Status.Conditions {
			if c.Type == gate.ConditionType {
				if c.Status == corev1.ConditionTrue {
					met++
				}
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", met, len(pod.Spec.ReadinessGates))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
