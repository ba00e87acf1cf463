package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// reconcile scales hpa's target once and writes the HPA's status.
func (c *Controller) reconcile(ctx context.Context, shared *autoscalingv2.HorizontalPodAutoscaler, key string) (retErr error) {
	logger := klog.FromContext(ctx)
	hpa := shared.DeepCopy()
	original := hpa.Status.DeepCopy()
	ref := hpa.Spec.ScaleTargetRef
	reference := fmt.Sprintf("%s/%s/%s", ref.Kind, hpa.Namespace, ref.Name)

	failedGetScale := func(err error) {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		c.setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: %v", err)
		if err := c.updateStatusIfNeeded(ctx, original, hpa, key); err != nil {
			utilruntime.HandleErrorWithContext(ctx, err, "Updating HPA status", "HPA", klog.KObj(hpa))
		}
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		failedGetScale(err)
		return fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	mappings, err := c.mapper.RESTMappings(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if err != nil {
		failedGetScale(err)
		return fmt.Errorf("unable to determine resource for scale target reference: %w", err)
	}
	scale, targetGR, err := c.scaleForMappings(ctx, hpa.Namespace, ref.Name, mappings)
	if err != nil {
		failedGetScale(err)
		return fmt.Errorf("failed to query scale subresource for %s: %w", reference, err)
	}
	c.setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := scale.Spec.Replicas
	c.history.recordInitial(key, current)

	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}
	// HPAScaleToZero is on by default in 1.37: a workload the HPA itself
	// scaled to zero may be woken by object or external metrics.
	objectOrExternal := hasObjectOrExternalMetrics(hpa)
	scaledToZero := conditionTrue(hpa, autoscalingv2.ScaledToZero)
	canScaleFromZero := scaledToZero && objectOrExternal

	var (
		desired       int32
		reason        string
		statuses      []autoscalingv2.MetricStatus
		rescale       = true
		computeMetric = true
	)
	switch {
	case current == 0:
		if !((minReplicas != 0 && scaledToZero) || canScaleFromZero) {
			// Scaled to zero by someone else: hands off.
			computeMetric, rescale = false, false
			c.setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
		}
	case current > hpa.Spec.MaxReplicas:
		reason, desired, computeMetric = "Current number of replicas above Spec.MaxReplicas", hpa.Spec.MaxReplicas, false
	case current < minReplicas:
		reason, desired, computeMetric = "Current number of replicas below Spec.MinReplicas", minReplicas, false
	}

	if computeMetric {
		metricDesired, metricName, metricStatuses, ts, err := c.computeReplicasForMetrics(ctx, hpa, scale, hpa.Spec.Metrics)
		statuses = metricStatuses
		if err != nil && metricDesired == -1 {
			c.setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false)
			if err := c.updateStatusIfNeeded(ctx, original, hpa, key); err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, "Updating HPA status", "HPA", klog.KObj(hpa))
			}
			c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", err.Error())
			return fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference, err)
		}
		if err != nil {
			// Some metrics worked: scale on them, but report the others.
			retErr = err
		}
		msg := "Proposing desired replicas"
		if current == 0 {
			msg = "Proposing desired replicas from zero"
		}
		logger.V(4).Info(msg, "desiredReplicas", metricDesired, "metric", metricName,
			"tolerances", c.tolerances(hpa), "timestamp", ts, "scaleTarget", reference)

		rescaleMetric := ""
		if metricDesired > desired {
			desired, rescaleMetric = metricDesired, metricName
		}
		if desired > current {
			reason = fmt.Sprintf("%s above target", rescaleMetric)
		}
		if desired < current {
			reason = "All metrics below target"
		}
		var l limit
		if hpa.Spec.Behavior == nil {
			l = c.history.normalize(key, current, desired, minReplicas, hpa.Spec.MaxReplicas)
		} else {
			l = c.history.normalizeWithBehavior(key, hpa.Spec.Behavior, current, desired, minReplicas, hpa.Spec.MaxReplicas)
		}
		c.setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, l.ableReason, "%s", l.ableMessage)
		limited := corev1.ConditionFalse
		if l.limited {
			limited = corev1.ConditionTrue
		}
		c.setCondition(hpa, autoscalingv2.ScalingLimited, limited, l.limitReason, "%s", l.limitMessage)
		desired = l.replicas
		if current == 0 && minReplicas != 0 && scaledToZero && desired < minReplicas {
			desired = minReplicas
			if reason == "" {
				reason = "Current number of replicas below Spec.MinReplicas"
			}
		}
		rescale = desired != current
	}

	if rescale {
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			scale.Spec.Replicas = desired
			_, err := c.scales.Scales(hpa.Namespace).Update(ctx, targetGR, scale, metav1.UpdateOptions{})
			if err == nil {
				return nil
			}
			if latest, getErr := c.scales.Scales(hpa.Namespace).Get(ctx, targetGR, ref.Name, metav1.GetOptions{}); getErr == nil {
				scale = latest
			} else {
				utilruntime.HandleErrorWithContext(ctx, getErr, "Getting the latest scale during conflict retry", "scaleTarget", reference)
			}
			return err
		})
		if err != nil {
			c.recorder.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err.Error())
			c.setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
			c.setStatus(hpa, current, hpa.Status.DesiredReplicas, statuses, false)
			if err := c.updateStatusIfNeeded(ctx, original, hpa, key); err != nil {
				utilruntime.HandleErrorWithContext(ctx, err, "Updating HPA status", "HPA", klog.KObj(hpa))
			}
			return fmt.Errorf("failed to rescale %s: %w", reference, err)
		}
		c.setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
		c.recorder.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
		c.history.recordScale(key, hpa.Spec.Behavior, current, desired)
		logger.Info("Successfully rescaled", "HPA", klog.KObj(hpa), "currentReplicas", current, "desiredReplicas", desired, "reason", reason)
		if current > 0 && desired == 0 && minReplicas == 0 && objectOrExternal {
			c.setCondition(hpa, autoscalingv2.ScaledToZero, corev1.ConditionTrue, "ScaledToZero", "the HPA controller scaled the workload to zero")
		} else {
			c.setCondition(hpa, autoscalingv2.ScaledToZero, corev1.ConditionFalse, "NotScaledToZero", "the HPA controller did not scale the workload to zero")
		}
	} else {
		logger.V(4).Info("Decided not to scale", "scaleTarget", reference, "desiredReplicas", desired, "lastScaleTime", hpa.Status.LastScaleTime)
		desired = current
	}

	c.setStatus(hpa, current, desired, statuses, rescale)
	if err := c.updateStatusIfNeeded(ctx, original, hpa, key); err != nil {
		return err
	}
	return retErr
}

// scaleForMappings reads the scale of the first mapping that has one; it
// returns the first mapping's error when none does.
func (c *Controller) scaleForMappings(ctx context.Context, namespace, name string, mappings []*meta.RESTMapping) (*autoscalingv1.Scale, schema.GroupResource, error) {
	var firstErr error
	for i, m := range mappings {
		gr := m.Resource.GroupResource()
		s, err := c.scales.Scales(namespace).Get(ctx, gr, name, metav1.GetOptions{})
		if err == nil {
			return s, gr, nil
		}
		if i == 0 {
			firstErr = err
		}
	}
	if firstErr == nil {
		firstErr = errors.New("unrecognized resource")
	}
	return nil, schema.GroupResource{}, firstErr
}

// computeReplicasForMetrics returns the highest replica count any metric
// asks for, the metric's description, every metric's status and the
// sample time. With some metrics failing it returns both a count and an
// error; when it cannot act at all, -1.
func (c *Controller) computeReplicasForMetrics(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale,
	specs []autoscalingv2.MetricSpec) (replicas int32, metric string, statuses []autoscalingv2.MetricStatus, ts time.Time, err error) {
	selector, err := c.validateSelector(hpa, scale.Status.Selector)
	if err != nil {
		return -1, "", nil, time.Time{}, err
	}
	specReplicas, statusReplicas := scale.Spec.Replicas, scale.Status.Replicas
	statuses = make([]autoscalingv2.MetricStatus, len(specs))
	invalid := 0
	var (
		firstErr       error
		firstCondition autoscalingv2.HorizontalPodAutoscalerCondition
	)
	for i, spec := range specs {
		proposal, name, proposalTS, condition, err := c.computeReplicasForMetric(ctx, hpa, spec, specReplicas, statusReplicas, selector, &statuses[i])
		if err != nil {
			if invalid == 0 {
				firstCondition, firstErr = condition, err
			}
			invalid++
			continue
		}
		if replicas == 0 || proposal > replicas {
			ts, replicas, metric = proposalTS, proposal, name
		}
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", invalid, len(specs), firstErr)
	}
	// Acting on the working metrics is safe only upwards.
	if invalid >= len(specs) || (invalid > 0 && replicas < specReplicas) {
		c.setCondition(hpa, firstCondition.Type, firstCondition.Status, firstCondition.Reason, "%s", firstCondition.Message)
		return -1, "", statuses, time.Time{}, firstErr
	}
	c.setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from %s", metric)
	return replicas, metric, statuses, ts, firstErr
}

// validateSelector parses the scale's selector and checks that no other
// HPA scales the pods it selects.
func (c *Controller) validateSelector(hpa *autoscalingv2.HorizontalPodAutoscaler, selector string) (labels.Selector, error) {
	if selector == "" {
		msg := "selector is required"
		c.recorder.Event(hpa, corev1.EventTypeWarning, "SelectorRequired", msg)
		c.setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "the HPA target's scale is missing a selector")
		return nil, errors.New(msg)
	}
	parsed, err := labels.Parse(selector)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		c.recorder.Event(hpa, corev1.EventTypeWarning, "InvalidSelector", msg)
		c.setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "InvalidSelector", "%s", msg)
		return nil, errors.New(msg)
	}
	key := hpa.Namespace + "/" + hpa.Name
	if !c.selectors.putIfPresent(key, parsed) {
		return nil, fmt.Errorf("HPA %s/%s was deleted during reconciliation", hpa.Namespace, hpa.Name)
	}
	pods, err := c.pods.Pods(hpa.Namespace).List(parsed)
	if err != nil {
		return nil, err
	}
	if hpas := c.selectors.matching(hpa.Namespace, pods, 2); len(hpas) > 1 {
		msg := fmt.Sprintf("pods by selector %v are controlled by more than one HPA (e.g. %v)", selector, hpas)
		c.recorder.Event(hpa, corev1.EventTypeWarning, "AmbiguousSelector", msg)
		c.setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "AmbiguousSelector", "%s", msg)
		return nil, errors.New(msg)
	}
	return parsed, nil
}

// unableToCompute records the failure of one metric as an event and
// returns the ScalingActive condition it would set.
func (c *Controller) unableToCompute(hpa *autoscalingv2.HorizontalPodAutoscaler, reason string, err error) autoscalingv2.HorizontalPodAutoscalerCondition {
	c.recorder.Event(hpa, corev1.EventTypeWarning, reason, err.Error())
	return autoscalingv2.HorizontalPodAutoscalerCondition{
		Type:    autoscalingv2.ScalingActive,
		Status:  corev1.ConditionFalse,
		Reason:  reason,
		Message: fmt.Sprintf("the HPA was unable to compute the replica count: %v", err),
	}
}

// computeReplicasForMetric proposes a replica count from one metric and
// fills in its status; on failure it returns the condition to report.
func (c *Controller) computeReplicasForMetric(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, spec autoscalingv2.MetricSpec,
	specReplicas, statusReplicas int32, selector labels.Selector, status *autoscalingv2.MetricStatus) (int32, string, time.Time, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	none := autoscalingv2.HorizontalPodAutoscalerCondition{}
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		metricSelector, err := metav1.LabelSelectorAsSelector(spec.Object.Metric.Selector)
		if err != nil {
			return 0, "", time.Time{}, c.unableToCompute(hpa, "FailedGetObjectMetric", err), fmt.Errorf("failed to get object metric value: %w", err)
		}
		replicas, ts, name, cond, err := c.objectMetric(ctx, specReplicas, statusReplicas, spec, hpa, selector, status, metricSelector)
		if err != nil {
			return 0, "", time.Time{}, cond, fmt.Errorf("failed to get object metric value: %w", err)
		}
		return replicas, name, ts, none, nil
	case autoscalingv2.PodsMetricSourceType:
		metricSelector, err := metav1.LabelSelectorAsSelector(spec.Pods.Metric.Selector)
		if err != nil {
			return 0, "", time.Time{}, c.unableToCompute(hpa, "FailedGetPodsMetric", err), fmt.Errorf("failed to get pods metric value: %w", err)
		}
		replicas, ts, name, cond, err := c.podsMetric(ctx, specReplicas, spec, hpa, selector, status, metricSelector)
		if err != nil {
			return 0, "", time.Time{}, cond, fmt.Errorf("failed to get pods metric value: %w", err)
		}
		return replicas, name, ts, none, nil
	case autoscalingv2.ResourceMetricSourceType:
		replicas, value, ts, name, err := c.resourceMetric(ctx, specReplicas, spec.Resource.Target, spec.Resource.Name, hpa, "", selector, spec.Type)
		if err != nil {
			cond := c.unableToCompute(hpa, "FailedGetResourceMetric", err)
			return 0, "", time.Time{}, cond, fmt.Errorf("failed to get %s resource metric value: %w", spec.Resource.Name, err)
		}
		*status = autoscalingv2.MetricStatus{Type: spec.Type, Resource: &autoscalingv2.ResourceMetricStatus{Name: spec.Resource.Name, Current: *value}}
		return replicas, name, ts, none, nil
	case autoscalingv2.ContainerResourceMetricSourceType:
		cr := spec.ContainerResource
		replicas, value, ts, name, err := c.resourceMetric(ctx, specReplicas, cr.Target, cr.Name, hpa, cr.Container, selector, spec.Type)
		if err != nil {
			cond := c.unableToCompute(hpa, "FailedGetContainerResourceMetric", err)
			return 0, "", time.Time{}, cond, fmt.Errorf("failed to get %s container metric value: %w", cr.Container, err)
		}
		*status = autoscalingv2.MetricStatus{Type: spec.Type, ContainerResource: &autoscalingv2.ContainerResourceMetricStatus{Name: cr.Name, Container: cr.Container, Current: *value}}
		return replicas, name, ts, none, nil
	case autoscalingv2.ExternalMetricSourceType:
		replicas, ts, name, cond, err := c.externalMetric(ctx, specReplicas, statusReplicas, spec, hpa, selector, status)
		if err != nil {
			return 0, "", time.Time{}, cond, fmt.Errorf("failed to get %s external metric value: %w", spec.External.Metric.Name, err)
		}
		return replicas, name, ts, none, nil
	}
	// Validation keeps other types out.
	err := fmt.Errorf("unknown metric source type %q", string(spec.Type))
	return 0, "", time.Time{}, c.unableToCompute(hpa, "InvalidMetricSourceType", err), err
}

func (c *Controller) objectMetric(ctx context.Context, specReplicas, statusReplicas int32, spec autoscalingv2.MetricSpec, hpa *autoscalingv2.HorizontalPodAutoscaler,
	selector labels.Selector, status *autoscalingv2.MetricStatus, metricSelector labels.Selector) (int32, time.Time, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	obj := spec.Object
	st := autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
		DescribedObject: obj.DescribedObject,
		Metric:          autoscalingv2.MetricIdentifier{Name: obj.Metric.Name, Selector: obj.Metric.Selector},
	}}
	tol := c.tolerances(hpa)
	switch {
	case obj.Target.Type == autoscalingv2.ValueMetricType && obj.Target.Value != nil:
		replicas, usage, ts, err := c.calc.objectMetricReplicas(ctx, specReplicas, obj.Target.Value.MilliValue(), obj.Metric.Name, tol, hpa.Namespace, &obj.DescribedObject, selector, metricSelector)
		if err != nil {
			return 0, ts, "", c.unableToCompute(hpa, "FailedGetObjectMetric", err), err
		}
		st.Object.Current.Value = resource.NewMilliQuantity(usage, resource.DecimalSI)
		*status = st
		return replicas, ts, fmt.Sprintf("%s metric %s", obj.DescribedObject.Kind, obj.Metric.Name), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case obj.Target.Type == autoscalingv2.AverageValueMetricType && obj.Target.AverageValue != nil:
		replicas, usage, ts, err := c.calc.objectPerPodMetricReplicas(ctx, statusReplicas, obj.Target.AverageValue.MilliValue(), obj.Metric.Name, tol, hpa.Namespace, &obj.DescribedObject, metricSelector)
		if err != nil {
			return 0, time.Time{}, "", c.unableToCompute(hpa, "FailedGetObjectMetric", err), fmt.Errorf("failed to get %s object metric: %w", obj.Metric.Name, err)
		}
		st.Object.Current.AverageValue = resource.NewMilliQuantity(usage, resource.DecimalSI)
		*status = st
		return replicas, ts, fmt.Sprintf("external metric %s(%+v)", obj.Metric.Name, obj.Metric.Selector), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	err := errors.New("invalid object metric source: neither a value target nor an average value target was set")
	return 0, time.Time{}, "", c.unableToCompute(hpa, "FailedGetObjectMetric", err), err
}

func (c *Controller) podsMetric(ctx context.Context, current int32, spec autoscalingv2.MetricSpec, hpa *autoscalingv2.HorizontalPodAutoscaler,
	selector labels.Selector, status *autoscalingv2.MetricStatus, metricSelector labels.Selector) (int32, time.Time, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	p := spec.Pods
	var target int64
	if p.Target.AverageValue != nil {
		target = p.Target.AverageValue.MilliValue()
	}
	replicas, usage, ts, err := c.calc.podsMetricReplicas(ctx, current, target, p.Metric.Name, c.tolerances(hpa), hpa.Namespace, selector, metricSelector)
	if err != nil {
		return 0, ts, "", c.unableToCompute(hpa, "FailedGetPodsMetric", err), err
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric:  autoscalingv2.MetricIdentifier{Name: p.Metric.Name, Selector: p.Metric.Selector},
		Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)},
	}}
	return replicas, ts, fmt.Sprintf("pods metric %s", p.Metric.Name), autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
}

// resourceMetric serves Resource and ContainerResource metrics.
func (c *Controller) resourceMetric(ctx context.Context, current int32, target autoscalingv2.MetricTarget, name corev1.ResourceName,
	hpa *autoscalingv2.HorizontalPodAutoscaler, container string, selector labels.Selector, source autoscalingv2.MetricSourceType) (int32, *autoscalingv2.MetricValueStatus, time.Time, string, error) {
	tol := c.tolerances(hpa)
	if target.AverageValue != nil {
		replicas, raw, ts, err := c.calc.rawResourceReplicas(ctx, current, target.AverageValue.MilliValue(), name, tol, hpa.Namespace, selector, container)
		if err != nil {
			return 0, nil, time.Time{}, "", fmt.Errorf("failed to get %s usage: %w", name, err)
		}
		q := metricQuantity(name, raw)
		return replicas, &autoscalingv2.MetricValueStatus{AverageValue: &q}, ts, fmt.Sprintf("%s resource", name), nil
	}
	if target.AverageUtilization == nil {
		return 0, nil, time.Time{}, "", errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	replicas, utilization, raw, ts, err := c.calc.resourceReplicas(ctx, current, *target.AverageUtilization, name, tol, hpa.Namespace, selector, container)
	if err != nil {
		return 0, nil, time.Time{}, "", fmt.Errorf("failed to get %s utilization: %w", name, err)
	}
	metric := fmt.Sprintf("%s resource utilization (percentage of request)", name)
	if source == autoscalingv2.ContainerResourceMetricSourceType {
		metric = fmt.Sprintf("%s container resource utilization (percentage of request)", name)
	}
	q := metricQuantity(name, raw)
	return replicas, &autoscalingv2.MetricValueStatus{AverageUtilization: &utilization, AverageValue: &q}, ts, metric, nil
}

// metricQuantity formats a usage as metrics-server does: memory in binary
// units, everything else in decimal milli-units.
func metricQuantity(name corev1.ResourceName, milli int64) resource.Quantity {
	format := resource.DecimalSI
	if name == corev1.ResourceMemory {
		format = resource.BinarySI
	}
	return *resource.NewMilliQuantity(milli, format)
}

func (c *Controller) externalMetric(ctx context.Context, specReplicas, statusReplicas int32, spec autoscalingv2.MetricSpec, hpa *autoscalingv2.HorizontalPodAutoscaler,
	selector labels.Selector, status *autoscalingv2.MetricStatus) (int32, time.Time, string, autoscalingv2.HorizontalPodAutoscalerCondition, error) {
	ext := spec.External
	tol := c.tolerances(hpa)
	id := autoscalingv2.MetricIdentifier{Name: ext.Metric.Name, Selector: ext.Metric.Selector}
	name := fmt.Sprintf("external metric %s(%+v)", ext.Metric.Name, ext.Metric.Selector)
	switch {
	case ext.Target.AverageValue != nil:
		replicas, usage, ts, err := c.calc.externalPerPodMetricReplicas(ctx, statusReplicas, ext.Target.AverageValue.MilliValue(), ext.Metric.Name, tol, hpa.Namespace, ext.Metric.Selector)
		if err != nil {
			return 0, time.Time{}, "", c.unableToCompute(hpa, "FailedGetExternalMetric", err), fmt.Errorf("failed to get %s external metric: %w", ext.Metric.Name, err)
		}
		*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: id, Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(usage, resource.DecimalSI)}}}
		return replicas, ts, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	case ext.Target.Value != nil:
		replicas, usage, ts, err := c.calc.externalMetricReplicas(ctx, specReplicas, ext.Target.Value.MilliValue(), ext.Metric.Name, tol, hpa.Namespace, ext.Metric.Selector, selector)
		if err != nil {
			return 0, time.Time{}, "", c.unableToCompute(hpa, "FailedGetExternalMetric", err), fmt.Errorf("failed to get external metric %s: %w", ext.Metric.Name, err)
		}
		*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
			Metric: id, Current: autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(usage, resource.DecimalSI)}}}
		return replicas, ts, name, autoscalingv2.HorizontalPodAutoscalerCondition{}, nil
	}
	err := errors.New("invalid external metric source: neither a value target nor an average value target was set")
	return 0, time.Time{}, "", c.unableToCompute(hpa, "FailedGetExternalMetric", err), err
}

// tolerances are the controller's, unless the behavior sets its own.
func (c *Controller) tolerances(hpa *autoscalingv2.HorizontalPodAutoscaler) tolerances {
	t := tolerances{c.cfg.Tolerance, c.cfg.Tolerance}
	if b := hpa.Spec.Behavior; b != nil {
		if b.ScaleDown != nil && b.ScaleDown.Tolerance != nil {
			t.scaleDown = b.ScaleDown.Tolerance.AsApproximateFloat64()
		}
		if b.ScaleUp != nil && b.ScaleUp.Tolerance != nil {
			t.scaleUp = b.ScaleUp.Tolerance.AsApproximateFloat64()
		}
	}
	return t
}

// setStatus rebuilds the status, keeping the last scale time (set anew on
// a rescale) and the conditions.
func (c *Controller) setStatus(hpa *autoscalingv2.HorizontalPodAutoscaler, current, desired int32, statuses []autoscalingv2.MetricStatus, rescale bool) {
	generation := hpa.Generation
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: &generation,
		CurrentReplicas:    current,
		DesiredReplicas:    desired,
		LastScaleTime:      hpa.Status.LastScaleTime,
		CurrentMetrics:     statuses,
		Conditions:         hpa.Status.Conditions,
	}
	if rescale {
		now := metav1.NewTime(c.clock.Now())
		hpa.Status.LastScaleTime = &now
	}
}

func (c *Controller) updateStatusIfNeeded(ctx context.Context, old *autoscalingv2.HorizontalPodAutoscalerStatus, hpa *autoscalingv2.HorizontalPodAutoscaler, key string) error {
	if apiequality.Semantic.DeepEqual(old, &hpa.Status) {
		return nil
	}
	updated, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1.UpdateOptions{})
	if err != nil {
		c.recorder.Event(hpa, corev1.EventTypeWarning, "FailedUpdateStatus", err.Error())
		return fmt.Errorf("failed to update status for %s: %w", hpa.Name, err)
	}
	c.consistency.wrote(key, updated.UID, updated.ResourceVersion)
	klog.FromContext(ctx).V(2).Info("Successfully updated status", "HPA", klog.KObj(hpa))
	return nil
}

// setCondition sets a condition, formatting message with args; its
// transition time changes only with its status.
func (c *Controller) setCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus,
	reason, message string, args ...any) {
	var cond *autoscalingv2.HorizontalPodAutoscalerCondition
	for i := range hpa.Status.Conditions {
		if hpa.Status.Conditions[i].Type == t {
			cond = &hpa.Status.Conditions[i]
			break
		}
	}
	if cond == nil {
		hpa.Status.Conditions = append(hpa.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{Type: t})
		cond = &hpa.Status.Conditions[len(hpa.Status.Conditions)-1]
	}
	if cond.Status != status {
		cond.LastTransitionTime = metav1.NewTime(c.clock.Now())
	}
	cond.Status = status
	cond.Reason = reason
	cond.Message = fmt.Sprintf(message, args...)
}

func conditionTrue(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) bool {
	for _, c := range hpa.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasObjectOrExternalMetrics(hpa *autoscalingv2.HorizontalPodAutoscaler) bool {
	for _, m := range hpa.Spec.Metrics {
		if m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType {
			return true
		}
	}
	return false
}
