package podautoscaler

import (
	"context"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"
	custommetricsv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	resourceclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	customclient "k8s.io/metrics/pkg/client/custom_metrics"
	externalclient "k8s.io/metrics/pkg/client/external_metrics"
)

// defaultMetricWindow is the window assumed for a custom metric that does
// not state one: metrics-server's.
const defaultMetricWindow = time.Minute

// podMetric is one pod's sample, as a milli-value.
type podMetric struct {
	Timestamp time.Time
	Window    time.Duration
	Value     int64
}

// podMetrics are samples by pod name.
type podMetrics map[string]podMetric

// MetricsClient is the seam between the controller and the three metrics
// APIs (resource, custom, external); values are milli-values.
type MetricsClient interface {
	// GetResourceMetric returns the usage of resource by the pods matching
	// selector, summed over their containers or of the named container
	// only, and the time of the first sample.
	GetResourceMetric(ctx context.Context, resource corev1.ResourceName, namespace string, selector labels.Selector, container string) (podMetrics, time.Time, error)
	// GetRawMetric returns a custom metric of the pods matching selector.
	GetRawMetric(ctx context.Context, metricName, namespace string, selector, metricSelector labels.Selector) (podMetrics, time.Time, error)
	// GetObjectMetric returns a custom metric of one object.
	GetObjectMetric(ctx context.Context, metricName, namespace string, ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error)
	// GetExternalMetric returns every value of an external metric.
	GetExternalMetric(ctx context.Context, metricName, namespace string, selector labels.Selector) ([]int64, time.Time, error)
}

// NewRESTMetricsClient reads the aggregated metrics APIs, as
// kube-controller-manager's HPA does.
func NewRESTMetricsClient(resource resourceclient.PodMetricsesGetter, custom customclient.CustomMetricsClient, external externalclient.ExternalMetricsClient) MetricsClient {
	return &restMetrics{resource: resource, custom: custom, external: external}
}

type restMetrics struct {
	resource resourceclient.PodMetricsesGetter
	custom   customclient.CustomMetricsClient
	external externalclient.ExternalMetricsClient
}

func (c *restMetrics) GetResourceMetric(ctx context.Context, resource corev1.ResourceName, namespace string, selector labels.Selector, container string) (podMetrics, time.Time, error) {
	list, err := c.resource.PodMetricses(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from resource metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, fmt.Errorf("no metrics returned from resource metrics API")
	}
	var res podMetrics
	if container != "" {
		res = containerUsage(ctx, list.Items, resource, container)
	} else {
		res = podUsage(ctx, list.Items, resource)
	}
	return res, list.Items[0].Timestamp.Time, nil
}

func containerUsage(ctx context.Context, items []metricsv1beta1.PodMetrics, resource corev1.ResourceName, container string) podMetrics {
	res := make(podMetrics, len(items))
	for _, m := range items {
		found := false
		for _, c := range m.Containers {
			if c.Name != container {
				continue
			}
			found = true
			if v, ok := c.Usage[resource]; ok {
				res[m.Name] = podMetric{Timestamp: m.Timestamp.Time, Window: m.Window.Duration, Value: v.MilliValue()}
			}
			break
		}
		if !found {
			klog.FromContext(ctx).V(2).Info("Missing container metric", "container", container, "pod", klog.KRef(m.Namespace, m.Name))
		}
	}
	return res
}

// podUsage sums the containers of each pod; a pod lacking the resource in
// any container has no sample at all, rather than a low one.
func podUsage(ctx context.Context, items []metricsv1beta1.PodMetrics, resource corev1.ResourceName) podMetrics {
	res := make(podMetrics, len(items))
	for _, m := range items {
		sum := int64(0)
		missing := len(m.Containers) == 0
		for _, c := range m.Containers {
			v, ok := c.Usage[resource]
			if !ok {
				missing = true
				klog.FromContext(ctx).V(2).Info("Missing resource metric", "resourceMetric", resource, "pod", klog.KRef(m.Namespace, m.Name))
				break
			}
			sum += v.MilliValue()
		}
		if !missing {
			res[m.Name] = podMetric{Timestamp: m.Timestamp.Time, Window: m.Window.Duration, Value: sum}
		}
	}
	return res
}

func (c *restMetrics) GetRawMetric(_ context.Context, metricName, namespace string, selector, metricSelector labels.Selector) (podMetrics, time.Time, error) {
	list, err := c.custom.NamespacedMetrics(namespace).GetForObjects(schema.GroupKind{Kind: "Pod"}, selector, metricName, metricSelector)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, fmt.Errorf("no metrics returned from custom metrics API")
	}
	res := make(podMetrics, len(list.Items))
	for _, m := range list.Items {
		window := defaultMetricWindow
		if m.WindowSeconds != nil {
			window = time.Duration(*m.WindowSeconds) * time.Second
		}
		res[m.DescribedObject.Name] = podMetric{Timestamp: m.Timestamp.Time, Window: window, Value: m.Value.MilliValue()}
	}
	return res, list.Items[0].Timestamp.Time, nil
}

func (c *restMetrics) GetObjectMetric(_ context.Context, metricName, namespace string, ref *autoscalingv2.CrossVersionObjectReference, metricSelector labels.Selector) (int64, time.Time, error) {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var (
		value *custommetricsv1beta2.MetricValue
		err   error
	)
	if gvk.Group == "" && gvk.Kind == "Namespace" {
		// The HPA's own namespace, whatever the reference names: a
		// reference may not leave it.
		value, err = c.custom.RootScopedMetrics().GetForObject(gvk.GroupKind(), namespace, metricName, metricSelector)
	} else {
		value, err = c.custom.NamespacedMetrics(namespace).GetForObject(gvk.GroupKind(), ref.Name, metricName, metricSelector)
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("unable to fetch metrics from custom metrics API: %w", err)
	}
	return value.Value.MilliValue(), value.Timestamp.Time, nil
}

func (c *restMetrics) GetExternalMetric(_ context.Context, metricName, namespace string, selector labels.Selector) ([]int64, time.Time, error) {
	list, err := c.external.NamespacedMetrics(namespace).List(metricName, selector)
	if err != nil {
		return []int64{}, time.Time{}, fmt.Errorf("unable to fetch metrics from external metrics API: %w", err)
	}
	if len(list.Items) == 0 {
		return nil, time.Time{}, fmt.Errorf("no metrics returned from external metrics API")
	}
	res := make([]int64, 0, len(list.Items))
	for _, m := range list.Items {
		res = append(res, m.Value.MilliValue())
	}
	return res, list.Items[0].Timestamp.Time, nil
}

// resourceUtilizationRatio is the ratio of the pods' mean utilization (in
// percent of their requests) to the target, the utilization itself and
// the mean raw usage. Samples of pods without a known request are extra
// and left out.
func resourceUtilizationRatio(metrics podMetrics, requests map[string]int64, target int32) (ratio float64, utilization int32, rawAverage int64, err error) {
	var usageTotal, requestTotal int64
	n := 0
	for pod, m := range metrics {
		req, ok := requests[pod]
		if !ok {
			continue
		}
		usageTotal += m.Value
		requestTotal += req
		n++
	}
	if requestTotal == 0 {
		return 0, 0, 0, fmt.Errorf("no metrics returned matched known pods")
	}
	utilization = int32((usageTotal * 100) / requestTotal)
	return float64(utilization) / float64(target), utilization, usageTotal / int64(n), nil
}

// metricUsageRatio is the ratio of the mean sample to the target, and the mean.
func metricUsageRatio(metrics podMetrics, target int64) (ratio float64, usage int64) {
	var total int64
	for _, m := range metrics {
		total += m.Value
	}
	usage = total / int64(len(metrics))
	return float64(usage) / float64(target), usage
}
