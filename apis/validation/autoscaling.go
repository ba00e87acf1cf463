package validation

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	maxHPAPeriodSeconds              int32 = 1800
	maxHPAStabilizationWindowSeconds int32 = 3600
)

var (
	validSelectPolicyTypes = sets.New(string(autoscalingv2.MaxChangePolicySelect), string(autoscalingv2.MinChangePolicySelect), string(autoscalingv2.DisabledPolicySelect))
	validPolicyTypes       = sets.New(string(autoscalingv2.PodsScalingPolicy), string(autoscalingv2.PercentScalingPolicy))
	validMetricSourceTypes = sets.New(string(autoscalingv2.ObjectMetricSourceType), string(autoscalingv2.PodsMetricSourceType),
		string(autoscalingv2.ResourceMetricSourceType), string(autoscalingv2.ExternalMetricSourceType), string(autoscalingv2.ContainerResourceMetricSourceType))
)

// validateScale checks a scale subresource write; only replicas and managed
// fields matter, the rest of the metadata is discarded.
func validateScale(s *autoscalingv1.Scale) field.ErrorList {
	allErrs := metavalidation.ValidateManagedFields(s.GetManagedFields(), metadataPath.Child("managedFields"))
	if s.Spec.Replicas < 0 {
		allErrs = append(allErrs, validateNonnegativeField(int64(s.Spec.Replicas), field.NewPath("spec", "replicas")).MarkCoveredByDeclarative()...)
	}
	return allErrs
}

func validateScaleUpdate(s, _ *autoscalingv1.Scale) field.ErrorList { return validateScale(s) }

type crossVersionRefOptions struct {
	allowEmptyAPIGroup     bool
	allowInvalidAPIVersion bool
	requiredCovered        bool
}

type hpaOptions struct {
	minReplicasLowerBound int32
	scaleTargetRef        crossVersionRefOptions
	objectMetrics         crossVersionRefOptions
}

// hpaValidationOptions: HPAScaleToZero is beta and on in 1.37, so
// minReplicas may be 0.
func hpaValidationOptions(hpa, old *autoscalingv2.HorizontalPodAutoscaler) hpaOptions {
	opts := hpaOptions{
		scaleTargetRef: crossVersionRefOptions{requiredCovered: true},
		objectMetrics:  crossVersionRefOptions{allowEmptyAPIGroup: true},
	}
	switch {
	case old != nil && old.Spec.ScaleTargetRef.APIVersion == hpa.Spec.ScaleTargetRef.APIVersion && old.Spec.ScaleTargetRef.Kind == hpa.Spec.ScaleTargetRef.Kind:
		opts.scaleTargetRef.allowInvalidAPIVersion = true
	case hpa.Spec.ScaleTargetRef.Kind == "ReplicationController":
		opts.scaleTargetRef.allowEmptyAPIGroup = true
	}
	if old != nil {
		for _, m := range old.Spec.Metrics {
			if m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil && apiVersionError(m.Object.DescribedObject.APIVersion, opts.objectMetrics) != nil {
				opts.objectMetrics.allowInvalidAPIVersion = true
				break
			}
		}
	}
	return opts
}

func apiVersionError(apiVersion string, opts crossVersionRefOptions) error {
	if opts.allowInvalidAPIVersion {
		return nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return err
	}
	if !opts.allowEmptyAPIGroup && gv.Group == "" {
		return fmt.Errorf("apiVersion must specify API group")
	}
	return nil
}

func validateCrossVersionObjectReference(kind, name, apiVersion string, p *field.Path, opts crossVersionRefOptions) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct{ value, name string }{{kind, "kind"}, {name, "name"}} {
		if f.value == "" {
			err := field.Required(p.Child(f.name), "")
			if opts.requiredCovered {
				err = err.MarkCoveredByDeclarative()
			}
			allErrs = append(allErrs, err)
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			allErrs = append(allErrs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	if err := apiVersionError(apiVersion, opts); err != nil {
		allErrs = append(allErrs, field.Invalid(p.Child("apiVersion"), apiVersion, err.Error()))
	}
	return allErrs
}

func validateHPASpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, p *field.Path, opts hpaOptions) field.ErrorList {
	var allErrs field.ErrorList
	if spec.MinReplicas != nil && *spec.MinReplicas < opts.minReplicasLowerBound {
		allErrs = append(allErrs, field.Invalid(p.Child("minReplicas"), *spec.MinReplicas, fmt.Sprintf("must be greater than or equal to %d", opts.minReplicasLowerBound)).WithOrigin("minimum").MarkCoveredByDeclarative())
	}
	if spec.MaxReplicas == 0 {
		allErrs = append(allErrs, field.Required(p.Child("maxReplicas"), "must be set and greater than 0").MarkCoveredByDeclarative())
	} else if spec.MaxReplicas < 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to 1").WithOrigin("minimum").MarkCoveredByDeclarative())
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		allErrs = append(allErrs, field.Invalid(p.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	ref := spec.ScaleTargetRef
	allErrs = append(allErrs, validateCrossVersionObjectReference(ref.Kind, ref.Name, ref.APIVersion, p.Child("scaleTargetRef"), opts.scaleTargetRef)...)
	allErrs = append(allErrs, validateHPAMetrics(spec.Metrics, p.Child("metrics"), spec.MinReplicas, opts.objectMetrics)...)
	if b := spec.Behavior; b != nil {
		allErrs = append(allErrs, validateScalingRules(b.ScaleUp, p.Child("behavior").Child("scaleUp"))...)
		allErrs = append(allErrs, validateScalingRules(b.ScaleDown, p.Child("behavior").Child("scaleDown"))...)
	}
	return allErrs
}

func validateHPAMetrics(metrics []autoscalingv2.MetricSpec, p *field.Path, minReplicas *int32, opts crossVersionRefOptions) field.ErrorList {
	var allErrs field.ErrorList
	objectOrExternal := false
	for i := range metrics {
		allErrs = append(allErrs, validateMetricSpec(&metrics[i], p.Index(i), opts)...)
		if t := metrics[i].Type; t == autoscalingv2.ObjectMetricSourceType || t == autoscalingv2.ExternalMetricSourceType {
			objectOrExternal = true
		}
	}
	if minReplicas != nil && *minReplicas == 0 && !objectOrExternal {
		allErrs = append(allErrs, field.Forbidden(p, "must specify at least one Object or External metric to support scaling to zero replicas"))
	}
	return allErrs
}

func validateScalingRules(rules *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if rules == nil {
		return nil
	}
	var allErrs field.ErrorList
	if w := rules.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("stabilizationWindowSeconds"), w, "must be greater than or equal to zero"))
		}
		if *w > maxHPAStabilizationWindowSeconds {
			allErrs = append(allErrs, field.Invalid(p.Child("stabilizationWindowSeconds"), w, fmt.Sprintf("must be less than or equal to %v", maxHPAStabilizationWindowSeconds)))
		}
	}
	if rules.SelectPolicy != nil && !validSelectPolicyTypes.Has(string(*rules.SelectPolicy)) {
		allErrs = append(allErrs, field.NotSupported(p.Child("selectPolicy"), rules.SelectPolicy, sets.List(validSelectPolicyTypes)))
	}
	pp := p.Child("policies")
	if len(rules.Policies) == 0 {
		allErrs = append(allErrs, field.Required(pp, "must specify at least one Policy"))
	}
	for i, pol := range rules.Policies {
		ip := pp.Index(i)
		if pol.Type != autoscalingv2.PodsScalingPolicy && pol.Type != autoscalingv2.PercentScalingPolicy {
			allErrs = append(allErrs, field.NotSupported(ip.Child("type"), pol.Type, sets.List(validPolicyTypes)))
		}
		if pol.Value <= 0 {
			allErrs = append(allErrs, field.Invalid(ip.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			allErrs = append(allErrs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		}
		if pol.PeriodSeconds > maxHPAPeriodSeconds {
			allErrs = append(allErrs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, fmt.Sprintf("must be less than or equal to %v", maxHPAPeriodSeconds)))
		}
	}
	if rules.Tolerance != nil {
		allErrs = append(allErrs, validateNonnegativeQuantity(*rules.Tolerance, p.Child("tolerance"))...)
	}
	return allErrs
}

func validateMetricSpec(spec *autoscalingv2.MetricSpec, p *field.Path, opts crossVersionRefOptions) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Type) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("type"), "must specify a metric source type"))
	}
	if !validMetricSourceTypes.Has(string(spec.Type)) {
		allErrs = append(allErrs, field.NotSupported(p.Child("type"), spec.Type, sets.List(validMetricSourceTypes)))
	}
	// Only the first populated source is validated; the others are rejected below.
	present := sets.New[string]()
	sources := []struct {
		set      bool
		name     string
		validate func() field.ErrorList
	}{
		{spec.Object != nil, "object", func() field.ErrorList { return validateObjectMetricSource(spec.Object, p.Child("object"), opts) }},
		{spec.External != nil, "external", func() field.ErrorList { return validateExternalMetricSource(spec.External, p.Child("external")) }},
		{spec.Pods != nil, "pods", func() field.ErrorList { return validatePodsMetricSource(spec.Pods, p.Child("pods")) }},
		{spec.Resource != nil, "resource", func() field.ErrorList {
			return validateResourceMetric(string(spec.Resource.Name), "", &spec.Resource.Target, p.Child("resource"), false)
		}},
		{spec.ContainerResource != nil, "containerResource", func() field.ErrorList {
			return validateResourceMetric(string(spec.ContainerResource.Name), spec.ContainerResource.Container, &spec.ContainerResource.Target, p.Child("containerResource"), true)
		}},
	}
	for _, s := range sources {
		if !s.set {
			continue
		}
		present.Insert(s.name)
		if present.Len() == 1 {
			allErrs = append(allErrs, s.validate()...)
		}
	}
	expected := ""
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		expected = "object"
	case autoscalingv2.PodsMetricSourceType:
		expected = "pods"
	case autoscalingv2.ResourceMetricSourceType:
		expected = "resource"
	case autoscalingv2.ExternalMetricSourceType:
		expected = "external"
	case autoscalingv2.ContainerResourceMetricSourceType:
		expected = "containerResource"
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("type"), spec.Type, sets.List(validMetricSourceTypes)))
	}
	if expected != "" && !present.Has(expected) {
		allErrs = append(allErrs, field.Required(p.Child(expected), "must populate information for the given metric source"))
	}
	if present.Len() != 1 {
		present.Delete(expected)
		for _, typ := range sets.List(present) {
			allErrs = append(allErrs, field.Forbidden(p.Child(typ), "must populate the given metric source only"))
		}
	}
	return allErrs
}

func validateObjectMetricSource(src *autoscalingv2.ObjectMetricSource, p *field.Path, opts crossVersionRefOptions) field.ErrorList {
	d := src.DescribedObject
	allErrs := validateCrossVersionObjectReference(d.Kind, d.Name, d.APIVersion, p.Child("describedObject"), opts)
	allErrs = append(allErrs, validateMetricIdentifier(&src.Metric, p.Child("metric"))...)
	allErrs = append(allErrs, validateMetricTarget(&src.Target, p.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(p.Child("target").Child("averageValue"), "must set either a target value or averageValue"))
	}
	return allErrs
}

func validateExternalMetricSource(src *autoscalingv2.ExternalMetricSource, p *field.Path) field.ErrorList {
	allErrs := validateMetricIdentifier(&src.Metric, p.Child("metric"))
	allErrs = append(allErrs, validateMetricTarget(&src.Target, p.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(p.Child("target").Child("averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if src.Target.Value != nil && src.Target.AverageValue != nil {
		allErrs = append(allErrs, field.Forbidden(p.Child("target").Child("value"), "may not set both a target value for metric and a per-pod target"))
	}
	return allErrs
}

func validatePodsMetricSource(src *autoscalingv2.PodsMetricSource, p *field.Path) field.ErrorList {
	allErrs := validateMetricIdentifier(&src.Metric, p.Child("metric"))
	allErrs = append(allErrs, validateMetricTarget(&src.Target, p.Child("target"))...)
	if src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(p.Child("target").Child("averageValue"), "must specify a positive target averageValue"))
	}
	return allErrs
}

// validateResourceMetric covers resource and container resource sources.
func validateResourceMetric(name, container string, target *autoscalingv2.MetricTarget, p *field.Path, isContainer bool) field.ErrorList {
	var allErrs field.ErrorList
	if len(name) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("name"), "must specify a resource name"))
	} else if isContainer {
		allErrs = append(allErrs, validateContainerResourceName(corev1.ResourceName(name), p.Child("name"))...)
	}
	if isContainer {
		if len(container) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("container"), "must specify a container"))
		} else {
			allErrs = append(allErrs, validateDNS1123Label(container, p.Child("container"))...)
		}
	}
	allErrs = append(allErrs, validateMetricTarget(target, p.Child("target"))...)
	if target.AverageUtilization == nil && target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(p.Child("target").Child("averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if target.AverageUtilization != nil && target.AverageValue != nil {
		allErrs = append(allErrs, field.Forbidden(p.Child("target").Child("averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return allErrs
}

func validateMetricTarget(mt *autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(mt.Type) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("type"), "must specify a metric target type"))
	}
	if mt.Type != autoscalingv2.UtilizationMetricType && mt.Type != autoscalingv2.ValueMetricType && mt.Type != autoscalingv2.AverageValueMetricType {
		allErrs = append(allErrs, field.Invalid(p.Child("type"), mt.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if mt.Value != nil && mt.Value.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(p.Child("value"), mt.Value, "must be positive"))
	}
	if mt.AverageValue != nil && mt.AverageValue.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(p.Child("averageValue"), mt.AverageValue, "must be positive"))
	}
	if mt.AverageUtilization != nil && *mt.AverageUtilization < 1 {
		allErrs = append(allErrs, field.Invalid(p.Child("averageUtilization"), mt.AverageUtilization, "must be greater than 0"))
	}
	return allErrs
}

func validateMetricIdentifier(id *autoscalingv2.MetricIdentifier, p *field.Path) field.ErrorList {
	if len(id.Name) == 0 {
		return field.ErrorList{field.Required(p.Child("name"), "must specify a metric name")}
	}
	var allErrs field.ErrorList
	for _, msg := range content.IsPathSegmentName(id.Name) {
		allErrs = append(allErrs, field.Invalid(p.Child("name"), id.Name, msg))
	}
	return allErrs
}

func validateHPA(hpa *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := validateObjectMeta(&hpa.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateHPASpec(&hpa.Spec, specPath, hpaValidationOptions(hpa, nil))...)
}

func validateHPAUpdate(hpa, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&hpa.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateHPASpec(&hpa.Spec, specPath, hpaValidationOptions(hpa, old))...)
}

func validateHPAStatusUpdate(hpa, old *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&hpa.ObjectMeta, &old.ObjectMeta, metadataPath)
	s := &hpa.Status
	for i, c := range s.Conditions {
		if c.ObservedGeneration != nil {
			allErrs = append(allErrs, validateNonnegativeField(*c.ObservedGeneration, field.NewPath("status").Child("conditions").Index(i).Child("observedGeneration"))...)
		}
	}
	allErrs = append(allErrs, validateNonnegativeField(int64(s.CurrentReplicas), field.NewPath("status", "currentReplicas"))...)
	return append(allErrs, validateNonnegativeField(int64(s.DesiredReplicas), field.NewPath("status", "desiredReplicas"))...)
}
