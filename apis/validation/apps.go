package validation

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorMismatch = "`selector` does not match template `labels`"

var specPath = field.NewPath("spec")

// int32Value reads an optional count the way conversion to the internal type
// does: unset is zero.
func int32Value(p *int32) int32 { return ptrDeref(p, 0) }

// validateWorkloadSelector checks a required, non-empty selector and returns
// it parsed, or nil when it cannot be parsed.
func validateWorkloadSelector(sel *metav1.LabelSelector, kind string, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	var allErrs field.ErrorList
	if sel == nil {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	} else {
		allErrs = append(allErrs, validateLabelSelector(sel, false, fldPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath, sel, "empty selector is invalid for "+kind))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, allErrs
	}
	return selector, allErrs
}

// validateTemplateForController validates a controller's pod template, which
// must match the selector, restart Always and have no active deadline.
func validateTemplateForController(t *corev1.PodTemplateSpec, selector labels.Selector, fldPath *field.Path, opts podOptions) field.ErrorList {
	var allErrs field.ErrorList
	if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("metadata", "labels"), t.Labels, selectorMismatch))
	}
	return append(allErrs, validatePodTemplateSpec(t, fldPath, opts)...)
}

func validateTemplateRestartAndDeadline(t *corev1.PodTemplateSpec, kind string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return allErrs
}

// Deployments.

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := validateNonnegativeField(int64(int32Value(spec.Replicas)), fldPath.Child("replicas"))
	selector, errs := validateWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	if selector == nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "invalid label selector"))
	} else {
		allErrs = append(allErrs, validateTemplateForController(&spec.Template, selector, fldPath.Child("template"), opts)...)
		allErrs = append(allErrs, validateTemplateRestartAndDeadline(&spec.Template, "ReplicaSet", fldPath.Child("template"))...)
	}
	allErrs = append(allErrs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	if spec.ProgressDeadlineSeconds != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*spec.ProgressDeadlineSeconds), fldPath.Child("progressDeadlineSeconds"))...)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("progressDeadlineSeconds"), spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is '"+string(appsv1.RecreateDeploymentStrategyType)+"'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		ru := s.RollingUpdate
		maxUnavailable, maxSurge := intOrStringValue(ru.MaxUnavailable), intOrStringValue(ru.MaxSurge)
		allErrs := validatePositiveIntOrPercent(maxUnavailable, fldPath.Child("rollingUpdate").Child("maxUnavailable"))
		allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, fldPath.Child("rollingUpdate").Child("maxSurge"))...)
		if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("rollingUpdate").Child("maxUnavailable"), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(allErrs, isNotMoreThan100Percent(maxUnavailable, fldPath.Child("rollingUpdate").Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(fldPath, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func intOrStringValue(p *intstr.IntOrString) intstr.IntOrString {
	if p == nil {
		return intstr.FromInt32(0)
	}
	return *p
}

func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		var allErrs field.ErrorList
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, v, msg))
		}
		return allErrs
	case intstr.Int:
		return validateNonnegativeField(int64(v.IntValue()), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%%')")}
}

func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n, true
}

func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func isNotMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	allErrs := validateObjectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateDeploymentSpec(&d.Spec, specPath, templateOptions(&d.Spec.Template, nil))...)
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateDeploymentSpec(&d.Spec, specPath, templateOptions(&d.Spec.Template, &old.Spec.Template))...)
	return append(allErrs, validateImmutableField(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, metadataPath)
	p := field.NewPath("status")
	s := &d.Status
	allErrs = append(allErrs, nonNegativeFields(p, []namedInt{
		{"observedGeneration", s.ObservedGeneration}, {"replicas", int64(s.Replicas)}, {"updatedReplicas", int64(s.UpdatedReplicas)},
		{"readyReplicas", int64(s.ReadyReplicas)}, {"availableReplicas", int64(s.AvailableReplicas)}, {"unavailableReplicas", int64(s.UnavailableReplicas)},
	})...)
	if s.TerminatingReplicas != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*s.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*s.CollisionCount), p.Child("collisionCount"))...)
	}
	allErrs = append(allErrs, notGreaterThanReplicas(p, s.Replicas, []namedInt{{"updatedReplicas", int64(s.UpdatedReplicas)}, {"readyReplicas", int64(s.ReadyReplicas)}, {"availableReplicas", int64(s.AvailableReplicas)}})...)
	if s.AvailableReplicas > s.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return append(allErrs, collisionCountNotDecremented(s.CollisionCount, old.Status.CollisionCount)...)
}

type namedInt struct {
	name  string
	value int64
}

func nonNegativeFields(p *field.Path, fields []namedInt) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range fields {
		allErrs = append(allErrs, validateNonnegativeField(f.value, p.Child(f.name))...)
	}
	return allErrs
}

func notGreaterThanReplicas(p *field.Path, replicas int32, fields []namedInt) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range fields {
		if f.value > int64(replicas) {
			allErrs = append(allErrs, field.Invalid(p.Child(f.name), int32(f.value), "cannot be greater than status.replicas"))
		}
	}
	return allErrs
}

func collisionCountNotDecremented(n, old *int32) field.ErrorList {
	decremented := (n == nil && old != nil) || (n != nil && old != nil && *n < *old)
	if !decremented {
		return nil
	}
	return field.ErrorList{field.Invalid(field.NewPath("status").Child("collisionCount"), int32Value(n), "cannot be decremented")}
}

// ReplicaSets.

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := validateNonnegativeField(int64(int32Value(spec.Replicas)), fldPath.Child("replicas"))
	allErrs = append(allErrs, validateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	// upstream reuses the deployment wording for replica sets.
	selector, errs := validateWorkloadSelector(spec.Selector, "deployment", fldPath.Child("selector"))
	allErrs = append(allErrs, errs...)
	if selector == nil {
		return append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "invalid label selector"))
	}
	allErrs = append(allErrs, validateTemplateForController(&spec.Template, selector, fldPath.Child("template"), opts)...)
	return append(allErrs, validateTemplateRestartAndDeadline(&spec.Template, "ReplicaSet", fldPath.Child("template"))...)
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	allErrs := validateObjectMeta(&rs.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateReplicaSetSpec(&rs.Spec, specPath, templateOptions(&rs.Spec.Template, nil))...)
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateReplicaSetSpec(&rs.Spec, specPath, templateOptions(&rs.Spec.Template, &old.Spec.Template))...)
	return append(allErrs, validateImmutableField(rs.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
}

func validateReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta, metadataPath)
	p := field.NewPath("status")
	s := &rs.Status
	allErrs = append(allErrs, nonNegativeFields(p, []namedInt{
		{"replicas", int64(s.Replicas)}, {"fullyLabeledReplicas", int64(s.FullyLabeledReplicas)}, {"readyReplicas", int64(s.ReadyReplicas)},
		{"availableReplicas", int64(s.AvailableReplicas)}, {"observedGeneration", s.ObservedGeneration},
	})...)
	if s.TerminatingReplicas != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*s.TerminatingReplicas), p.Child("terminatingReplicas"))...)
	}
	allErrs = append(allErrs, notGreaterThanReplicas(p, s.Replicas, []namedInt{{"fullyLabeledReplicas", int64(s.FullyLabeledReplicas)}, {"readyReplicas", int64(s.ReadyReplicas)}, {"availableReplicas", int64(s.AvailableReplicas)}})...)
	if s.AvailableReplicas > s.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return allErrs
}

// StatefulSets.

type statefulSetOptions struct {
	allowInvalidServiceName          bool
	skipValidatePodTemplateSpec      bool
	skipValidateVolumeClaimTemplates bool
	allowRecreateStrategy            bool
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path, opts podOptions, setOpts statefulSetOptions) field.ErrorList {
	var allErrs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy, fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	us := spec.UpdateStrategy
	rollingOnly := fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)
	switch {
	case us.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("updateStrategy"), ""))
	case us.Type == appsv1.OnDeleteStatefulSetStrategyType:
		if us.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy").Child("rollingUpdate"), us.RollingUpdate, rollingOnly))
		}
	case us.Type == appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := us.RollingUpdate; ru != nil {
			p := fldPath.Child("updateStrategy", "rollingUpdate")
			allErrs = append(allErrs, validateNonnegativeField(int64(int32Value(ru.Partition)), p.Child("partition"))...)
			if ru.MaxUnavailable != nil {
				mu := p.Child("maxUnavailable")
				allErrs = append(allErrs, validatePositiveIntOrPercent(*ru.MaxUnavailable, mu)...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					allErrs = append(allErrs, field.Invalid(mu, *ru.MaxUnavailable, "cannot be 0"))
				}
				allErrs = append(allErrs, isNotMoreThan100Percent(*ru.MaxUnavailable, mu)...)
			}
		}
	case string(us.Type) == "Recreate" && setOpts.allowRecreateStrategy:
		if us.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy").Child("rollingUpdate"), us.RollingUpdate, rollingOnly))
		}
	default:
		valid := fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)
		if setOpts.allowRecreateStrategy {
			valid = fmt.Sprintf("must be '%s', '%s', or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType, "Recreate")
		}
		allErrs = append(allErrs, field.Invalid(fldPath.Child("updateStrategy"), us, valid))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		for _, v := range []struct {
			value appsv1.PersistentVolumeClaimRetentionPolicyType
			name  string
		}{{p.WhenDeleted, "whenDeleted"}, {p.WhenScaled, "whenScaled"}} {
			if v.value != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && v.value != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				allErrs = append(allErrs, field.NotSupported(fldPath.Child("persistentVolumeClaimRetentionPolicy").Child(v.name), v.value,
					[]string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}))
			}
		}
	}
	if !setOpts.skipValidateVolumeClaimTemplates {
		for i := range spec.VolumeClaimTemplates {
			allErrs = append(allErrs, validatePersistentVolumeClaimSpec(&spec.VolumeClaimTemplates[i].Spec, fldPath.Child("volumeClaimTemplates").Index(i).Child("spec"), pvcOptions{})...)
		}
	}
	allErrs = append(allErrs, validateNonnegativeField(int64(int32Value(spec.Replicas)), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		// upstream names this path with a dot inside one segment.
		allErrs = append(allErrs, validateNonnegativeField(int64(spec.Ordinals.Start), fldPath.Child("ordinals.start"))...)
	}
	if !setOpts.allowInvalidServiceName && len(spec.ServiceName) > 0 {
		allErrs = append(allErrs, validateDNS1123Label(spec.ServiceName, fldPath.Child("serviceName"))...)
	}
	if spec.Selector == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), "").MarkCoveredByDeclarative())
	} else {
		allErrs = append(allErrs, validateLabelSelector(spec.Selector, false, fldPath.Child("selector"))...)
		if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "empty selector is invalid for statefulset"))
		}
	}
	selector, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, ""))
	} else {
		t := &spec.Template
		if len(t.Spec.Subdomain) > 0 || len(t.Spec.Hostname) > 0 || len(spec.VolumeClaimTemplates) > 0 {
			// The controller sets hostname and subdomain and adds a volume per
			// claim template; validate the template as the pods will be.
			t = t.DeepCopy()
			t.Spec.Subdomain, t.Spec.Hostname = "", ""
			if len(spec.VolumeClaimTemplates) > 0 {
				claims := map[string]bool{}
				var vols []corev1.Volume
				for _, c := range spec.VolumeClaimTemplates {
					if !claims[c.Name] {
						claims[c.Name] = true
						vols = append(vols, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
					}
				}
				for _, v := range t.Spec.Volumes {
					if !claims[v.Name] {
						vols = append(vols, v)
					}
				}
				t.Spec.Volumes = vols
			}
		}
		if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("template").Child("metadata", "labels"), t.Labels, selectorMismatch))
		}
		if !setOpts.skipValidatePodTemplateSpec {
			allErrs = append(allErrs, validatePodTemplateSpec(t, fldPath.Child("template"), opts)...)
		}
		allErrs = append(allErrs, metavalidateLabels(t.Labels, fldPath.Child("template").Child("labels"))...)
		allErrs = append(allErrs, validateAnnotations(t.Annotations, fldPath.Child("template").Child("annotations"))...)
		allErrs = append(allErrs, validatePodSpecificAnnotations(t.Annotations, &t.Spec, fldPath.Child("template").Child("annotations"), opts)...)
	}
	return append(allErrs, validateTemplateRestartAndDeadline(&spec.Template, "StatefulSet", fldPath.Child("template"))...)
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	allErrs := validateObjectMeta(&ss.ObjectMeta, true, nameIsDNSLabel, metadataPath)
	return append(allErrs, validateStatefulSetSpec(&ss.Spec, specPath, templateOptions(&ss.Spec.Template, nil), statefulSetOptions{})...)
}

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	// The name is not revalidated: older releases accepted DNS subdomains.
	allErrs := validateObjectMetaUpdate(&ss.ObjectMeta, &old.ObjectMeta, metadataPath)
	setOpts := statefulSetOptions{
		allowInvalidServiceName:          true,
		skipValidateVolumeClaimTemplates: true,
		allowRecreateStrategy:            string(old.Spec.UpdateStrategy.Type) == "Recreate",
	}
	opts := templateOptions(&ss.Spec.Template, &old.Spec.Template)
	// A stored object that fails today's rules keeps its template tolerated.
	if len(validateStatefulSetSpec(&old.Spec, nil, opts, setOpts)) > 0 {
		setOpts.skipValidatePodTemplateSpec = true
	}
	allErrs = append(allErrs, validateStatefulSetSpec(&ss.Spec, specPath, opts, setOpts)...)
	for _, f := range []struct {
		n, o any
		name string
	}{
		{ss.Spec.Selector, old.Spec.Selector, "selector"},
		{ss.Spec.VolumeClaimTemplates, old.Spec.VolumeClaimTemplates, "volumeClaimTemplates"},
		{ss.Spec.ServiceName, old.Spec.ServiceName, "serviceName"},
		{ss.Spec.PodManagementPolicy, old.Spec.PodManagementPolicy, "podManagementPolicy"},
	} {
		allErrs = append(allErrs, validateImmutableField(f.n, f.o, specPath.Child(f.name)).WithOrigin("immutable").MarkCoveredByDeclarative()...)
	}
	return allErrs
}

func validateStatefulSetStatusUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	p := field.NewPath("status")
	s := &ss.Status
	allErrs := nonNegativeFields(p, []namedInt{
		{"replicas", int64(s.Replicas)}, {"readyReplicas", int64(s.ReadyReplicas)}, {"currentReplicas", int64(s.CurrentReplicas)},
		{"updatedReplicas", int64(s.UpdatedReplicas)}, {"availableReplicas", int64(s.AvailableReplicas)},
	})
	// The internal observedGeneration is optional; v1 always carries one.
	allErrs = append(allErrs, validateNonnegativeField(s.ObservedGeneration, p.Child("observedGeneration"))...)
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*s.CollisionCount), p.Child("collisionCount"))...)
	}
	allErrs = append(allErrs, notGreaterThanReplicas(p, s.Replicas, []namedInt{{"readyReplicas", int64(s.ReadyReplicas)}, {"currentReplicas", int64(s.CurrentReplicas)}, {"updatedReplicas", int64(s.UpdatedReplicas)}, {"availableReplicas", int64(s.AvailableReplicas)}})...)
	if s.AvailableReplicas > s.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	allErrs = append(allErrs, validateObjectMetaUpdate(&ss.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(allErrs, collisionCountNotDecremented(s.CollisionCount, old.Status.CollisionCount)...)
}

// DaemonSets.

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, fldPath *field.Path, opts podOptions) field.ErrorList {
	allErrs := validateLabelSelector(spec.Selector, opts.allowInvalidLabelValueInSelector, fldPath.Child("selector"))
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, selectorMismatch))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	allErrs = append(allErrs, validatePodTemplateSpec(&spec.Template, fldPath.Child("template"), opts)...)
	allErrs = append(allErrs, validateTemplateRestartAndDeadline(&spec.Template, "DaemonSet", fldPath.Child("template"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*spec.RevisionHistoryLimit), fldPath.Child("revisionHistoryLimit"))...)
	}
	return allErrs
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		p := fldPath.Child("rollingUpdate")
		mu, ms := intOrStringValue(s.RollingUpdate.MaxUnavailable), intOrStringValue(s.RollingUpdate.MaxSurge)
		allErrs := validatePositiveIntOrPercent(mu, p.Child("maxUnavailable"))
		allErrs = append(allErrs, validatePositiveIntOrPercent(ms, p.Child("maxSurge"))...)
		allErrs = append(allErrs, isNotMoreThan100Percent(mu, p.Child("maxUnavailable"))...)
		allErrs = append(allErrs, isNotMoreThan100Percent(ms, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(mu) != 0, intOrPercentValue(ms) != 0
		switch {
		case hasUnavailable && hasSurge:
			allErrs = append(allErrs, field.Invalid(p.Child("maxSurge"), s.RollingUpdate.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			allErrs = append(allErrs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return allErrs
	}
	return field.ErrorList{field.NotSupported(fldPath, s, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	allErrs := validateObjectMeta(&ds.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateDaemonSetSpec(&ds.Spec, specPath, templateOptions(&ds.Spec.Template, nil))...)
}

// validateDaemonSetUpdate skips upstream's templateGeneration checks: v1 has
// no such field, and upstream's strategy keeps it consistent before
// validating anyway.
func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateImmutableField(ds.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	return append(allErrs, validateDaemonSetSpec(&ds.Spec, specPath, templateOptions(&ds.Spec.Template, &old.Spec.Template))...)
}

func validateDaemonSetStatusUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&ds.ObjectMeta, &old.ObjectMeta, metadataPath)
	s := &ds.Status
	allErrs = append(allErrs, nonNegativeFields(field.NewPath("status"), []namedInt{
		{"currentNumberScheduled", int64(s.CurrentNumberScheduled)}, {"numberMisscheduled", int64(s.NumberMisscheduled)},
		{"desiredNumberScheduled", int64(s.DesiredNumberScheduled)}, {"numberReady", int64(s.NumberReady)},
		{"observedGeneration", s.ObservedGeneration}, {"updatedNumberScheduled", int64(s.UpdatedNumberScheduled)},
		{"numberAvailable", int64(s.NumberAvailable)}, {"numberUnavailable", int64(s.NumberUnavailable)},
	})...)
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*s.CollisionCount), field.NewPath("status").Child("collisionCount"))...)
	}
	return append(allErrs, collisionCountNotDecremented(s.CollisionCount, old.Status.CollisionCount)...)
}

// ControllerRevisions.

func validateControllerRevisionCommon(r *appsv1.ControllerRevision) field.ErrorList {
	allErrs := validateObjectMeta(&r.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateNonnegativeField(r.Revision, field.NewPath("revision"))...)
}

func validateControllerRevision(r *appsv1.ControllerRevision) field.ErrorList {
	allErrs := validateControllerRevisionCommon(r)
	dataPath := field.NewPath("data")
	var v any
	switch {
	case r.Data.Raw == nil:
		allErrs = append(allErrs, field.Required(dataPath, "data is mandatory"))
	default:
		if err := json.Unmarshal(r.Data.Raw, &v); err != nil {
			allErrs = append(allErrs, field.Invalid(dataPath, "<value omitted>", fmt.Sprintf("error parsing data: %v", err.Error())))
		} else if v == nil {
			allErrs = append(allErrs, field.Required(dataPath, "data is mandatory"))
		} else if _, ok := v.(map[string]any); !ok {
			allErrs = append(allErrs, field.Required(dataPath, "data must be a valid JSON object"))
		}
	}
	return allErrs
}

func validateControllerRevisionUpdate(r, old *appsv1.ControllerRevision) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateControllerRevisionCommon(r)...)
	return append(allErrs, validateImmutableField(r.Data, old.Data, field.NewPath("data"))...)
}
