package validation

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// policy/v1

var supportedUnhealthyPodEvictionPolicies = sets.New(string(policyv1.IfHealthyBudget), string(policyv1.AlwaysAllow))

// validatePDB: upstream leaves PDB metadata to the generic registry checks.
func validatePDBWithOpts(pdb *policyv1.PodDisruptionBudget, allowInvalidLabelValue bool) field.ErrorList {
	spec, p := &pdb.Spec, specPath
	var allErrs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		allErrs = append(allErrs, field.Invalid(p, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range []struct {
		v    *intstr.IntOrString
		name string
	}{{spec.MinAvailable, "minAvailable"}, {spec.MaxUnavailable, "maxUnavailable"}} {
		if f.v == nil {
			continue
		}
		v := *f.v
		allErrs = append(allErrs, validatePositiveIntOrPercent(v, p.Child(f.name))...)
		allErrs = append(allErrs, isNotMoreThan100Percent(v, p.Child(f.name))...)
	}
	allErrs = append(allErrs, validateLabelSelector(spec.Selector, allowInvalidLabelValue, p.Child("selector"))...)
	if u := spec.UnhealthyPodEvictionPolicy; u != nil && !supportedUnhealthyPodEvictionPolicies.Has(string(*u)) {
		allErrs = append(allErrs, field.NotSupported(p.Child("unhealthyPodEvictionPolicy"), *u, sets.List(supportedUnhealthyPodEvictionPolicies)))
	}
	return allErrs
}

func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	return validatePDBWithOpts(pdb, false)
}

func validatePDBUpdate(pdb, old *policyv1.PodDisruptionBudget) field.ErrorList {
	return validatePDBWithOpts(pdb, len(validateLabelSelector(old.Spec.Selector, false, nil)) > 0)
}

func validatePDBStatusUpdate(pdb, _ *policyv1.PodDisruptionBudget) field.ErrorList {
	p := field.NewPath("status")
	s := &pdb.Status
	allErrs := metavalidation.ValidateConditions(s.Conditions, p.Child("conditions"))
	return append(allErrs, nonNegativeFields(p, []namedInt{
		{"disruptionsAllowed", int64(s.DisruptionsAllowed)}, {"currentHealthy", int64(s.CurrentHealthy)},
		{"desiredHealthy", int64(s.DesiredHealthy)}, {"expectedPods", int64(s.ExpectedPods)},
	})...)
}

// rbac.authorization.k8s.io/v1

// rbacNameFunc: RBAC names only need to be usable as a path segment.
func rbacNameFunc(name string, _ bool) []string { return content.IsPathSegmentName(name) }

func validatePolicyRule(rule rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(rule.Verbs) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("verbs"), "verbs must contain at least one value").MarkCoveredByDeclarative())
	}
	if len(rule.NonResourceURLs) > 0 {
		if namespaced {
			allErrs = append(allErrs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return allErrs
	}
	if len(rule.APIGroups) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	}
	return allErrs
}

func validateRole(r *rbacv1.Role) field.ErrorList {
	allErrs := validateObjectMeta(&r.ObjectMeta, true, rbacNameFunc, metadataPath)
	for i, rule := range r.Rules {
		allErrs = append(allErrs, validatePolicyRule(rule, true, field.NewPath("rules").Index(i))...)
	}
	return allErrs
}

func validateRoleUpdate(r, old *rbacv1.Role) field.ErrorList {
	return append(validateRole(r), validateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)...)
}

func validateClusterRoleWithOpts(r *rbacv1.ClusterRole, allowInvalidLabelValue bool) field.ErrorList {
	allErrs := validateObjectMeta(&r.ObjectMeta, false, rbacNameFunc, metadataPath)
	for i, rule := range r.Rules {
		allErrs = append(allErrs, validatePolicyRule(rule, false, field.NewPath("rules").Index(i))...)
	}
	if ar := r.AggregationRule; ar != nil {
		p := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(ar.ClusterRoleSelectors) == 0 {
			allErrs = append(allErrs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range ar.ClusterRoleSelectors {
			sel := ar.ClusterRoleSelectors[i]
			allErrs = append(allErrs, validateLabelSelector(&sel, allowInvalidLabelValue, p.Index(i))...)
			if s, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
				allErrs = append(allErrs, field.Invalid(p.Index(i), s, "invalid label selector."))
			}
		}
	}
	return allErrs
}

func validateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	return validateClusterRoleWithOpts(r, false)
}

func validateClusterRoleUpdate(r, old *rbacv1.ClusterRole) field.ErrorList {
	allow := false
	if old.AggregationRule != nil {
		for i := range old.AggregationRule.ClusterRoleSelectors {
			if len(validateLabelSelector(&old.AggregationRule.ClusterRoleSelectors[i], false, nil)) > 0 {
				allow = true
			}
		}
	}
	return append(validateClusterRoleWithOpts(r, allow), validateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, metadataPath)...)
}

func validateRoleRef(ref rbacv1.RoleRef, kinds []string) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	if !slices.Contains(kinds, ref.Kind) {
		allErrs = append(allErrs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if len(ref.Name) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("name"), "").MarkCoveredByDeclarative())
	} else {
		for _, msg := range rbacNameFunc(ref.Name, false) {
			allErrs = append(allErrs, field.Invalid(p.Child("name"), ref.Name, msg))
		}
	}
	return allErrs
}

func validateSubject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(s.Name) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("name"), "").MarkCoveredByDeclarative())
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if len(s.Name) > 0 {
			allErrs = append(allErrs, validateName(serviceAccountNameF, s.Name, p.Child("name"))...)
		}
		if len(s.APIGroup) > 0 {
			allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && len(s.Namespace) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			allErrs = append(allErrs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return allErrs
}

func validateRoleBinding(b *rbacv1.RoleBinding) field.ErrorList {
	allErrs := validateObjectMeta(&b.ObjectMeta, true, rbacNameFunc, metadataPath)
	allErrs = append(allErrs, validateRoleRef(b.RoleRef, []string{"Role", "ClusterRole"})...)
	for i, s := range b.Subjects {
		allErrs = append(allErrs, validateSubject(s, true, field.NewPath("subjects").Index(i))...)
	}
	return allErrs
}

func validateRoleBindingUpdate(b, old *rbacv1.RoleBinding) field.ErrorList {
	allErrs := append(validateRoleBinding(b), validateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(allErrs, validateImmutableField(b.RoleRef, old.RoleRef, field.NewPath("roleRef")).WithOrigin("immutable").MarkCoveredByDeclarative()...)
}

func validateClusterRoleBinding(b *rbacv1.ClusterRoleBinding) field.ErrorList {
	allErrs := validateObjectMeta(&b.ObjectMeta, false, rbacNameFunc, metadataPath)
	allErrs = append(allErrs, validateRoleRef(b.RoleRef, []string{"ClusterRole"})...)
	for i, s := range b.Subjects {
		allErrs = append(allErrs, validateSubject(s, false, field.NewPath("subjects").Index(i))...)
	}
	return allErrs
}

func validateClusterRoleBindingUpdate(b, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	allErrs := append(validateClusterRoleBinding(b), validateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	return append(allErrs, validateImmutableField(b.RoleRef, old.RoleRef, field.NewPath("roleRef")).WithOrigin("immutable").MarkCoveredByDeclarative()...)
}

// scheduling.k8s.io/v1

const (
	highestUserDefinablePriority = int32(1000000000)
	systemCriticalPriority       = 2 * highestUserDefinablePriority
	systemPriorityClassPrefix    = "system-"
)

var systemPriorityClasses = map[string]int32{
	"system-node-critical":    systemCriticalPriority + 1000,
	"system-cluster-critical": systemCriticalPriority,
}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	allErrs := validateObjectMeta(&pc.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		var err error
		value, known := systemPriorityClasses[pc.Name]
		switch {
		case !known:
			err = fmt.Errorf("%v is not a known system priority class", pc.Name)
		case value != pc.Value:
			err = fmt.Errorf("value of %v PriorityClass must be %v", pc.Name, value)
		case pc.GlobalDefault:
			err = fmt.Errorf("globalDefault of %v PriorityClass must be %v", pc.Name, false)
		}
		if err != nil {
			allErrs = append(allErrs, field.Forbidden(metadataPath.Child("name"), "priority class names with '"+systemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > highestUserDefinablePriority {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		allErrs = append(allErrs, validatePreemptionPolicy(pc.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return allErrs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&pc.ObjectMeta, &old.ObjectMeta, metadataPath)
	if pc.Value != old.Value {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(allErrs, validateImmutableField(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}

// node.k8s.io/v1

func validateRuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	allErrs := validateObjectMeta(&rc.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	hp := field.NewPath("handler")
	if rc.Handler == "" {
		allErrs = append(allErrs, field.Required(hp, "").MarkCoveredByDeclarative())
	} else {
		for _, msg := range nameIsDNSLabel(rc.Handler, false) {
			allErrs = append(allErrs, field.Invalid(hp, rc.Handler, msg).MarkCoveredByDeclarative().WithOrigin("format=k8s-short-name"))
		}
	}
	if rc.Overhead != nil {
		allErrs = append(allErrs, validateContainerResourceRequirements(&corev1.ResourceRequirements{Limits: rc.Overhead.PodFixed}, nil, field.NewPath("overhead"), podOptions{})...)
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		if s.NodeSelector != nil {
			allErrs = append(allErrs, metavalidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		}
		tp := sp.Child("tolerations")
		allErrs = append(allErrs, validateTolerations(s.Tolerations, tp, podOptions{}, true)...)
		seen := map[corev1.Toleration]bool{}
		for i, t := range s.Tolerations {
			key := corev1.Toleration{Key: t.Key, Operator: t.Operator, Value: t.Value, Effect: t.Effect}
			if seen[key] {
				allErrs = append(allErrs, field.Duplicate(tp.Index(i), t))
			}
			seen[key] = true
		}
	}
	return allErrs
}

func validateRuntimeClassUpdate(rc, old *nodev1.RuntimeClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&rc.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateImmutableField(rc.Handler, old.Handler, field.NewPath("handler")).MarkCoveredByDeclarative().WithOrigin("immutable")...)
}

// coordination.k8s.io/v1

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("leaseDurationSeconds"), spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("leaseTransitions"), spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		allErrs = append(allErrs, validateCoordinatedLeaseStrategy(*spec.Strategy, p.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		allErrs = append(allErrs, field.Forbidden(p.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return allErrs
}

func validateCoordinatedLeaseStrategy(s coordinationv1.CoordinatedLeaseStrategy, p *field.Path) field.ErrorList {
	valid := []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}
	if !strings.Contains(string(s), "/") {
		if !slices.Contains(valid, s) {
			// upstream nests the path one level deeper than the field.
			return field.ErrorList{field.NotSupported(p.Child("strategy"), s, valid)}
		}
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(string(s)) {
		allErrs = append(allErrs, field.Invalid(p.Child("strategy"), s, msg))
	}
	return allErrs
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	allErrs := validateObjectMeta(&l.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateLeaseSpec(&l.Spec, specPath)...)
}

func validateLeaseUpdate(l, old *coordinationv1.Lease) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&l.ObjectMeta, &old.ObjectMeta, metadataPath)
	return append(allErrs, validateLeaseSpec(&l.Spec, specPath)...)
}

// storage.k8s.io/v1

const (
	maxProvisionerParameterSize   = 256 * (1 << 10)
	maxProvisionerParameterLen    = 512
	maxAttachedVolumeMetadataSize = 256 * (1 << 10)
	maxVolumeErrorMessageSize     = 1024
	csiNodeIDMaxLength            = 256
)

var (
	supportedStorageClassReclaimPolicy = sets.New(string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain))
	supportedVolumeBindingModes        = sets.New(string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer))
	supportedFSGroupPolicy             = sets.New(string(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy), string(storagev1.FileFSGroupPolicy), string(storagev1.NoneFSGroupPolicy))
)

func validateProvisioner(provisioner string, p *field.Path) field.ErrorList {
	if len(provisioner) == 0 {
		return field.ErrorList{field.Required(p, provisioner).MarkCoveredByDeclarative()}
	}
	return validateQualifiedName(strings.ToLower(provisioner), p)
}

func validateParameters(params map[string]string, allowEmpty bool, p *field.Path) field.ErrorList {
	if len(params) > maxProvisionerParameterLen {
		return field.ErrorList{field.TooLong(p, "", maxProvisionerParameterLen)}
	}
	var allErrs field.ErrorList
	var total int64
	for _, k := range sortedKeys(params) {
		if len(k) < 1 {
			allErrs = append(allErrs, field.Invalid(p, k, "field can not be empty."))
		}
		total += int64(len(k)) + int64(len(params[k]))
	}
	if total > maxProvisionerParameterSize {
		allErrs = append(allErrs, field.TooLong(p, "", maxProvisionerParameterSize))
	}
	if !allowEmpty && len(params) == 0 {
		allErrs = append(allErrs, field.Required(p, "must contain at least one key/value pair"))
	}
	return allErrs
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	allErrs := validateObjectMeta(&sc.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	allErrs = append(allErrs, validateProvisioner(sc.Provisioner, field.NewPath("provisioner"))...)
	allErrs = append(allErrs, validateParameters(sc.Parameters, true, field.NewPath("parameters"))...)
	if rp := sc.ReclaimPolicy; rp != nil && len(*rp) > 0 && !supportedStorageClassReclaimPolicy.Has(string(*rp)) {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("reclaimPolicy"), rp, sets.List(supportedStorageClassReclaimPolicy)))
	}
	bp := field.NewPath("volumeBindingMode")
	if sc.VolumeBindingMode == nil {
		allErrs = append(allErrs, field.Required(bp, ""))
	} else if !supportedVolumeBindingModes.Has(string(*sc.VolumeBindingMode)) {
		allErrs = append(allErrs, field.NotSupported(bp, sc.VolumeBindingMode, sets.List(supportedVolumeBindingModes)))
	}
	return append(allErrs, validateAllowedTopologies(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

func validateAllowedTopologies(terms []corev1.TopologySelectorTerm, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	var seen []map[string]sets.Set[string]
	for i, term := range terms {
		ip := p.Index(i)
		exprs := map[string]sets.Set[string]{}
		ep := ip.Child("matchLabelExpressions")
		for j, req := range term.MatchLabelExpressions {
			jp := ep.Index(j)
			values := sets.New[string]()
			if len(req.Values) == 0 {
				allErrs = append(allErrs, field.Required(jp.Child("values"), ""))
			}
			for k, v := range req.Values {
				if values.Has(v) {
					allErrs = append(allErrs, field.Duplicate(jp.Child("values").Index(k), v))
				}
				values.Insert(v)
			}
			allErrs = append(allErrs, metavalidation.ValidateLabelName(req.Key, jp.Child("key"))...)
			if _, ok := exprs[req.Key]; ok {
				allErrs = append(allErrs, field.Duplicate(jp.Child("key"), req.Key))
			}
			exprs[req.Key] = values
		}
		for _, t := range seen {
			if apiequality.Semantic.DeepEqual(exprs, t) {
				allErrs = append(allErrs, field.Duplicate(ep, ""))
			}
		}
		seen = append(seen, exprs)
	}
	return allErrs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&sc.ObjectMeta, &old.ObjectMeta, metadataPath)
	for _, f := range []struct {
		n, o any
		name string
	}{
		{sc.Parameters, old.Parameters, "parameters"}, {sc.Provisioner, old.Provisioner, "provisioner"},
		{sc.ReclaimPolicy, old.ReclaimPolicy, "reclaimPolicy"}, {sc.VolumeBindingMode, old.VolumeBindingMode, "volumeBindingMode"},
	} {
		allErrs = append(allErrs, validateImmutableField(f.n, f.o, field.NewPath(f.name)).WithOrigin("immutable").MarkCoveredByDeclarative()...)
	}
	return allErrs
}

func validateVolumeAttachment(va *storagev1.VolumeAttachment) field.ErrorList {
	allErrs := validateObjectMeta(&va.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	sp := specPath
	allErrs = append(allErrs, validateCSIDriverName(va.Spec.Attacher, sp.Child("attacher"), true)...)
	src, srcPath := &va.Spec.Source, sp.Child("source")
	switch {
	case src.InlineVolumeSpec == nil && src.PersistentVolumeName == nil:
		allErrs = append(allErrs, field.Required(srcPath, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.InlineVolumeSpec != nil && src.PersistentVolumeName != nil:
		allErrs = append(allErrs, field.Forbidden(srcPath, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case src.PersistentVolumeName != nil:
		if len(*src.PersistentVolumeName) == 0 {
			allErrs = append(allErrs, field.Required(srcPath.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
		}
	default:
		allErrs = append(allErrs, validatePersistentVolumeSpec(src.InlineVolumeSpec, "", true, srcPath.Child("inlineVolumeSpec"), pvOptions{})...)
	}
	allErrs = append(allErrs, validateName(nameIsDNSSubdomain, va.Spec.NodeName, sp.Child("nodeName"))...)
	st := field.NewPath("status")
	var size int64
	for k, v := range va.Status.AttachmentMetadata {
		size += int64(len(k)) + int64(len(v))
	}
	if size > maxAttachedVolumeMetadataSize {
		allErrs = append(allErrs, field.TooLong(st.Child("attachmentMetadata"), "", maxAttachedVolumeMetadataSize))
	}
	for _, e := range []struct {
		err  *storagev1.VolumeError
		name string
	}{{va.Status.AttachError, "attachError"}, {va.Status.DetachError, "detachError"}} {
		if e.err == nil {
			continue
		}
		if len(e.err.Message) > maxVolumeErrorMessageSize {
			allErrs = append(allErrs, field.TooLong(st.Child(e.name).Child("message"), "", maxVolumeErrorMessageSize))
		}
		if c := e.err.ErrorCode; c != nil && *c < 0 {
			allErrs = append(allErrs, field.Invalid(st.Child(e.name).Child("errorCode"), *c, utilvalidation.InclusiveRangeError(0, math.MaxInt32)))
		}
	}
	if pv := src.PersistentVolumeName; pv != nil {
		// upstream names this path with dots inside one segment.
		allErrs = append(allErrs, validateName(nameIsDNSSubdomain, *pv, field.NewPath("spec.source.persistentVolumeName"))...)
	}
	return allErrs
}

func validateVolumeAttachmentUpdate(va, old *storagev1.VolumeAttachment) field.ErrorList {
	allErrs := validateVolumeAttachment(va)
	return append(allErrs, validateImmutableField(va.Spec, old.Spec, specPath).WithOrigin("immutable").MarkCoveredByDeclarative()...)
}

func validateCSIDriverSpec(spec *storagev1.CSIDriverSpec, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	// upstream spells the attachRequired path "attachedRequired".
	for _, f := range []struct {
		v    *bool
		name string
	}{{spec.AttachRequired, "attachedRequired"}, {spec.PodInfoOnMount, "podInfoOnMount"}, {spec.StorageCapacity, "storageCapacity"}} {
		if f.v == nil {
			allErrs = append(allErrs, field.Required(p.Child(f.name), ""))
		}
	}
	if fg := spec.FSGroupPolicy; fg != nil && !supportedFSGroupPolicy.Has(string(*fg)) {
		allErrs = append(allErrs, field.NotSupported(p.Child("fsGroupPolicy"), fg, sets.List(supportedFSGroupPolicy)))
	}
	audiences := map[string]bool{}
	for i, tr := range spec.TokenRequests {
		ip := p.Child("tokenRequests").Index(i)
		if audiences[tr.Audience] {
			allErrs = append(allErrs, field.Duplicate(ip.Child("audience"), tr.Audience))
			continue
		}
		audiences[tr.Audience] = true
		if tr.ExpirationSeconds == nil {
			continue
		}
		if *tr.ExpirationSeconds < 600 {
			allErrs = append(allErrs, field.Invalid(ip.Child("expirationSeconds"), *tr.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
		}
		if *tr.ExpirationSeconds > 1<<32 {
			allErrs = append(allErrs, field.Invalid(ip.Child("expirationSeconds"), *tr.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	for _, m := range spec.VolumeLifecycleModes {
		if m != storagev1.VolumeLifecyclePersistent && m != storagev1.VolumeLifecycleEphemeral {
			allErrs = append(allErrs, field.NotSupported(p.Child("volumeLifecycleModes"), m, []string{string(storagev1.VolumeLifecyclePersistent), string(storagev1.VolumeLifecycleEphemeral)}))
		}
	}
	// SELinuxMountReadWriteOncePod is GA and VolumeLimitScaling beta in 1.37;
	// defaulting fills both fields.
	if spec.SELinuxMount == nil {
		allErrs = append(allErrs, field.Required(p.Child("seLinuxMount"), ""))
	}
	if s := spec.NodeAllocatableUpdatePeriodSeconds; s != nil && *s < 10 {
		allErrs = append(allErrs, field.Invalid(p.Child("nodeAllocatableUpdatePeriodSeconds"), *s, "must be greater than or equal to 10 seconds"))
	}
	if spec.ServiceAccountTokenInSecrets != nil && len(spec.TokenRequests) == 0 {
		allErrs = append(allErrs, field.Invalid(p.Child("serviceAccountTokenInSecrets"), spec.ServiceAccountTokenInSecrets, "serviceAccountTokenInSecrets is set but no tokenRequests are specified"))
	}
	if spec.PreventPodSchedulingIfMissing == nil {
		allErrs = append(allErrs, field.Required(p.Child("preventPodSchedulingIfMissing"), ""))
	}
	return allErrs
}

func validateCSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	allErrs := validateObjectMeta(&d.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	return append(allErrs, validateCSIDriverSpec(&d.Spec, specPath)...)
}

func validateCSIDriverUpdate(d, old *storagev1.CSIDriver) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta, metadataPath)
	allErrs = append(allErrs, validateCSIDriverSpec(&d.Spec, specPath)...)
	allErrs = append(allErrs, validateImmutableField(d.Spec.AttachRequired, old.Spec.AttachRequired, specPath.Child("attachedRequired"))...)
	return append(allErrs, validateImmutableField(d.Spec.VolumeLifecycleModes, old.Spec.VolumeLifecycleModes, specPath.Child("volumeLifecycleModes")).WithOrigin("immutable").MarkCoveredByDeclarative()...)
}

func validateCSINode(n *storagev1.CSINode) field.ErrorList {
	allErrs := validateObjectMeta(&n.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	dp := specPath.Child("drivers")
	names := sets.New[string]()
	for i, d := range n.Spec.Drivers {
		ip := dp.Index(i)
		allErrs = append(allErrs, validateCSIDriverName(d.Name, ip.Child("name"), false)...)
		if len(d.NodeID) == 0 {
			allErrs = append(allErrs, field.Required(ip.Child("nodeID"), d.NodeID))
		}
		if len(d.NodeID) > csiNodeIDMaxLength {
			allErrs = append(allErrs, field.Invalid(ip.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", csiNodeIDMaxLength)))
		}
		if d.Allocatable != nil && d.Allocatable.Count != nil {
			allErrs = append(allErrs, validateNonnegativeField(int64(*d.Allocatable.Count), ip.Child("allocatable").Child("count"))...)
		}
		if names.Has(d.Name) {
			allErrs = append(allErrs, field.Duplicate(ip.Child("name"), d.Name))
		}
		names.Insert(d.Name)
		keys := sets.New[string]()
		for _, k := range d.TopologyKeys {
			if len(k) == 0 {
				allErrs = append(allErrs, field.Required(ip, k))
			}
			if keys.Has(k) {
				allErrs = append(allErrs, field.Duplicate(ip, k))
			}
			keys.Insert(k)
			allErrs = append(allErrs, validateQualifiedName(k, ip)...)
		}
	}
	return allErrs
}

// validateCSINodeUpdate: an existing driver entry may change only its
// allocatable count (MutableCSINodeAllocatableCount is GA).
func validateCSINodeUpdate(n, old *storagev1.CSINode) field.ErrorList {
	allErrs := validateCSINode(n)
	for _, od := range old.Spec.Drivers {
		for _, nd := range n.Spec.Drivers {
			if od.Name != nd.Name {
				continue
			}
			o, c := od.DeepCopy(), nd.DeepCopy()
			o.Allocatable, c.Allocatable = nil, nil
			allErrs = append(allErrs, validateImmutableField(c, o, specPath.Child("drivers"))...)
		}
	}
	return allErrs
}

func validateCSIStorageCapacityWithOpts(c *storagev1.CSIStorageCapacity, allowInvalidLabelValue bool) field.ErrorList {
	allErrs := validateObjectMeta(&c.ObjectMeta, true, nameIsDNSSubdomain, metadataPath)
	allErrs = append(allErrs, validateLabelSelector(c.NodeTopology, allowInvalidLabelValue, field.NewPath("nodeTopology"))...)
	allErrs = append(allErrs, validateName(nameIsDNSSubdomain, c.StorageClassName, field.NewPath("storageClassName"))...)
	if c.Capacity != nil {
		allErrs = append(allErrs, validateNonnegativeQuantity(*c.Capacity, field.NewPath("capacity"))...)
	}
	return allErrs
}

func validateCSIStorageCapacity(c *storagev1.CSIStorageCapacity) field.ErrorList {
	return validateCSIStorageCapacityWithOpts(c, false)
}

func validateCSIStorageCapacityUpdate(c, old *storagev1.CSIStorageCapacity) field.ErrorList {
	allErrs := validateCSIStorageCapacityWithOpts(c, len(validateLabelSelector(old.NodeTopology, false, nil)) > 0)
	allErrs = append(allErrs, validateObjectMetaUpdate(&c.ObjectMeta, &old.ObjectMeta, metadataPath)...)
	if !apiequality.Semantic.DeepEqual(c.NodeTopology, old.NodeTopology) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("nodeTopology"), c.NodeTopology, "field is immutable"))
	}
	if c.StorageClassName != old.StorageClassName {
		allErrs = append(allErrs, field.Invalid(field.NewPath("storageClassName"), c.StorageClassName, "field is immutable"))
	}
	return allErrs
}

func validateVolumeAttributesClass(v *storagev1.VolumeAttributesClass) field.ErrorList {
	allErrs := validateObjectMeta(&v.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	allErrs = append(allErrs, validateProvisioner(v.DriverName, field.NewPath("driverName"))...)
	return append(allErrs, validateParameters(v.Parameters, false, field.NewPath("parameters"))...)
}

func validateVolumeAttributesClassUpdate(v, old *storagev1.VolumeAttributesClass) field.ErrorList {
	allErrs := validateObjectMetaUpdate(&v.ObjectMeta, &old.ObjectMeta, metadataPath)
	if v.DriverName != old.DriverName {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("driverName"), "updates to driverName are forbidden."))
	}
	if !reflect.DeepEqual(old.Parameters, v.Parameters) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	return append(allErrs, validateVolumeAttributesClass(v)...)
}
