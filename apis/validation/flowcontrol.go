package validation

import (
	"fmt"
	"strings"
	"sync"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	"k8s.io/apiserver/pkg/util/shufflesharding"

	fcdefaults "github.com/skiff-dev/skiff/apis/flowcontrol/v1"
)

// flowcontrol.apiserver.k8s.io/v1, ported from
// pkg/apis/flowcontrol/validation.

// apfPreserveZeroSharesAnnotation is a v1beta3 round-trip marker that must
// never reach storage.
const apfPreserveZeroSharesAnnotation = "flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares"

const priorityLevelMaxQueues int32 = 10 * 1000 * 1000

var (
	apfDistinguisherMethods = sets.New(string(flowcontrolv1.FlowDistinguisherMethodByNamespaceType), string(flowcontrolv1.FlowDistinguisherMethodByUserType))
	apfVerbs                = sets.New("get", "list", "create", "update", "delete", "deletecollection", "patch", "watch", "proxy")
	apfSubjectKinds         = sets.New(string(flowcontrolv1.SubjectKindServiceAccount), string(flowcontrolv1.SubjectKindGroup), string(flowcontrolv1.SubjectKindUser))
	apfEnablements          = sets.New(string(flowcontrolv1.PriorityLevelEnablementExempt), string(flowcontrolv1.PriorityLevelEnablementLimited))
	apfLimitResponseTypes   = sets.New(string(flowcontrolv1.LimitResponseTypeQueue), string(flowcontrolv1.LimitResponseTypeReject))
)

// mandatoryAPFObjects holds the defaulted mandatory flow schemas and priority
// levels, built once because they never change; stored objects with these
// names are compared against them after defaulting.
var mandatoryAPFObjects = sync.OnceValues(func() (map[string]*flowcontrolv1.FlowSchema, map[string]*flowcontrolv1.PriorityLevelConfiguration) {
	fses := map[string]*flowcontrolv1.FlowSchema{}
	for _, fs := range bootstrap.MandatoryFlowSchemas {
		c := fs.DeepCopy()
		fcdefaults.SetObjectDefaults_FlowSchema(c)
		fses[c.Name] = c
	}
	pls := map[string]*flowcontrolv1.PriorityLevelConfiguration{}
	for _, pl := range bootstrap.MandatoryPriorityLevelConfigurations {
		c := pl.DeepCopy()
		fcdefaults.SetObjectDefaults_PriorityLevelConfiguration(c)
		pls[c.Name] = c
	}
	return fses, pls
})

func validateFlowSchema(fs *flowcontrolv1.FlowSchema) field.ErrorList {
	allErrs := validateObjectMeta(&fs.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	allErrs = append(allErrs, validateFlowSchemaSpec(fs.Name, &fs.Spec, specPath)...)
	mandFS, _ := mandatoryAPFObjects()
	if mand, ok := mandFS[fs.Name]; ok && !apiequality.Semantic.DeepEqual(fs.Spec, mand.Spec) {
		allErrs = append(allErrs, field.Invalid(specPath, fs.Spec, fmt.Sprintf("spec of '%s' must equal the fixed value", fs.Name)))
	}
	return append(allErrs, validateFlowSchemaStatus(&fs.Status)...)
}

// Upstream re-validates the whole object on update and has no immutable
// fields; metadata update rules come from the generic registry checks.
func validateFlowSchemaUpdate(fs, _ *flowcontrolv1.FlowSchema) field.ErrorList {
	return validateFlowSchema(fs)
}

func validateFlowSchemaStatusUpdate(fs, _ *flowcontrolv1.FlowSchema) field.ErrorList {
	return validateFlowSchemaStatus(&fs.Status)
}

func validateFlowSchemaSpec(name string, spec *flowcontrolv1.FlowSchemaSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mp := fldPath.Child("matchingPrecedence")
	if spec.MatchingPrecedence <= 0 {
		allErrs = append(allErrs, field.Invalid(mp, spec.MatchingPrecedence, "must be a positive value"))
	}
	if spec.MatchingPrecedence > flowcontrolv1.FlowSchemaMaxMatchingPrecedence {
		allErrs = append(allErrs, field.Invalid(mp, spec.MatchingPrecedence, fmt.Sprintf("must not be greater than %v", flowcontrolv1.FlowSchemaMaxMatchingPrecedence)))
	}
	if spec.MatchingPrecedence == 1 && name != flowcontrolv1.FlowSchemaNameExempt {
		allErrs = append(allErrs, field.Invalid(mp, spec.MatchingPrecedence, "only the schema named 'exempt' may have matchingPrecedence 1"))
	}
	if dm := spec.DistinguisherMethod; dm != nil && !apfDistinguisherMethods.Has(string(dm.Type)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("distinguisherMethod").Child("type"), dm, sets.List(apfDistinguisherMethods)))
	}
	plPath := fldPath.Child("priorityLevelConfiguration").Child("name")
	if pl := spec.PriorityLevelConfiguration.Name; pl != "" {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(pl, false) {
			allErrs = append(allErrs, field.Invalid(plPath, pl, msg))
		}
	} else {
		allErrs = append(allErrs, field.Required(plPath, "must reference a priority level"))
	}
	for i := range spec.Rules {
		allErrs = append(allErrs, validateFlowSchemaRule(&spec.Rules[i], fldPath.Child("rules").Index(i))...)
	}
	return allErrs
}

func validateFlowSchemaRule(rule *flowcontrolv1.PolicyRulesWithSubjects, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(rule.Subjects) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("subjects"), "subjects must contain at least one value"))
	}
	for i := range rule.Subjects {
		allErrs = append(allErrs, validateFlowSchemaSubject(&rule.Subjects[i], fldPath.Child("subjects").Index(i))...)
	}
	if len(rule.ResourceRules) == 0 && len(rule.NonResourceRules) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "at least one of resourceRules and nonResourceRules has to be non-empty"))
	}
	for i := range rule.ResourceRules {
		allErrs = append(allErrs, validateFlowSchemaResourceRule(&rule.ResourceRules[i], fldPath.Child("resourceRules").Index(i))...)
	}
	for i := range rule.NonResourceRules {
		allErrs = append(allErrs, validateFlowSchemaNonResourceRule(&rule.NonResourceRules[i], fldPath.Child("nonResourceRules").Index(i))...)
	}
	return allErrs
}

func validateFlowSchemaSubject(s *flowcontrolv1.Subject, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	forbidUnless := func(set bool, name, kind string) {
		if set {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(name), fmt.Sprintf("%s is forbidden when subject kind is not '%s'", name, kind)))
		}
	}
	switch s.Kind {
	case flowcontrolv1.SubjectKindServiceAccount:
		allErrs = append(allErrs, validateAPFServiceAccountSubject(s.ServiceAccount, fldPath.Child("serviceAccount"))...)
		forbidUnless(s.User != nil, "user", "User")
		forbidUnless(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindUser:
		if s.User == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("user"), "user is required when subject kind is 'User'"))
		} else if s.User.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("user").Child("name"), ""))
		}
		forbidUnless(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbidUnless(s.Group != nil, "group", "Group")
	case flowcontrolv1.SubjectKindGroup:
		if s.Group == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("group"), "group is required when subject kind is 'Group'"))
		} else if s.Group.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("group").Child("name"), ""))
		}
		forbidUnless(s.ServiceAccount != nil, "serviceAccount", "ServiceAccount")
		forbidUnless(s.User != nil, "user", "User")
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), s.Kind, sets.List(apfSubjectKinds)))
	}
	return allErrs
}

func validateAPFServiceAccountSubject(s *flowcontrolv1.ServiceAccountSubject, fldPath *field.Path) field.ErrorList {
	if s == nil {
		return field.ErrorList{field.Required(fldPath, "serviceAccount is required when subject kind is 'ServiceAccount'")}
	}
	var allErrs field.ErrorList
	if s.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	} else if s.Name != flowcontrolv1.NameAll {
		for _, msg := range apimachineryvalidation.ValidateServiceAccountName(s.Name, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), s.Name, msg))
		}
	}
	if s.Namespace == "" {
		return append(allErrs, field.Required(fldPath.Child("namespace"), "must specify namespace for service account"))
	}
	for _, msg := range apimachineryvalidation.ValidateNamespaceName(s.Namespace, false) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), s.Namespace, msg))
	}
	return allErrs
}

// validateAPFVerbs: '*' must stand alone, otherwise only known verbs.
func validateAPFVerbs(verbs []string, fldPath *field.Path) field.ErrorList {
	switch {
	case len(verbs) == 0:
		return field.ErrorList{field.Required(fldPath, "verbs must contain at least one value")}
	case slicesContains(verbs, "*"):
		if len(verbs) > 1 {
			return field.ErrorList{field.Invalid(fldPath, verbs, "if '*' is present, must not specify other verbs")}
		}
	case !apfVerbs.HasAll(verbs...):
		return field.ErrorList{field.NotSupported(fldPath, verbs, sets.List(apfVerbs))}
	}
	return nil
}

func validateFlowSchemaNonResourceRule(rule *flowcontrolv1.NonResourcePolicyRule, fldPath *field.Path) field.ErrorList {
	allErrs := validateAPFVerbs(rule.Verbs, fldPath.Child("verbs"))
	urlsPath := fldPath.Child("nonResourceURLs")
	switch {
	case len(rule.NonResourceURLs) == 0:
		allErrs = append(allErrs, field.Required(urlsPath, "nonResourceURLs must contain at least one value"))
	case slicesContains(rule.NonResourceURLs, "*"):
		if len(rule.NonResourceURLs) > 1 {
			allErrs = append(allErrs, field.Invalid(urlsPath, rule.NonResourceURLs, "if '*' is present, must not specify other non-resource URLs"))
		}
	default:
		for i, u := range rule.NonResourceURLs {
			if err := validateNonResourceURLPath(u, urlsPath.Index(i)); err != nil {
				allErrs = append(allErrs, err)
			}
		}
	}
	return allErrs
}

// validateNonResourceURLPath: leading slash, no spaces or double slashes,
// and '*' only as a trailing "/*" glob.
func validateNonResourceURLPath(path string, fldPath *field.Path) *field.Error {
	switch {
	case path == "":
		return field.Invalid(fldPath, path, "must not be empty")
	case path == "/":
		return nil
	case !strings.HasPrefix(path, "/"):
		return field.Invalid(fldPath, path, "must start with slash")
	case strings.Contains(path, " "):
		return field.Invalid(fldPath, path, "must not contain white-space")
	case strings.Contains(path, "//"):
		return field.Invalid(fldPath, path, "must not contain double slash")
	}
	if n := strings.Count(path, "*"); n > 1 || (n == 1 && path[len(path)-2:] != "/*") {
		return field.Invalid(fldPath, path, "wildcard can only do suffix matching")
	}
	return nil
}

func validateFlowSchemaResourceRule(rule *flowcontrolv1.ResourcePolicyRule, fldPath *field.Path) field.ErrorList {
	allErrs := validateAPFVerbs(rule.Verbs, fldPath.Child("verbs"))
	if len(rule.APIGroups) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("apiGroups"), "resource rules must supply at least one api group"))
	} else if len(rule.APIGroups) > 1 && slicesContains(rule.APIGroups, "*") {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("apiGroups"), rule.APIGroups, "if '*' is present, must not specify other api groups"))
	}
	if len(rule.Resources) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("resources"), "resource rules must supply at least one resource"))
	} else if len(rule.Resources) > 1 && slicesContains(rule.Resources, "*") {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("resources"), rule.Resources, "if '*' is present, must not specify other resources"))
	}
	nsPath := fldPath.Child("namespaces")
	switch {
	case len(rule.Namespaces) == 0 && !rule.ClusterScope:
		allErrs = append(allErrs, field.Required(nsPath, "resource rules that are not cluster scoped must supply at least one namespace"))
	case slicesContains(rule.Namespaces, "*"):
		if len(rule.Namespaces) > 1 {
			allErrs = append(allErrs, field.Invalid(nsPath, rule.Namespaces, "if '*' is present, must not specify other namespaces"))
		}
	default:
		for i, ns := range rule.Namespaces {
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
				allErrs = append(allErrs, field.Invalid(nsPath.Index(i), ns, "each member of this list must be '*' or a DNS-1123 label; "+msg))
			}
		}
	}
	return allErrs
}

func validateFlowSchemaStatus(s *flowcontrolv1.FlowSchemaStatus) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("status").Child("conditions")
	seen := sets.New[string]()
	for i, c := range s.Conditions {
		if seen.Has(string(c.Type)) {
			allErrs = append(allErrs, field.Duplicate(p.Index(i).Child("type"), c.Type))
		}
		seen.Insert(string(c.Type))
		if c.Type == "" {
			allErrs = append(allErrs, field.Required(p.Index(i).Child("type"), ""))
		}
	}
	return allErrs
}

func validatePriorityLevelConfiguration(pl *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	allErrs := validateObjectMeta(&pl.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	if _, ok := pl.Annotations[apfPreserveZeroSharesAnnotation]; ok {
		allErrs = append(allErrs, field.Forbidden(metadataPath.Child("annotations"), fmt.Sprintf("annotation '%s' is forbidden", apfPreserveZeroSharesAnnotation)))
	}
	allErrs = append(allErrs, validatePriorityLevelSpec(&pl.Spec, pl.Name, specPath)...)
	allErrs = append(allErrs, validateMandatoryPriorityLevel(pl)...)
	return append(allErrs, validatePriorityLevelStatus(&pl.Status)...)
}

func validatePriorityLevelConfigurationUpdate(pl, _ *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	return validatePriorityLevelConfiguration(pl)
}

func validatePriorityLevelConfigurationStatusUpdate(pl, _ *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	return validatePriorityLevelStatus(&pl.Status)
}

// validateMandatoryPriorityLevel pins the spec of the built-in levels; only
// the exempt level's spec.exempt may be tuned.
func validateMandatoryPriorityLevel(pl *flowcontrolv1.PriorityLevelConfiguration) field.ErrorList {
	_, mandPL := mandatoryAPFObjects()
	mand, ok := mandPL[pl.Name]
	if !ok {
		return nil
	}
	if pl.Name == flowcontrolv1.PriorityLevelConfigurationNameExempt {
		have := pl.Spec.DeepCopy()
		have.Exempt = mand.Spec.Exempt
		if !apiequality.Semantic.DeepEqual(&mand.Spec, have) {
			return field.ErrorList{field.Invalid(specPath, pl.Spec, fmt.Sprintf("spec of '%s' except the 'spec.exempt' field must equal the fixed value", pl.Name))}
		}
		return nil
	}
	if !apiequality.Semantic.DeepEqual(pl.Spec, mand.Spec) {
		return field.ErrorList{field.Invalid(specPath, pl.Spec, fmt.Sprintf("spec of '%s' must equal the fixed value", pl.Name))}
	}
	return nil
}

func validatePriorityLevelSpec(spec *flowcontrolv1.PriorityLevelConfigurationSpec, name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if (name == flowcontrolv1.PriorityLevelConfigurationNameExempt) != (spec.Type == flowcontrolv1.PriorityLevelEnablementExempt) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("type"), spec.Type, "must be 'Exempt' if and only if `name` is 'exempt'"))
	}
	switch spec.Type {
	case flowcontrolv1.PriorityLevelEnablementExempt:
		if spec.Limited != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("limited"), "must be nil if the type is not Limited").MarkCoveredByDeclarative())
		}
		if e := spec.Exempt; e != nil {
			if n := e.NominalConcurrencyShares; n != nil && *n < 0 {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("exempt").Child("nominalConcurrencyShares"), *n, "must be a non-negative integer"))
			}
			allErrs = append(allErrs, validateLendablePercent(e.LendablePercent, fldPath.Child("exempt"))...)
		}
	case flowcontrolv1.PriorityLevelEnablementLimited:
		if spec.Exempt != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("exempt"), "must be nil if the type is Limited").MarkCoveredByDeclarative())
		}
		if spec.Limited == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("limited"), "must not be empty when type is Limited").MarkCoveredByDeclarative())
		} else {
			allErrs = append(allErrs, validateLimitedPriorityLevel(spec.Limited, fldPath.Child("limited"))...)
		}
	default:
		if spec.Type == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("type"), "").MarkCoveredByDeclarative())
		} else {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), spec.Type, sets.List(apfEnablements)))
		}
	}
	return allErrs
}

func validateLendablePercent(lp *int32, fldPath *field.Path) field.ErrorList {
	if lp != nil && (*lp < 0 || *lp > 100) {
		return field.ErrorList{field.Invalid(fldPath.Child("lendablePercent"), *lp, "must be between 0 and 100, inclusive")}
	}
	return nil
}

func validateLimitedPriorityLevel(l *flowcontrolv1.LimitedPriorityLevelConfiguration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if n := ptrDeref(l.NominalConcurrencyShares, 0); n < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("nominalConcurrencyShares"), n, "must be a non-negative integer"))
	}
	allErrs = append(allErrs, validateLimitResponse(l.LimitResponse, fldPath.Child("limitResponse"))...)
	allErrs = append(allErrs, validateLendablePercent(l.LendablePercent, fldPath)...)
	if b := l.BorrowingLimitPercent; b != nil && *b < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("borrowingLimitPercent"), *b, "if specified, must be a non-negative integer"))
	}
	return allErrs
}

func validateLimitResponse(lr flowcontrolv1.LimitResponse, fldPath *field.Path) field.ErrorList {
	switch lr.Type {
	case flowcontrolv1.LimitResponseTypeReject:
		if lr.Queuing != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("queuing"), "must be nil if limited.limitResponse.type is not Limited").MarkCoveredByDeclarative()}
		}
	case flowcontrolv1.LimitResponseTypeQueue:
		if lr.Queuing == nil {
			return field.ErrorList{field.Required(fldPath.Child("queuing"), "must not be empty if limited.limitResponse.type is Limited").MarkCoveredByDeclarative()}
		}
		return validateQueuingConfiguration(lr.Queuing, fldPath.Child("queuing"))
	default:
		if lr.Type == "" {
			return field.ErrorList{field.Required(fldPath.Child("type"), "").MarkCoveredByDeclarative()}
		}
		return field.ErrorList{field.NotSupported(fldPath.Child("type"), lr.Type, sets.List(apfLimitResponseTypes))}
	}
	return nil
}

func validateQueuingConfiguration(q *flowcontrolv1.QueuingConfiguration, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if q.QueueLengthLimit <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("queueLengthLimit"), q.QueueLengthLimit, "must be positive"))
	}
	if q.Queues <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("queues"), q.Queues, "must be positive"))
	} else if q.Queues > priorityLevelMaxQueues {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("queues"), q.Queues, fmt.Sprintf("must not be greater than %d", priorityLevelMaxQueues)))
	}
	hs := fldPath.Child("handSize")
	switch {
	case q.HandSize <= 0:
		allErrs = append(allErrs, field.Invalid(hs, q.HandSize, "must be positive"))
	case q.HandSize > q.Queues:
		allErrs = append(allErrs, field.Invalid(hs, q.HandSize, fmt.Sprintf("should not be greater than queues (%d)", q.Queues)))
	case shufflesharding.RequiredEntropyBits(int(q.Queues), int(q.HandSize)) > shufflesharding.MaxHashBits:
		allErrs = append(allErrs, field.Invalid(hs, q.HandSize, fmt.Sprintf("required entropy bits of deckSize %d and handSize %d should not be greater than %d", q.Queues, q.HandSize, shufflesharding.MaxHashBits)))
	}
	return allErrs
}

func validatePriorityLevelStatus(s *flowcontrolv1.PriorityLevelConfigurationStatus) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("status").Child("conditions")
	seen := sets.New[string]()
	for i, c := range s.Conditions {
		if seen.Has(string(c.Type)) {
			allErrs = append(allErrs, field.Duplicate(p.Index(i).Child("type"), c.Type))
		}
		seen.Insert(string(c.Type))
		if c.Type == "" {
			allErrs = append(allErrs, field.Required(p.Index(i).Child("type"), ""))
		}
	}
	return allErrs
}
