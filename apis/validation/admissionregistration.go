package validation

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/util/webhook"
)

// admissionregistration.k8s.io/v1 webhook configurations, ported from
// pkg/apis/admissionregistration/validation. Admission policies are not
// covered.

// acceptedAdmissionReviewVersions are the AdmissionReview versions the
// previous API server release understands.
var acceptedAdmissionReviewVersions = []string{"v1", "v1beta1"}

var (
	webhookFailurePolicies = sets.New(string(admissionregistrationv1.Ignore), string(admissionregistrationv1.Fail))
	webhookMatchPolicies   = sets.New(string(admissionregistrationv1.Exact), string(admissionregistrationv1.Equivalent))
	webhookSideEffects     = sets.New(
		string(admissionregistrationv1.SideEffectClassUnknown), string(admissionregistrationv1.SideEffectClassNone),
		string(admissionregistrationv1.SideEffectClassSome), string(admissionregistrationv1.SideEffectClassNoneOnDryRun))
	webhookNoSideEffects   = sets.New(string(admissionregistrationv1.SideEffectClassNone), string(admissionregistrationv1.SideEffectClassNoneOnDryRun))
	webhookOperations      = sets.New(string(admissionregistrationv1.OperationAll), string(admissionregistrationv1.Create), string(admissionregistrationv1.Update), string(admissionregistrationv1.Delete), string(admissionregistrationv1.Connect))
	webhookReinvocations   = sets.New(string(admissionregistrationv1.NeverReinvocationPolicy), string(admissionregistrationv1.IfNeededReinvocationPolicy))
	webhookValidRuleScopes = sets.New(string(admissionregistrationv1.ClusterScope), string(admissionregistrationv1.NamespacedScope), string(admissionregistrationv1.AllScopes))
)

// matchConditionCompiler builds the strict-cost CEL compiler once: building
// the base environment is expensive and the result is immutable.
var matchConditionCompiler = sync.OnceValue(func() plugincel.Compiler {
	return plugincel.NewCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
})

// webhookOptions relax checks to tolerate what the persisted object already
// contains.
type webhookOptions struct {
	ignoreMatchConditions                   bool
	requireNoSideEffects                    bool
	requireRecognizedAdmissionReviewVersion bool
	requireUniqueWebhookNames               bool
	allowInvalidLabelValueInSelector        bool
	// expressions already stored are compiled with the stored-expressions
	// environment so that newer CEL features stay usable after downgrade.
	preexistingMatchConditions sets.Set[string]
}

var strictWebhookOptions = webhookOptions{
	requireNoSideEffects:                    true,
	requireRecognizedAdmissionReviewVersion: true,
	requireUniqueWebhookNames:               true,
}

// webhookCommon is what validating and mutating webhooks share.
type webhookCommon struct {
	name                    string
	clientConfig            *admissionregistrationv1.WebhookClientConfig
	rules                   []admissionregistrationv1.RuleWithOperations
	failurePolicy           *admissionregistrationv1.FailurePolicyType
	matchPolicy             *admissionregistrationv1.MatchPolicyType
	namespaceSelector       *metav1.LabelSelector
	objectSelector          *metav1.LabelSelector
	sideEffects             *admissionregistrationv1.SideEffectClass
	timeoutSeconds          *int32
	admissionReviewVersions []string
	matchConditions         []admissionregistrationv1.MatchCondition
	reinvocationPolicy      *admissionregistrationv1.ReinvocationPolicyType
}

func validatingWebhooks(hooks []admissionregistrationv1.ValidatingWebhook) []webhookCommon {
	out := make([]webhookCommon, len(hooks))
	for i := range hooks {
		h := &hooks[i]
		out[i] = webhookCommon{h.Name, &h.ClientConfig, h.Rules, h.FailurePolicy, h.MatchPolicy, h.NamespaceSelector,
			h.ObjectSelector, h.SideEffects, h.TimeoutSeconds, h.AdmissionReviewVersions, h.MatchConditions, nil}
	}
	return out
}

func mutatingWebhooks(hooks []admissionregistrationv1.MutatingWebhook) []webhookCommon {
	out := make([]webhookCommon, len(hooks))
	for i := range hooks {
		h := &hooks[i]
		out[i] = webhookCommon{h.Name, &h.ClientConfig, h.Rules, h.FailurePolicy, h.MatchPolicy, h.NamespaceSelector,
			h.ObjectSelector, h.SideEffects, h.TimeoutSeconds, h.AdmissionReviewVersions, h.MatchConditions, h.ReinvocationPolicy}
	}
	return out
}

func validateWebhookConfiguration(m *metav1.ObjectMeta, hooks []webhookCommon, mutating bool, opts webhookOptions) field.ErrorList {
	allErrs := validateObjectMeta(m, false, nameIsDNSSubdomain, metadataPath)
	names := sets.New[string]()
	for i := range hooks {
		p := field.NewPath("webhooks").Index(i)
		allErrs = append(allErrs, validateWebhook(&hooks[i], mutating, opts, p)...)
		allErrs = append(allErrs, validateAdmissionReviewVersions(hooks[i].admissionReviewVersions, opts.requireRecognizedAdmissionReviewVersion, p.Child("admissionReviewVersions"))...)
		if name := hooks[i].name; opts.requireUniqueWebhookNames && name != "" {
			if names.Has(name) {
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), name))
			} else {
				names.Insert(name)
			}
		}
	}
	return allErrs
}

func validateWebhook(hook *webhookCommon, mutating bool, opts webhookOptions, fldPath *field.Path) field.ErrorList {
	allErrs := utilvalidation.IsFullyQualifiedName(fldPath.Child("name"), hook.name)
	for i := range hook.rules {
		allErrs = append(allErrs, validateRuleWithOperations(&hook.rules[i], fldPath.Child("rules").Index(i))...)
	}
	if fp := hook.failurePolicy; fp != nil && !webhookFailurePolicies.Has(string(*fp)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("failurePolicy"), *fp, sets.List(webhookFailurePolicies)))
	}
	if mp := hook.matchPolicy; mp != nil && !webhookMatchPolicies.Has(string(*mp)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("matchPolicy"), *mp, sets.List(webhookMatchPolicies)))
	}
	allowedSideEffects := webhookSideEffects
	if opts.requireNoSideEffects {
		allowedSideEffects = webhookNoSideEffects
	}
	if hook.sideEffects == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("sideEffects"), fmt.Sprintf("must specify one of %v", strings.Join(sets.List(allowedSideEffects), ", "))))
	} else if !allowedSideEffects.Has(string(*hook.sideEffects)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("sideEffects"), *hook.sideEffects, sets.List(allowedSideEffects)))
	}
	if t := hook.timeoutSeconds; t != nil && (*t > 30 || *t < 1) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("timeoutSeconds"), *t, "the timeout value must be between 1 and 30 seconds"))
	}
	selOpts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	if hook.namespaceSelector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(hook.namespaceSelector, selOpts, fldPath.Child("namespaceSelector"))...)
	}
	if hook.objectSelector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(hook.objectSelector, selOpts, fldPath.Child("objectSelector"))...)
	}
	if rp := hook.reinvocationPolicy; mutating && rp != nil && !webhookReinvocations.Has(string(*rp)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("reinvocationPolicy"), *rp, sets.List(webhookReinvocations)))
	}
	cc := hook.clientConfig
	ccPath := fldPath.Child("clientConfig")
	switch {
	case (cc.URL == nil) == (cc.Service == nil):
		allErrs = append(allErrs, field.Required(ccPath, "exactly one of url or service is required"))
	case cc.URL != nil:
		allErrs = append(allErrs, webhook.ValidateWebhookURL(ccPath.Child("url"), *cc.URL, true)...)
	default:
		// Upstream passes name and namespace in this (swapped) order; only the
		// order of the two Required errors depends on it.
		allErrs = append(allErrs, webhook.ValidateWebhookService(ccPath.Child("service"), cc.Service.Name, cc.Service.Namespace, cc.Service.Path, ptrDeref(cc.Service.Port, 443))...)
	}
	if !opts.ignoreMatchConditions {
		allErrs = append(allErrs, validateMatchConditions(hook.matchConditions, false, opts.preexistingMatchConditions, fldPath.Child("matchConditions"))...)
	}
	return allErrs
}

func validateAdmissionReviewVersions(versions []string, requireRecognized bool, fldPath *field.Path) field.ErrorList {
	if len(versions) == 0 {
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("must specify one of %v", strings.Join(acceptedAdmissionReviewVersions, ", ")))}
	}
	var allErrs field.ErrorList
	seen := map[string]bool{}
	hasAccepted := false
	for i, v := range versions {
		if seen[v] {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), v, "duplicate version"))
			continue
		}
		seen[v] = true
		for _, msg := range utilvalidation.IsDNS1035Label(v) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), v, msg))
		}
		hasAccepted = hasAccepted || slicesContains(acceptedAdmissionReviewVersions, v)
	}
	if requireRecognized && !hasAccepted {
		allErrs = append(allErrs, field.Invalid(fldPath, versions, fmt.Sprintf("must include at least one of %v", strings.Join(acceptedAdmissionReviewVersions, ", "))))
	}
	return allErrs
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func validateRuleWithOperations(r *admissionregistrationv1.RuleWithOperations, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	opsPath := fldPath.Child("operations")
	if len(r.Operations) == 0 {
		allErrs = append(allErrs, field.Required(opsPath, ""))
	}
	hasWildcardOp := false
	for _, o := range r.Operations {
		hasWildcardOp = hasWildcardOp || o == admissionregistrationv1.OperationAll
	}
	if len(r.Operations) > 1 && hasWildcardOp {
		allErrs = append(allErrs, field.Invalid(opsPath, r.Operations, "if '*' is present, must not specify other operations"))
	}
	for i, o := range r.Operations {
		if !webhookOperations.Has(string(o)) {
			allErrs = append(allErrs, field.NotSupported(opsPath.Index(i), o, sets.List(webhookOperations)))
		}
	}
	return append(allErrs, validateAdmissionRule(&r.Rule, fldPath)...)
}

func validateAdmissionRule(rule *admissionregistrationv1.Rule, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(rule.APIGroups) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("apiGroups"), ""))
	}
	if len(rule.APIGroups) > 1 && slicesContains(rule.APIGroups, "*") {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("apiGroups"), rule.APIGroups, "if '*' is present, must not specify other API groups"))
	}
	if len(rule.APIVersions) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("apiVersions"), ""))
	}
	if len(rule.APIVersions) > 1 && slicesContains(rule.APIVersions, "*") {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("apiVersions"), rule.APIVersions, "if '*' is present, must not specify other API versions"))
	}
	for i, v := range rule.APIVersions {
		if v == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("apiVersions").Index(i), ""))
		}
	}
	allErrs = append(allErrs, validateRuleResources(rule.Resources, fldPath.Child("resources"))...)
	if rule.Scope != nil && !webhookValidRuleScopes.Has(string(*rule.Scope)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("scope"), *rule.Scope, sets.List(webhookValidRuleScopes)))
	}
	return allErrs
}

// validateRuleResources checks resource/subresource patterns for overlapping
// wildcards.
func validateRuleResources(resources []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(resources) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	}
	resWithWildcardSub := sets.New[string]() // x/*
	subWithWildcardRes := sets.New[string]() // */x
	hasDoubleWildcard, hasSingleWildcard, hasPlainResource := false, false, false
	for i, resSub := range resources {
		if resSub == "" {
			allErrs = append(allErrs, field.Required(fldPath.Index(i), ""))
			continue
		}
		hasDoubleWildcard = hasDoubleWildcard || resSub == "*/*"
		hasSingleWildcard = hasSingleWildcard || resSub == "*"
		res, sub, found := strings.Cut(resSub, "/")
		if !found {
			// Upstream overwrites rather than accumulates here; keep that.
			hasPlainResource = resSub != "*"
			continue
		}
		if resWithWildcardSub.Has(res) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), resSub, fmt.Sprintf("if '%s/*' is present, must not specify %s", res, resSub)))
		}
		if subWithWildcardRes.Has(sub) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), resSub, fmt.Sprintf("if '*/%s' is present, must not specify %s", sub, resSub)))
		}
		if sub == "*" {
			resWithWildcardSub.Insert(res)
		}
		if res == "*" {
			subWithWildcardRes.Insert(sub)
		}
	}
	if len(resources) > 1 && hasDoubleWildcard {
		allErrs = append(allErrs, field.Invalid(fldPath, resources, "if '*/*' is present, must not specify other resources"))
	}
	if hasSingleWildcard && hasPlainResource {
		allErrs = append(allErrs, field.Invalid(fldPath, resources, "if '*' is present, must not specify other resources without subresources"))
	}
	return allErrs
}

// webhookUpdateOptions tolerates on update whatever the stored webhooks
// already got away with.
func webhookUpdateOptions(hooks, oldHooks []webhookCommon) webhookOptions {
	opts := webhookOptions{
		ignoreMatchConditions:                   len(hooks) == len(oldHooks),
		requireNoSideEffects:                    true,
		requireRecognizedAdmissionReviewVersion: true,
		requireUniqueWebhookNames:               true,
		preexistingMatchConditions:              sets.New[string](),
	}
	names := sets.New[string]()
	strictSel := metavalidation.LabelSelectorValidationOptions{}
	for i, h := range oldHooks {
		if opts.ignoreMatchConditions && !reflect.DeepEqual(hooks[i].matchConditions, h.matchConditions) {
			opts.ignoreMatchConditions = false
		}
		if h.sideEffects == nil || !webhookNoSideEffects.Has(string(*h.sideEffects)) {
			opts.requireNoSideEffects = false
		}
		if len(h.admissionReviewVersions) > 0 && !hasAnyOf(h.admissionReviewVersions, acceptedAdmissionReviewVersions) {
			opts.requireRecognizedAdmissionReviewVersion = false
		}
		if names.Has(h.name) {
			opts.requireUniqueWebhookNames = false
		}
		names.Insert(h.name)
		for _, sel := range []*metav1.LabelSelector{h.namespaceSelector, h.objectSelector} {
			if sel != nil && len(metavalidation.ValidateLabelSelector(sel, strictSel, nil)) > 0 {
				opts.allowInvalidLabelValueInSelector = true
			}
		}
		for _, mc := range h.matchConditions {
			opts.preexistingMatchConditions.Insert(mc.Expression)
		}
	}
	return opts
}

func hasAnyOf(values, wanted []string) bool {
	for _, v := range values {
		if slicesContains(wanted, v) {
			return true
		}
	}
	return false
}

func validateValidatingWebhookConfiguration(c *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	allErrs := validateWebhookConfiguration(&c.ObjectMeta, validatingWebhooks(c.Webhooks), false, strictWebhookOptions)
	return append(allErrs, validateStaticSuffix(c.Name)...)
}

// Upstream's update validation does not run ObjectMeta update rules for
// webhook configurations; the generic registry checks cover them.
func validateValidatingWebhookConfigurationUpdate(c, old *admissionregistrationv1.ValidatingWebhookConfiguration) field.ErrorList {
	hooks := validatingWebhooks(c.Webhooks)
	return validateWebhookConfiguration(&c.ObjectMeta, hooks, false, webhookUpdateOptions(hooks, validatingWebhooks(old.Webhooks)))
}

func validateMutatingWebhookConfiguration(c *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	allErrs := validateWebhookConfiguration(&c.ObjectMeta, mutatingWebhooks(c.Webhooks), true, strictWebhookOptions)
	return append(allErrs, validateStaticSuffix(c.Name)...)
}

func validateMutatingWebhookConfigurationUpdate(c, old *admissionregistrationv1.MutatingWebhookConfiguration) field.ErrorList {
	hooks := mutatingWebhooks(c.Webhooks)
	return validateWebhookConfiguration(&c.ObjectMeta, hooks, true, webhookUpdateOptions(hooks, mutatingWebhooks(old.Webhooks)))
}
