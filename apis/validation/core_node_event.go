package validation

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Nodes.

var nodeDeclaredFeatureRegexp = regexp.MustCompile(`^[A-Z][a-zA-Z0-9]*(\/[a-zA-Z][a-zA-Z0-9]*)*$`)

func validateNodeTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	unique := map[corev1.TaintEffect]sets.Set[string]{}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metavalidation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if errs := utilvalidation.IsValidLabelValue(t.Value); len(errs) != 0 {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("value"), t.Value, strings.Join(errs, ";")))
		}
		allErrs = append(allErrs, validateTaintEffect(t.Effect, false, idxPath.Child("effect"))...)
		if unique[t.Effect].Has(t.Key) {
			dup := field.Duplicate(idxPath, t)
			dup.Detail = "taints must be unique by key and effect pair"
			allErrs = append(allErrs, dup)
			continue
		}
		if unique[t.Effect] == nil {
			unique[t.Effect] = sets.Set[string]{}
		}
		unique[t.Effect].Insert(t.Key)
	}
	return allErrs
}

func validateNodeSpecificAnnotations(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if v := annotations[corev1.TaintsAnnotationKey]; v != "" {
		var taints []corev1.Taint
		if err := json.Unmarshal([]byte(v), &taints); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, corev1.TaintsAnnotationKey, err.Error()))
		} else if len(taints) > 0 {
			allErrs = append(allErrs, validateNodeTaints(taints, fldPath.Child(corev1.TaintsAnnotationKey))...)
		}
	}
	if v := annotations[corev1.PreferAvoidPodsAnnotationKey]; v != "" {
		var avoids corev1.AvoidPods
		if err := json.Unmarshal([]byte(v), &avoids); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("AvoidPods"), corev1.PreferAvoidPodsAnnotationKey, err.Error()))
		} else {
			for i, e := range avoids.PreferAvoidPods {
				p := fldPath.Child(corev1.PreferAvoidPodsAnnotationKey).Index(i)
				if e.PodSignature.PodController == nil {
					allErrs = append(allErrs, field.Required(p.Child("PodSignature"), ""))
				} else if c := e.PodSignature.PodController.Controller; c == nil || !*c {
					allErrs = append(allErrs, field.Invalid(p.Child("PodSignature").Child("PodController").Child("Controller"), ptrDeref(c, false), "must point to a controller"))
				}
			}
		}
	}
	return allErrs
}

func validateNodeDeclaredFeatures(features []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range features {
		switch {
		case len(f) > utilvalidation.DNS1123SubdomainMaxLength:
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), f, fmt.Sprintf("invalid feature name %q: must be no more than %d characters", f, utilvalidation.DNS1123SubdomainMaxLength)))
		case !nodeDeclaredFeatureRegexp.MatchString(f):
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), f, fmt.Sprintf("invalid feature name %q: must start with an UpperCamelCase segment, with subsequent segments separated by '/' (e.g., MyFeature or MyFeature/mySubFeature), and contain only alphanumeric characters and slashes", f)))
		}
		if i+1 < len(features) {
			next := features[i+1]
			if f == next {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i+1), next))
			} else if f > next {
				allErrs = append(allErrs, field.Invalid(fldPath.Index(i+1), next, "list must be sorted alphabetically"))
			}
		}
	}
	return allErrs
}

func validateNodeResources(node *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedResourceNames(node.Status.Capacity) {
		allErrs = append(allErrs, validateResourceQuantityValue(k, node.Status.Capacity[k], field.NewPath("status", "capacity", string(k)))...)
	}
	for _, k := range sortedResourceNames(node.Status.Allocatable) {
		allErrs = append(allErrs, validateResourceQuantityValue(k, node.Status.Allocatable[k], field.NewPath("status", "allocatable", string(k)))...)
	}
	return allErrs
}

func validateNode(node *corev1.Node) field.ErrorList {
	allErrs := validateObjectMeta(&node.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	allErrs = append(allErrs, validateNodeSpecificAnnotations(node.Annotations, metadataPath.Child("annotations"))...)
	if len(node.Spec.Taints) > 0 {
		// upstream reports spec taints under metadata.taints.
		allErrs = append(allErrs, validateNodeTaints(node.Spec.Taints, metadataPath.Child("taints"))...)
	}
	allErrs = append(allErrs, validateNodeResources(node)...)
	if sw := node.Status.NodeInfo.Swap; sw != nil && sw.Capacity != nil {
		allErrs = append(allErrs, validatePositiveField(*sw.Capacity, metadataPath.Child("nodeSwapStatus").Child("capacity"))...)
	}
	allErrs = append(allErrs, validateNodeDeclaredFeatures(node.Status.DeclaredFeatures, field.NewPath("status").Child("declaredFeatures"))...)
	if len(node.Spec.PodCIDRs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		for i, v := range node.Spec.PodCIDRs {
			allErrs = append(allErrs, isValidCIDRForLegacyField(p.Index(i), v, nil)...)
		}
		if len(node.Spec.PodCIDRs) > 1 {
			dual, err := netutils.IsDualStackCIDRStrings(node.Spec.PodCIDRs)
			if err != nil {
				allErrs = append(allErrs, field.InternalError(p, fmt.Errorf("invalid PodCIDRs. failed to check with dual stack with error:%v", err)))
			}
			if !dual || len(node.Spec.PodCIDRs) > 2 {
				allErrs = append(allErrs, field.Invalid(p, node.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
			}
		}
	}
	return allErrs
}

// validateNodeUpdateOnly holds the rules of an update on top of create's.
func validateNodeUpdateOnly(node, old *corev1.Node) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&node.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateNodeSpecificAnnotations(node.Annotations, metadataPath.Child("annotations"))...)
	allErrs = append(allErrs, validateNodeResources(node)...)
	allErrs = append(allErrs, validateNodeDeclaredFeatures(node.Status.DeclaredFeatures, field.NewPath("status").Child("declaredFeatures"))...)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range node.Status.Addresses {
		if seen[a] {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	// The node IPAM controller may set podCIDRs once.
	if len(old.Spec.PodCIDRs) > 0 {
		changed := len(old.Spec.PodCIDRs) != len(node.Spec.PodCIDRs)
		for i := 0; !changed && i < len(old.Spec.PodCIDRs); i++ {
			if old.Spec.PodCIDRs[i] != node.Spec.PodCIDRs[i] {
				allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
			}
		}
		if changed {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if len(old.Spec.ProviderID) > 0 && len(node.Spec.ProviderID) > 0 && old.Spec.ProviderID != node.Spec.ProviderID {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "providerID"), nil, "field cannot be modified once set").WithOrigin("update").MarkCoveredByDeclarative())
	}
	if len(old.Spec.ProviderID) > 0 && len(node.Spec.ProviderID) == 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "providerID"), nil, "field cannot be cleared once set").WithOrigin("update").MarkCoveredByDeclarative())
	}
	if node.Spec.ConfigSource != nil {
		allErrs = append(allErrs, validateNodeConfigSource(node.Spec.ConfigSource, field.NewPath("spec", "configSource"), true)...)
	}
	if c := node.Status.Config; c != nil {
		p := field.NewPath("status", "config")
		for _, s := range []struct {
			src  *corev1.NodeConfigSource
			name string
		}{{c.Assigned, "assigned"}, {c.Active, "active"}, {c.LastKnownGood, "lastKnownGood"}} {
			if s.src != nil {
				allErrs = append(allErrs, validateNodeConfigSource(s.src, p.Child(s.name), false)...)
			}
		}
	}
	if len(node.Spec.Taints) > 0 {
		allErrs = append(allErrs, validateNodeTaints(node.Spec.Taints, metadataPath.Child("taints"))...)
	}
	if node.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return allErrs
}

func validateNodeUpdate(node, old *corev1.Node) field.ErrorList {
	return append(validateNode(node), validateNodeUpdateOnly(node, old)...)
}

// validateNodeConfigSource covers the deprecated dynamic kubelet config
// references: spec ones may not carry uid/resourceVersion, status ones must.
func validateNodeConfigSource(src *corev1.NodeConfigSource, fldPath *field.Path, spec bool) field.ErrorList {
	var allErrs field.ErrorList
	if cm := src.ConfigMap; cm != nil {
		p := fldPath.Child("configMap")
		if spec {
			if cm.UID != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("uid"), "uid must not be set in spec"))
			}
			if cm.ResourceVersion != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("resourceVersion"), "resourceVersion must not be set in spec"))
			}
		} else {
			allErrs = append(allErrs, requireString(string(cm.UID), p.Child("uid"))...)
			allErrs = append(allErrs, requireString(cm.ResourceVersion, p.Child("resourceVersion"))...)
		}
		if cm.Namespace == "" {
			allErrs = append(allErrs, field.Required(p.Child("namespace"), ""))
		} else {
			allErrs = append(allErrs, validateName(namespaceNameFunc, cm.Namespace, p.Child("namespace"))...)
		}
		if cm.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		} else {
			allErrs = append(allErrs, validateName(nameIsDNSSubdomain, cm.Name, p.Child("name"))...)
		}
		if cm.KubeletConfigKey == "" {
			allErrs = append(allErrs, field.Required(p.Child("kubeletConfigKey"), ""))
		} else {
			for _, msg := range utilvalidation.IsConfigMapKey(cm.KubeletConfigKey) {
				allErrs = append(allErrs, field.Invalid(p.Child("kubeletConfigKey"), cm.KubeletConfigKey, msg))
			}
		}
	} else {
		allErrs = append(allErrs, field.Invalid(fldPath, src, "exactly one reference subfield must be non-nil"))
	}
	return allErrs
}

// Events.

const (
	eventReportingInstanceLengthLimit = 128
	eventActionLengthLimit            = 128
	eventReasonLengthLimit            = 128
	eventNoteLengthLimit              = 1024
)

var coreV1 = corev1.SchemeGroupVersion

func validateCoreEventCreate(e *corev1.Event) field.ErrorList { return ValidateEventCreate(e, coreV1) }

func validateCoreEventUpdate(e, old *corev1.Event) field.ErrorList {
	return ValidateEventUpdate(e, old, coreV1)
}

// ValidateEventCreate validates an Event stored as core/v1, applying the
// stricter events.k8s.io rules when requestVersion is events.k8s.io/v1.
// ValidateObject uses the core/v1 rules.
func ValidateEventCreate(e *corev1.Event, requestVersion schema.GroupVersion) field.ErrorList {
	allErrs := legacyValidateEvent(e, requestVersion)
	if !strictEvents(requestVersion) {
		return allErrs
	}
	allErrs = append(allErrs, validateObjectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)...)
	allErrs = append(allErrs, validateEventSeries(e)...)
	if e.EventTime.Time.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	if !e.FirstTimestamp.Time.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !e.LastTimestamp.Time.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if e.Count != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if e.Source.Component != "" || e.Source.Host != "" {
		allErrs = append(allErrs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return allErrs
}

// ValidateEventUpdate is ValidateEventCreate's counterpart for updates.
func ValidateEventUpdate(e, old *corev1.Event, requestVersion schema.GroupVersion) field.ErrorList {
	allErrs := legacyValidateEvent(e, requestVersion)
	if !strictEvents(requestVersion) {
		return allErrs
	}
	allErrs = append(allErrs, validateObjectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	if !reflect.DeepEqual(e.Series, old.Series) {
		allErrs = append(allErrs, validateEventSeries(e)...)
	}
	for _, f := range []struct {
		n, o any
		name string
	}{
		{e.InvolvedObject, old.InvolvedObject, "involvedObject"}, {e.Reason, old.Reason, "reason"},
		{e.Message, old.Message, "message"}, {e.Source, old.Source, "source"},
		{e.FirstTimestamp, old.FirstTimestamp, "firstTimestamp"}, {e.LastTimestamp, old.LastTimestamp, "lastTimestamp"},
		{e.Count, old.Count, "count"}, {e.Reason, old.Reason, "reason"}, {e.Type, old.Type, "type"},
	} {
		allErrs = append(allErrs, validateImmutableField(f.n, f.o, field.NewPath(f.name))...)
	}
	// Sub-microsecond differences come from clients that serialize with
	// lower precision; they are not changes.
	if !e.EventTime.Truncate(time.Microsecond).UTC().Equal(old.EventTime.Truncate(time.Microsecond).UTC()) {
		allErrs = append(allErrs, validateImmutableField(e.EventTime, old.EventTime, field.NewPath("eventTime"))...)
	}
	for _, f := range []struct {
		n, o any
		name string
	}{
		{e.Action, old.Action, "action"}, {e.Related, old.Related, "related"},
		{e.ReportingController, old.ReportingController, "reportingController"}, {e.ReportingInstance, old.ReportingInstance, "reportingInstance"},
	} {
		allErrs = append(allErrs, validateImmutableField(f.n, f.o, field.NewPath(f.name))...)
	}
	return allErrs
}

// strictEvents reports whether the request came through an API version
// newer than core/v1 and events.k8s.io/v1beta1, which get legacy rules only.
func strictEvents(gv schema.GroupVersion) bool {
	return gv != coreV1 && gv != (schema.GroupVersion{Group: eventsv1.GroupName, Version: "v1beta1"})
}

func validateEventSeries(e *corev1.Event) field.ErrorList {
	if e.Series == nil {
		return nil
	}
	var allErrs field.ErrorList
	if e.Series.Count < 2 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if e.Series.LastObservedTime.Time.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return allErrs
}

func legacyValidateEvent(e *corev1.Event, requestVersion schema.GroupVersion) field.ErrorList {
	var allErrs field.ErrorList
	controllerField := "reportingController"
	if requestVersion == coreV1 {
		controllerField = "reportingComponent"
	}
	nsPath := field.NewPath("involvedObject", "namespace")
	if e.EventTime.Time.IsZero() {
		if len(e.InvolvedObject.Namespace) == 0 {
			// Old clients put events about cluster-scoped objects in "default".
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		return allErrs
	}
	if len(e.InvolvedObject.Namespace) == 0 && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
		allErrs = append(allErrs, field.Invalid(nsPath, e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if len(e.ReportingController) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath(controllerField), ""))
	}
	allErrs = append(allErrs, validateQualifiedName(e.ReportingController, field.NewPath(controllerField))...)
	if len(e.ReportingInstance) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("reportingInstance"), ""))
	}
	if len(e.ReportingInstance) > eventReportingInstanceLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("reportingInstance"), "", fmt.Sprintf("can have at most %v characters", eventReportingInstanceLengthLimit)))
	}
	if len(e.Action) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("action"), ""))
	}
	if len(e.Action) > eventActionLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("action"), "", fmt.Sprintf("can have at most %v characters", eventActionLengthLimit)))
	}
	if len(e.Reason) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("reason"), ""))
	}
	if len(e.Reason) > eventReasonLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("reason"), "", fmt.Sprintf("can have at most %v characters", eventReasonLengthLimit)))
	}
	if len(e.Message) > eventNoteLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLengthLimit)))
	}
	return allErrs
}
