package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	"k8s.io/utils/clock"
)

// tolerances bound the usage ratio within which the controller keeps the
// current replica count.
type tolerances struct {
	scaleDown, scaleUp float64
}

func (t tolerances) String() string {
	return fmt.Sprintf("[down:%.1f%%, up:%.1f%%]", t.scaleDown*100., t.scaleUp*100.)
}

func (t tolerances) isWithin(ratio float64) bool {
	return 1.0-t.scaleDown <= ratio && ratio <= 1.0+t.scaleUp
}

// replicaCalculator turns metrics into replica counts.
type replicaCalculator struct {
	metrics MetricsClient
	pods    corelisters.PodLister
	clock   clock.PassiveClock
	// cpuInitializationPeriod is how long after a pod starts its CPU
	// samples are suspect; delayOfInitialReadiness is how long after start
	// an unready pod counts as never having been ready.
	cpuInitializationPeriod, delayOfInitialReadiness time.Duration
}

// resourceReplicas is the replica count for a target utilization of
// resource (percent of request), with the utilization and mean raw usage.
func (c *replicaCalculator) resourceReplicas(ctx context.Context, current, targetUtilization int32, resource corev1.ResourceName, tol tolerances,
	namespace string, selector labels.Selector, container string) (replicas, utilization int32, rawUtilization int64, ts time.Time, err error) {
	metrics, ts, err := c.metrics.GetResourceMetric(ctx, resource, namespace, selector, container)
	if err != nil {
		return 0, 0, 0, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: %w", resource, err)
	}
	pods, err := c.pods.Pods(namespace).List(selector)
	if err != nil {
		return 0, 0, 0, time.Time{}, fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	if len(pods) == 0 {
		return 0, 0, 0, time.Time{}, errors.New("no pods returned by selector while calculating replica count")
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	if len(metrics) == 0 {
		return 0, 0, 0, time.Time{}, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	requests, err := podRequests(pods, container, resource)
	if err != nil {
		return 0, 0, 0, time.Time{}, err
	}
	ratio, utilization, rawUtilization, err := resourceUtilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, 0, 0, time.Time{}, err
	}

	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if tol.isWithin(ratio) {
			return current, utilization, rawUtilization, ts, nil
		}
		return int32(math.Ceil(ratio * float64(ready))), utilization, rawUtilization, ts, nil
	}

	// Assume the worst for the direction of the change: pods without
	// samples use their whole request (or the target, above 100%) on a
	// scale-down and nothing on a scale-up, as do unready pods on a scale-up.
	if len(missing) > 0 {
		switch {
		case ratio < 1.0:
			fallback := int64(max(100, targetUtilization))
			for pod := range missing {
				metrics[pod] = podMetric{Value: requests[pod] * fallback / 100}
			}
		case ratio > 1.0:
			for pod := range missing {
				metrics[pod] = podMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for pod := range unready {
			metrics[pod] = podMetric{Value: 0}
		}
	}
	newRatio, _, _, err := resourceUtilizationRatio(metrics, requests, targetUtilization)
	if err != nil {
		return 0, utilization, rawUtilization, time.Time{}, err
	}
	return c.rebalanced(current, ratio, newRatio, len(metrics), tol), utilization, rawUtilization, ts, nil
}

// rebalanced is the replica count once missing and unready pods were given
// their assumed samples: the current count when that brings the ratio
// within tolerance or would reverse the direction of the change.
func (c *replicaCalculator) rebalanced(current int32, ratio, newRatio float64, samples int, tol tolerances) int32 {
	if tol.isWithin(newRatio) || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current
	}
	replicas := int32(math.Ceil(newRatio * float64(samples)))
	if (newRatio < 1.0 && replicas > current) || (newRatio > 1.0 && replicas < current) {
		return current
	}
	return replicas
}

// rawResourceReplicas is the replica count for a target mean usage of resource.
func (c *replicaCalculator) rawResourceReplicas(ctx context.Context, current int32, targetUsage int64, resource corev1.ResourceName, tol tolerances,
	namespace string, selector labels.Selector, container string) (replicas int32, usage int64, ts time.Time, err error) {
	metrics, ts, err := c.metrics.GetResourceMetric(ctx, resource, namespace, selector, container)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metrics for resource %s: %w", resource, err)
	}
	replicas, usage, err = c.plainMetricReplicas(metrics, current, targetUsage, tol, namespace, selector, resource)
	return replicas, usage, ts, err
}

// podsMetricReplicas is the replica count for a target mean of a custom pod metric.
func (c *replicaCalculator) podsMetricReplicas(ctx context.Context, current int32, targetUsage int64, metricName string, tol tolerances,
	namespace string, selector, metricSelector labels.Selector) (replicas int32, usage int64, ts time.Time, err error) {
	metrics, ts, err := c.metrics.GetRawMetric(ctx, metricName, namespace, selector, metricSelector)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metric %s: %w", metricName, err)
	}
	replicas, usage, err = c.plainMetricReplicas(metrics, current, targetUsage, tol, namespace, selector, "")
	return replicas, usage, ts, err
}

func (c *replicaCalculator) plainMetricReplicas(metrics podMetrics, current int32, targetUsage int64, tol tolerances,
	namespace string, selector labels.Selector, resource corev1.ResourceName) (replicas int32, usage int64, err error) {
	pods, err := c.pods.Pods(namespace).List(selector)
	if err != nil {
		return 0, 0, fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	if len(pods) == 0 {
		return 0, 0, errors.New("no pods returned by selector while calculating replica count")
	}
	ready, unready, missing, ignored := c.groupPods(pods, metrics, resource)
	removeMetrics(metrics, ignored)
	removeMetrics(metrics, unready)
	if len(metrics) == 0 {
		return 0, 0, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, usage := metricUsageRatio(metrics, targetUsage)

	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if tol.isWithin(ratio) {
			return current, usage, nil
		}
		return int32(math.Ceil(ratio * float64(ready))), usage, nil
	}
	if len(missing) > 0 {
		switch {
		case ratio < 1.0:
			for pod := range missing {
				metrics[pod] = podMetric{Value: targetUsage}
			}
		case ratio > 1.0:
			for pod := range missing {
				metrics[pod] = podMetric{Value: 0}
			}
		}
	}
	if scaleUpWithUnready {
		for pod := range unready {
			metrics[pod] = podMetric{Value: 0}
		}
	}
	newRatio, _ := metricUsageRatio(metrics, targetUsage)
	return c.rebalanced(current, ratio, newRatio, len(metrics), tol), usage, nil
}

// objectMetricReplicas is the replica count for a target value of an
// object's metric.
func (c *replicaCalculator) objectMetricReplicas(ctx context.Context, current int32, targetUsage int64, metricName string, tol tolerances, namespace string,
	ref *autoscalingv2.CrossVersionObjectReference, selector, metricSelector labels.Selector) (replicas int32, usage int64, ts time.Time, err error) {
	usage, _, err = c.metrics.GetObjectMetric(ctx, metricName, namespace, ref, metricSelector)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metric %s on %s %s/%s: %w", metricName, ref.Kind, namespace, ref.Name, err)
	}
	replicas, ts, err = c.usageRatioReplicas(current, float64(usage)/float64(targetUsage), tol, namespace, selector)
	return replicas, usage, ts, err
}

// usageRatioReplicas scales the ready pods by ratio; from zero replicas it
// scales to ceil(ratio), which lets object and external metrics wake a
// workload scaled to zero.
func (c *replicaCalculator) usageRatioReplicas(current int32, ratio float64, tol tolerances, namespace string, selector labels.Selector) (int32, time.Time, error) {
	if current == 0 {
		return int32(math.Ceil(ratio)), time.Time{}, nil
	}
	if tol.isWithin(ratio) {
		return current, time.Time{}, nil
	}
	ready, err := c.readyPods(namespace, selector)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to calculate ready pods: %s", err)
	}
	f := ratio * float64(ready)
	if f > math.MaxInt32 {
		return math.MaxInt32, time.Time{}, nil
	}
	return int32(math.Ceil(f)), time.Time{}, nil
}

// objectPerPodMetricReplicas is the replica count for a target per-pod
// average of an object's metric.
func (c *replicaCalculator) objectPerPodMetricReplicas(ctx context.Context, statusReplicas int32, targetAverage int64, metricName string, tol tolerances, namespace string,
	ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (replicas int32, usage int64, ts time.Time, err error) {
	usage, ts, err = c.metrics.GetObjectMetric(ctx, metricName, namespace, ref, metricSelector)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get metric %s on %s %s/%s: %w", metricName, ref.Kind, namespace, ref.Name, err)
	}
	replicas = statusReplicas
	if ratio := float64(usage) / (float64(targetAverage) * float64(replicas)); !tol.isWithin(ratio) {
		replicas = int32(math.Ceil(float64(usage) / float64(targetAverage)))
	}
	usage = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	return replicas, usage, ts, nil
}

func (c *replicaCalculator) readyPods(namespace string, selector labels.Selector) (int64, error) {
	pods, err := c.pods.Pods(namespace).List(selector)
	if err != nil {
		return 0, fmt.Errorf("unable to get pods while calculating replica count: %w", err)
	}
	if len(pods) == 0 {
		return 0, errors.New("no pods returned by selector while calculating replica count")
	}
	var n int64
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodRunning && podReady(pod) {
			n++
		}
	}
	return n, nil
}

// externalMetricReplicas is the replica count for a target total of an
// external metric.
func (c *replicaCalculator) externalMetricReplicas(ctx context.Context, current int32, targetUsage int64, metricName string, tol tolerances, namespace string,
	metricSelector *metav1.LabelSelector, podSelector labels.Selector) (replicas int32, usage int64, ts time.Time, err error) {
	sel, err := metav1.LabelSelectorAsSelector(metricSelector)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	values, _, err := c.metrics.GetExternalMetric(ctx, metricName, namespace, sel)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get external metric %s/%s/%+v: %s", namespace, metricName, metricSelector, err)
	}
	for _, v := range values {
		if v > 0 && usage > math.MaxInt64-v {
			usage = math.MaxInt64
			break
		}
		usage += v
	}
	replicas, ts, err = c.usageRatioReplicas(current, float64(usage)/float64(targetUsage), tol, namespace, podSelector)
	return replicas, usage, ts, err
}

// externalPerPodMetricReplicas is the replica count for a target per-pod
// average of an external metric.
func (c *replicaCalculator) externalPerPodMetricReplicas(ctx context.Context, statusReplicas int32, targetPerPod int64, metricName string, tol tolerances, namespace string,
	metricSelector *metav1.LabelSelector) (replicas int32, usage int64, ts time.Time, err error) {
	sel, err := metav1.LabelSelectorAsSelector(metricSelector)
	if err != nil {
		return 0, 0, time.Time{}, err
	}
	values, ts, err := c.metrics.GetExternalMetric(ctx, metricName, namespace, sel)
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("unable to get external metric %s/%s/%+v: %s", namespace, metricName, metricSelector, err)
	}
	for _, v := range values {
		usage += v
		if usage < 0 { // overflowed
			usage = math.MaxInt64
			break
		}
	}
	replicas = statusReplicas
	if ratio := float64(usage) / (float64(targetPerPod) * float64(replicas)); !tol.isWithin(ratio) {
		r := math.Ceil(float64(usage) / float64(targetPerPod))
		if r > float64(math.MaxInt32) {
			replicas = math.MaxInt32
		} else {
			replicas = int32(r)
		}
	}
	if float64(usage) >= float64(math.MaxInt64) {
		usage = math.MaxInt64
	} else {
		usage = int64(math.Ceil(float64(usage) / float64(statusReplicas)))
	}
	return replicas, usage, ts, nil
}

// groupPods sorts pods into those whose samples count (ready), those
// whose samples are not to be trusted yet (unready: pending, or for CPU
// still starting up), those without a sample (missing), and those on their
// way out (ignored).
func (c *replicaCalculator) groupPods(pods []*corev1.Pod, metrics podMetrics, resource corev1.ResourceName) (ready int, unready, missing, ignored sets.Set[string]) {
	unready, missing, ignored = sets.New[string](), sets.New[string](), sets.New[string]()
	now := c.clock.Now()
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			ignored.Insert(pod.Name)
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			unready.Insert(pod.Name)
			continue
		}
		m, ok := metrics[pod.Name]
		if !ok {
			missing.Insert(pod.Name)
			continue
		}
		if resource == corev1.ResourceCPU {
			cond := podCondition(pod, corev1.PodReady)
			var notReady bool
			switch {
			case cond == nil || pod.Status.StartTime == nil:
				notReady = true
			case pod.Status.StartTime.Add(c.cpuInitializationPeriod).After(now):
				// Starting up: the sample must be of a whole window since
				// the pod last became ready.
				notReady = cond.Status == corev1.ConditionFalse || m.Timestamp.Before(cond.LastTransitionTime.Add(m.Window))
			default:
				// Unready and never ready since it started.
				notReady = cond.Status == corev1.ConditionFalse && pod.Status.StartTime.Add(c.delayOfInitialReadiness).After(cond.LastTransitionTime.Time)
			}
			if notReady {
				unready.Insert(pod.Name)
				continue
			}
		}
		ready++
	}
	return ready, unready, missing, ignored
}

// podRequests is each pod's request of resource: the named container's,
// else the pod-level request where the pod sets one, else the sum over its
// containers and restartable init containers (sidecars).
func podRequests(pods []*corev1.Pod, container string, resource corev1.ResourceName) (map[string]int64, error) {
	requests := make(map[string]int64, len(pods))
	for _, pod := range pods {
		var (
			req int64
			err error
		)
		if container == "" && resourcehelper.IsPodLevelRequestsSet(pod) {
			req, err = podLevelRequest(pod, resource)
		} else {
			req, err = containerRequests(pod, container, resource)
		}
		if err != nil {
			return nil, err
		}
		requests[pod.Name] = req
	}
	return requests, nil
}

func podLevelRequest(pod *corev1.Pod, resource corev1.ResourceName) (int64, error) {
	q, ok := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})[resource]
	if !ok {
		return 0, fmt.Errorf("missing pod-level request for %s in Pod %s", resource, pod.Name)
	}
	return q.MilliValue(), nil
}

func containerRequests(pod *corev1.Pod, container string, resource corev1.ResourceName) (int64, error) {
	containers := append([]corev1.Container{}, pod.Spec.Containers...)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	var total int64
	for _, c := range containers {
		if container != "" && c.Name != container {
			continue
		}
		q, ok := c.Resources.Requests[resource]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
		}
		total += q.MilliValue()
		if container == c.Name {
			return total, nil
		}
	}
	if container != "" {
		return 0, fmt.Errorf("container %s not found in Pod %s", container, pod.Name)
	}
	return total, nil
}

func removeMetrics(metrics podMetrics, pods sets.Set[string]) {
	for pod := range pods {
		delete(metrics, pod)
	}
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	c := podCondition(pod, corev1.PodReady)
	return c != nil && c.Status == corev1.ConditionTrue
}
