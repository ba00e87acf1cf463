package validation

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/client-go/util/jsonpath"
)

// admissionregistration.k8s.io/v1 admission policies and their bindings,
// ported from pkg/apis/admissionregistration/validation. Authorizing the
// requester to read spec.paramKind is left to the registry strategy, as
// upstream does it there.

// staticConfigSuffix marks admission configurations loaded from manifests at
// start-up (ManifestBasedAdmissionControlConfig, beta and on in 1.37); the API
// may not create objects that claim it.
const staticConfigSuffix = ".static.k8s.io"

const (
	maxAuditAnnotations                     = 20
	maxAuditAnnotationValueExpressionLength = 5 * 1024
)

var (
	policyReasons            = sets.New(string(metav1.StatusReasonForbidden), string(metav1.StatusReasonInvalid), string(metav1.StatusReasonRequestEntityTooLarge))
	policyPatchTypes         = sets.New(string(admissionregistrationv1.PatchTypeApplyConfiguration), string(admissionregistrationv1.PatchTypeJSONPatch))
	policyMutatingOperations = sets.New(string(admissionregistrationv1.OperationAll), string(admissionregistrationv1.Create), string(admissionregistrationv1.Update), string(admissionregistrationv1.Connect))
	policyValidationActions  = sets.New(string(admissionregistrationv1.Deny), string(admissionregistrationv1.Warn), string(admissionregistrationv1.Audit))

	celIdentRegex = regexp.MustCompile("^[_a-zA-Z][_a-zA-Z0-9]*$")
	celReserved   = sets.New("true", "false", "null", "in", "as", "break", "const", "continue", "else",
		"for", "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void", "while")
	newlineMatcher = regexp.MustCompile(`[\n\r]+`)
)

func validateStaticSuffix(name string) field.ErrorList {
	if strings.HasSuffix(name, staticConfigSuffix) {
		return field.ErrorList{field.Invalid(metadataPath.Child("name"), name,
			fmt.Sprintf("names ending with %q are reserved for static manifest-based configurations and cannot be managed via the API", staticConfigSuffix))}
	}
	return nil
}

// policyExpressions are the CEL expressions an object already stores; they
// compile in the stored-expressions environment.
type policyExpressions struct {
	matchConditions, validations, messages, auditValues, applyConfigurations, jsonPatches sets.Set[string]
}

func newPolicyExpressions() policyExpressions {
	return policyExpressions{sets.New[string](), sets.New[string](), sets.New[string](), sets.New[string](), sets.New[string](), sets.New[string]()}
}

type policyOptions struct {
	ignoreMatchConditions bool
	preexisting           policyExpressions
}

func envTypeFor(stored sets.Set[string], expression string) environment.Type {
	if stored.Has(expression) {
		return environment.StoredExpressions
	}
	return environment.NewExpressions
}

// newCompositionCompiler returns a compiler that remembers variables; it is
// stateful, so each policy gets its own.
func newCompositionCompiler() (plugincel.Compiler, error) {
	return plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
}

// celFieldError converts a CEL compilation error the way upstream does.
func celFieldError(fldPath *field.Path, expression string, err error) *field.Error {
	var celErr *apiservercel.Error
	if errors.As(err, &celErr) {
		switch celErr.Type {
		case apiservercel.ErrorTypeRequired:
			return field.Required(fldPath, celErr.Detail)
		case apiservercel.ErrorTypeInvalid:
			return field.Invalid(fldPath, expression, celErr.Detail)
		case apiservercel.ErrorTypeInternal:
			return field.InternalError(fldPath, celErr)
		}
	}
	return field.InternalError(fldPath, fmt.Errorf("unsupported error type: %w", err))
}

func compileCondition(compiler plugincel.Compiler, accessor plugincel.ExpressionAccessor, vars plugincel.OptionalVariableDeclarations, envType environment.Type, fldPath *field.Path) field.ErrorList {
	if result := compiler.CompileCELExpression(accessor, vars, envType); result.Error != nil {
		return field.ErrorList{celFieldError(fldPath, accessor.GetExpression(), result.Error)}
	}
	return nil
}

// validateMatchConditions checks webhook or policy match conditions; they
// may refer to params only in a policy with a paramKind. Expressions in
// stored are compiled in the stored-expressions environment.
func validateMatchConditions(conds []admissionregistrationv1.MatchCondition, hasParams bool, stored sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(conds) > 64 {
		allErrs = append(allErrs, field.TooMany(fldPath, len(conds), 64))
	}
	names := sets.New[string]()
	for i, c := range conds {
		p := fldPath.Index(i)
		if expr := strings.TrimSpace(c.Expression); expr == "" {
			allErrs = append(allErrs, field.Required(p.Child("expression"), ""))
		} else {
			allErrs = append(allErrs, compileCondition(matchConditionCompiler(), &matchconditions.MatchCondition{Expression: expr},
				plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true},
				envTypeFor(stored, expr), p.Child("expression"))...)
		}
		if c.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
			continue
		}
		allErrs = append(allErrs, validateQualifiedName(c.Name, p.Child("name"))...)
		if names.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
	}
	return allErrs
}

func validateParamKind(pk *admissionregistrationv1.ParamKind, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	avPath := fldPath.Child("apiVersion")
	if pk.APIVersion == "" {
		allErrs = append(allErrs, field.Required(avPath, ""))
	} else if group, version, err := parsePolicyGroupVersion(pk.APIVersion); err != nil {
		allErrs = append(allErrs, field.Invalid(avPath, pk.APIVersion, err.Error()))
	} else {
		if group != "" {
			if errs := utilvalidation.IsDNS1123Subdomain(group); len(errs) > 0 {
				allErrs = append(allErrs, field.Invalid(avPath, group, strings.Join(errs, ",")))
			}
		}
		if version == "" {
			allErrs = append(allErrs, field.Invalid(avPath, pk.APIVersion, "version must be specified"))
		} else if errs := utilvalidation.IsDNS1035Label(version); len(errs) > 0 {
			allErrs = append(allErrs, field.Invalid(avPath, version, strings.Join(errs, ",")))
		}
	}
	if pk.Kind == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), ""))
	} else if errs := utilvalidation.IsDNS1035Label(strings.ToLower(pk.Kind)); len(errs) > 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("kind"), pk.Kind, "may have mixed case, but should otherwise match: "+strings.Join(errs, ",")))
	}
	return allErrs
}

func parsePolicyGroupVersion(gv string) (group, version string, err error) {
	if gv == "" || gv == "/" {
		return "", "", nil
	}
	switch strings.Count(gv, "/") {
	case 0:
		return "", gv, nil
	case 1:
		group, version, _ = strings.Cut(gv, "/")
		return group, version, nil
	default:
		return "", "", fmt.Errorf("unexpected GroupVersion string: %v", gv)
	}
}

// validateMatchResources: policies came after selector validation was made
// strict, so selectors are always validated strictly.
func validateMatchResources(mc *admissionregistrationv1.MatchResources, fldPath *field.Path) field.ErrorList {
	if mc == nil {
		return nil
	}
	var allErrs field.ErrorList
	if mc.MatchPolicy == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("matchPolicy"), ""))
	} else if !webhookMatchPolicies.Has(string(*mc.MatchPolicy)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("matchPolicy"), *mc.MatchPolicy, sets.List(webhookMatchPolicies)))
	}
	for _, sel := range []struct {
		s    *metav1.LabelSelector
		name string
	}{{mc.NamespaceSelector, "namespaceSelector"}, {mc.ObjectSelector, "objectSelector"}} {
		if sel.s == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child(sel.name), ""))
		} else {
			allErrs = append(allErrs, metavalidation.ValidateLabelSelector(sel.s, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child(sel.name))...)
		}
	}
	for i := range mc.ResourceRules {
		allErrs = append(allErrs, validateNamedRuleWithOperations(&mc.ResourceRules[i], fldPath.Child("resourceRules").Index(i))...)
	}
	for i := range mc.ExcludeResourceRules {
		allErrs = append(allErrs, validateNamedRuleWithOperations(&mc.ExcludeResourceRules[i], fldPath.Child("excludeResourceRules").Index(i))...)
	}
	return allErrs
}

func validateNamedRuleWithOperations(n *admissionregistrationv1.NamedRuleWithOperations, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, name := range n.ResourceNames {
		for _, msg := range content.IsPathSegmentName(name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("resourceNames").Index(i), name, msg))
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Child("resourceNames").Index(i), name))
		} else {
			names.Insert(name)
		}
	}
	return append(allErrs, validateRuleWithOperations(&n.RuleWithOperations, fldPath)...)
}

func validatePolicyVariable(compiler plugincel.Compiler, v *admissionregistrationv1.Variable, hasParams bool, opts policyOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if strings.TrimSpace(v.Name) == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "name is not specified"))
	} else if !celIdentRegex.MatchString(v.Name) || celReserved.Has(v.Name) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), v.Name, "must be a valid CEL identifier"))
	}
	if strings.TrimSpace(v.Expression) == "" {
		return append(allErrs, field.Required(fldPath.Child("expression"), "expression is not specified"))
	}
	composited, ok := compiler.(*plugincel.CompositedCompiler)
	if !ok {
		return append(allErrs, field.InternalError(fldPath, fmt.Errorf("variable composition is not allowed")))
	}
	variable := &validating.Variable{Name: v.Name, Expression: v.Expression}
	// Upstream checks variables against the stored validation expressions.
	result := composited.CompileAndStoreVariable(variable, plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true},
		envTypeFor(opts.preexisting.validations, v.Expression))
	if result.Error != nil {
		allErrs = append(allErrs, celFieldError(fldPath.Child("expression"), v.Expression, result.Error))
	}
	return allErrs
}

func validatePolicyValidation(compiler plugincel.Compiler, v *admissionregistrationv1.Validation, hasParams bool, opts policyOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if strings.TrimSpace(v.Expression) == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("expression"), "expression is not specified"))
	} else {
		allErrs = append(allErrs, compileCondition(compiler, &validating.ValidationCondition{Expression: v.Expression},
			plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true},
			envTypeFor(opts.preexisting.validations, v.Expression), fldPath.Child("expression"))...)
	}
	trimmedMsgExpr := strings.TrimSpace(v.MessageExpression)
	if v.MessageExpression != "" && trimmedMsgExpr == "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("messageExpression"), v.MessageExpression, "must be non-empty if specified"))
	} else if trimmedMsgExpr != "" {
		// Upstream declares params for message expressions only when match
		// conditions may use them, i.e. when the policy has a paramKind.
		allErrs = append(allErrs, compileCondition(compiler, &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression},
			plugincel.OptionalVariableDeclarations{HasParams: hasParams},
			envTypeFor(opts.preexisting.messages, v.MessageExpression), fldPath.Child("messageExpression"))...)
	}
	trimmedMsg := strings.TrimSpace(v.Message)
	if v.Message != "" && trimmedMsg == "" {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("message"), v.Message, "must be non-empty if specified"))
	} else if newlineMatcher.MatchString(trimmedMsg) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("message"), v.Message, "must not contain line breaks"))
	}
	if v.Reason != nil && !policyReasons.Has(string(*v.Reason)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("reason"), *v.Reason, sets.List(policyReasons)))
	}
	return allErrs
}

func validateAuditAnnotation(compiler plugincel.Compiler, policyName string, a *admissionregistrationv1.AuditAnnotation, hasParams bool, opts policyOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if policyName != "" {
		allErrs = append(allErrs, validateQualifiedName(policyName+"/"+a.Key, fldPath.Child("key"))...)
	} else {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("key"), a.Key, "requires metadata.name be non-empty"))
	}
	vePath := fldPath.Child("valueExpression")
	trimmed := strings.TrimSpace(a.ValueExpression)
	switch {
	case trimmed == "":
		allErrs = append(allErrs, field.Required(vePath, "valueExpression is not specified"))
	case len(trimmed) > maxAuditAnnotationValueExpressionLength:
		allErrs = append(allErrs, field.Required(vePath, fmt.Sprintf("must not exceed %d bytes in length", maxAuditAnnotationValueExpressionLength)))
	default:
		result := compiler.CompileCELExpression(&validating.AuditAnnotationCondition{ValueExpression: trimmed},
			plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}, envTypeFor(opts.preexisting.auditValues, a.ValueExpression))
		if result.Error != nil {
			switch result.Error.Type {
			case apiservercel.ErrorTypeRequired:
				allErrs = append(allErrs, field.Required(vePath, result.Error.Detail))
			case apiservercel.ErrorTypeInvalid:
				allErrs = append(allErrs, field.Invalid(vePath, a.ValueExpression, result.Error.Detail))
			default:
				allErrs = append(allErrs, field.InternalError(vePath, result.Error))
			}
		}
	}
	return allErrs
}

// policyCommon is what validating and mutating policies share.
type policyCommon struct {
	failurePolicy    *admissionregistrationv1.FailurePolicyType
	paramKind        *admissionregistrationv1.ParamKind
	matchConstraints *admissionregistrationv1.MatchResources
	matchConditions  []admissionregistrationv1.MatchCondition
}

func validatePolicyCommon(c policyCommon, mutating bool, opts policyOptions, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.failurePolicy == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("failurePolicy"), ""))
	} else if !webhookFailurePolicies.Has(string(*c.failurePolicy)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("failurePolicy"), *c.failurePolicy, sets.List(webhookFailurePolicies)))
	}
	if c.paramKind != nil {
		allErrs = append(allErrs, validateParamKind(c.paramKind, fldPath.Child("paramKind"))...)
	}
	if c.matchConstraints == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("matchConstraints"), ""))
	} else {
		allErrs = append(allErrs, validateMatchResources(c.matchConstraints, fldPath.Child("matchConstraints"))...)
		// A resource rule is what gives the expressions their type information.
		if len(c.matchConstraints.ResourceRules) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("matchConstraints", "resourceRules"), ""))
		}
		if mutating {
			allErrs = append(allErrs, validateMutatingOperations(c.matchConstraints, fldPath.Child("matchConstraints", "resourceRules", "operations"))...)
		}
	}
	if !opts.ignoreMatchConditions {
		allErrs = append(allErrs, validateMatchConditions(c.matchConditions, c.paramKind != nil, opts.preexisting.matchConditions, fldPath.Child("matchConditions"))...)
	}
	return allErrs
}

// validateMutatingOperations: only create, update and connect requests can be
// mutated.
func validateMutatingOperations(mr *admissionregistrationv1.MatchResources, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, rule := range mr.ResourceRules {
		for _, op := range rule.Operations {
			if !policyMutatingOperations.Has(string(op)) {
				allErrs = append(allErrs, field.NotSupported(fldPath, op, sets.List(policyMutatingOperations)))
			}
		}
	}
	return allErrs
}

func validateValidatingAdmissionPolicyWithOpts(p *admissionregistrationv1.ValidatingAdmissionPolicy, opts policyOptions) field.ErrorList {
	allErrs := validateObjectMeta(&p.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	spec := &p.Spec
	fldPath := specPath
	allErrs = append(allErrs, validatePolicyCommon(policyCommon{spec.FailurePolicy, spec.ParamKind, spec.MatchConstraints, spec.MatchConditions}, false, opts, fldPath)...)
	hasParams := spec.ParamKind != nil
	// Variables need a compiler that remembers them; otherwise the shared
	// stateless one does.
	var compiler plugincel.Compiler = matchConditionCompiler()
	if len(spec.Variables) > 0 {
		c, err := newCompositionCompiler()
		if err != nil {
			return append(allErrs, field.InternalError(fldPath.Child("variables"), err))
		}
		compiler = c
	}
	for i := range spec.Variables {
		allErrs = append(allErrs, validatePolicyVariable(compiler, &spec.Variables[i], hasParams, opts, fldPath.Child("variables").Index(i))...)
	}
	if len(spec.Validations) == 0 && len(spec.AuditAnnotations) == 0 {
		const msg = "validations or auditAnnotations must contain at least one item"
		return append(allErrs, field.Required(fldPath.Child("validations"), msg), field.Required(fldPath.Child("auditAnnotations"), msg))
	}
	for i := range spec.Validations {
		allErrs = append(allErrs, validatePolicyValidation(compiler, &spec.Validations[i], hasParams, opts, fldPath.Child("validations").Index(i))...)
	}
	if len(spec.AuditAnnotations) > maxAuditAnnotations {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("auditAnnotations"), spec.AuditAnnotations, fmt.Sprintf("must not have more than %d auditAnnotations", maxAuditAnnotations)))
	}
	keys := sets.New[string]()
	for i := range spec.AuditAnnotations {
		a := &spec.AuditAnnotations[i]
		ap := fldPath.Child("auditAnnotations").Index(i)
		allErrs = append(allErrs, validateAuditAnnotation(compiler, p.Name, a, hasParams, opts, ap)...)
		if keys.Has(a.Key) {
			allErrs = append(allErrs, field.Duplicate(ap.Child("key"), a.Key))
		}
		keys.Insert(a.Key)
	}
	return allErrs
}

func validateValidatingAdmissionPolicy(p *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	allErrs := validateValidatingAdmissionPolicyWithOpts(p, policyOptions{preexisting: newPolicyExpressions()})
	return append(allErrs, validateStaticSuffix(p.Name)...)
}

// Upstream's update rules do not include ObjectMeta update checks; the
// generic registry checks cover them.
func validateValidatingAdmissionPolicyUpdate(p, old *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	pre := newPolicyExpressions()
	for _, mc := range old.Spec.MatchConditions {
		pre.matchConditions.Insert(mc.Expression)
	}
	for _, v := range old.Spec.Validations {
		pre.validations.Insert(v.Expression)
		if v.MessageExpression != "" {
			pre.messages.Insert(v.MessageExpression)
		}
	}
	for _, a := range old.Spec.AuditAnnotations {
		pre.auditValues.Insert(a.ValueExpression)
	}
	ignore := apiequality.Semantic.DeepEqual(p.Spec.ParamKind, old.Spec.ParamKind) && apiequality.Semantic.DeepEqual(p.Spec.MatchConditions, old.Spec.MatchConditions)
	return validateValidatingAdmissionPolicyWithOpts(p, policyOptions{ignoreMatchConditions: ignore, preexisting: pre})
}

func validateValidatingAdmissionPolicyStatusUpdate(p, _ *admissionregistrationv1.ValidatingAdmissionPolicy) field.ErrorList {
	fldPath := field.NewPath("status")
	var allErrs field.ErrorList
	if tc := p.Status.TypeChecking; tc != nil {
		wp := fldPath.Child("typeChecking").Child("expressionWarnings")
		for i, w := range tc.ExpressionWarnings {
			if w.Warning == "" {
				allErrs = append(allErrs, field.Required(wp.Index(i).Child("warning"), ""))
			}
			allErrs = append(allErrs, validatePolicyFieldRef(w.FieldRef, wp.Index(i).Child("fieldRef"))...)
		}
	}
	return append(allErrs, metavalidation.ValidateConditions(p.Status.Conditions, fldPath.Child("conditions"))...)
}

// validatePolicyFieldRef only checks that the reference parses as JSONPath,
// for easy upgrade and rollback.
func validatePolicyFieldRef(fieldRef string, fldPath *field.Path) field.ErrorList {
	fieldRef = strings.TrimSpace(fieldRef)
	if fieldRef == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if err := jsonpath.New("spec").Parse(fmt.Sprintf("{%s}", fieldRef)); err != nil {
		return field.ErrorList{field.Invalid(fldPath, fieldRef, fmt.Sprintf("invalid JSONPath: %v", err))}
	}
	return nil
}

func validateParamRef(pr *admissionregistrationv1.ParamRef, fldPath *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var allErrs field.ErrorList
	const exclusive = `name and selector are mutually exclusive`
	if pr.Name != "" {
		for _, msg := range content.IsPathSegmentName(pr.Name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), pr.Name, msg))
		}
		if pr.Selector != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("name"), exclusive))
		}
	}
	if pr.Selector != nil {
		allErrs = append(allErrs, metavalidation.ValidateLabelSelector(pr.Selector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
		if pr.Name != "" {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("selector"), exclusive))
		}
	}
	if pr.Name == "" && pr.Selector == nil {
		allErrs = append(allErrs, field.Required(fldPath, `one of name or selector must be specified`))
	}
	switch a := pr.ParameterNotFoundAction; {
	case a == nil || *a == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("parameterNotFoundAction"), ""))
	case *a != admissionregistrationv1.DenyAction && *a != admissionregistrationv1.AllowAction:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("parameterNotFoundAction"), a, []string{string(admissionregistrationv1.DenyAction), string(admissionregistrationv1.AllowAction)}))
	}
	return allErrs
}

func validateValidationActions(actions []admissionregistrationv1.ValidationAction, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := sets.New[string]()
	for i, a := range actions {
		if !policyValidationActions.Has(string(a)) {
			allErrs = append(allErrs, field.NotSupported(fldPath.Index(i), a, sets.List(policyValidationActions)))
		}
		if seen.Has(string(a)) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), a))
		}
		seen.Insert(string(a))
	}
	if seen.Has(string(admissionregistrationv1.Deny)) && seen.Has(string(admissionregistrationv1.Warn)) {
		allErrs = append(allErrs, field.Invalid(fldPath, actions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	if seen.Len() == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "at least one validation action is required").MarkCoveredByDeclarative())
	}
	return allErrs
}

func validatePolicyName(name string, covered bool, fldPath *field.Path) field.ErrorList {
	if name == "" {
		err := field.Required(fldPath, "")
		if covered {
			err = err.MarkCoveredByDeclarative()
		}
		return field.ErrorList{err}
	}
	return validateName(nameIsDNSSubdomain, name, fldPath)
}

func validateValidatingAdmissionPolicyBindingSpec(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	allErrs := validateObjectMeta(&b.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	p := specPath
	allErrs = append(allErrs, validatePolicyName(b.Spec.PolicyName, true, p.Child("policyName"))...)
	allErrs = append(allErrs, validateParamRef(b.Spec.ParamRef, p.Child("paramRef"))...)
	allErrs = append(allErrs, validateMatchResources(b.Spec.MatchResources, p.Child("matchResources"))...)
	return append(allErrs, validateValidationActions(b.Spec.ValidationActions, p.Child("validationActions"))...)
}

func validateValidatingAdmissionPolicyBinding(b *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	return append(validateValidatingAdmissionPolicyBindingSpec(b), validateStaticSuffix(b.Name)...)
}

func validateValidatingAdmissionPolicyBindingUpdate(b, _ *admissionregistrationv1.ValidatingAdmissionPolicyBinding) field.ErrorList {
	return validateValidatingAdmissionPolicyBindingSpec(b)
}

// Mutating admission policies.

func validateMutatingAdmissionPolicyWithOpts(p *admissionregistrationv1.MutatingAdmissionPolicy, opts policyOptions) field.ErrorList {
	allErrs := validateObjectMeta(&p.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	spec := &p.Spec
	fldPath := specPath
	compiler, err := newCompositionCompiler()
	if err != nil {
		return append(allErrs, field.InternalError(fldPath, err))
	}
	allErrs = append(allErrs, validatePolicyCommon(policyCommon{spec.FailurePolicy, spec.ParamKind, spec.MatchConstraints, spec.MatchConditions}, true, opts, fldPath)...)
	hasParams := spec.ParamKind != nil
	for i := range spec.Variables {
		allErrs = append(allErrs, validatePolicyVariable(compiler, &spec.Variables[i], hasParams, opts, fldPath.Child("variables").Index(i))...)
	}
	if len(spec.Mutations) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("mutations"), "mutations must contain at least one item"))
	}
	for i := range spec.Mutations {
		allErrs = append(allErrs, validateMutation(compiler, &spec.Mutations[i], hasParams, opts, fldPath.Child("mutations").Index(i))...)
	}
	if spec.ReinvocationPolicy == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("reinvocationPolicy"), ""))
	} else if !webhookReinvocations.Has(string(spec.ReinvocationPolicy)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("reinvocationPolicy"), spec.ReinvocationPolicy, sets.List(webhookReinvocations)))
	}
	return allErrs
}

func validateMutation(compiler plugincel.Compiler, m *admissionregistrationv1.Mutation, hasParams bool, opts policyOptions, fldPath *field.Path) field.ErrorList {
	vars := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true, HasPatchTypes: true}
	compilePatch := func(expression string, stored sets.Set[string], accessor func(string) plugincel.ExpressionAccessor, p *field.Path) field.ErrorList {
		trimmed := strings.TrimSpace(expression)
		if trimmed == "" {
			return field.ErrorList{field.Required(p.Child("expression"), "")}
		}
		return compileCondition(compiler, accessor(trimmed), vars, envTypeFor(stored, expression), p.Child("expression"))
	}
	var allErrs field.ErrorList
	switch m.PatchType {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("patchType"), ""))
	case admissionregistrationv1.PatchTypeJSONPatch:
		if m.JSONPatch == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("jsonPatch"), "must be specified when patchType is JSONPatch"))
		} else {
			// Upstream looks JSON patches up among the stored apply
			// configurations; keep that.
			allErrs = append(allErrs, compilePatch(m.JSONPatch.Expression, opts.preexisting.applyConfigurations,
				func(e string) plugincel.ExpressionAccessor { return &patch.JSONPatchCondition{Expression: e} }, fldPath.Child("jsonPatch"))...)
		}
		if m.ApplyConfiguration != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("applyConfiguration"), "{applyConfiguration}", "must not be specified when patchType is JSONPatch"))
		}
	case admissionregistrationv1.PatchTypeApplyConfiguration:
		if m.ApplyConfiguration == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("applyConfiguration"), "must be specified when patchType is ApplyConfiguration"))
		} else {
			allErrs = append(allErrs, compilePatch(m.ApplyConfiguration.Expression, opts.preexisting.applyConfigurations,
				func(e string) plugincel.ExpressionAccessor { return &patch.ApplyConfigurationCondition{Expression: e} }, fldPath.Child("applyConfiguration"))...)
		}
		if m.JSONPatch != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("jsonPatch"), "{jsonPatch}", "must not be specified when patchType is ApplyConfiguration"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("patchType"), m.PatchType, sets.List(policyPatchTypes)))
	}
	return allErrs
}

func validateMutatingAdmissionPolicy(p *admissionregistrationv1.MutatingAdmissionPolicy) field.ErrorList {
	allErrs := validateMutatingAdmissionPolicyWithOpts(p, policyOptions{preexisting: newPolicyExpressions()})
	return append(allErrs, validateStaticSuffix(p.Name)...)
}

func validateMutatingAdmissionPolicyUpdate(p, old *admissionregistrationv1.MutatingAdmissionPolicy) field.ErrorList {
	pre := newPolicyExpressions()
	for _, mc := range old.Spec.MatchConditions {
		pre.matchConditions.Insert(mc.Expression)
	}
	for _, m := range old.Spec.Mutations {
		if m.ApplyConfiguration != nil {
			pre.applyConfigurations.Insert(m.ApplyConfiguration.Expression)
		}
		if m.JSONPatch != nil {
			pre.jsonPatches.Insert(m.JSONPatch.Expression)
		}
	}
	ignore := apiequality.Semantic.DeepEqual(p.Spec.ParamKind, old.Spec.ParamKind) && apiequality.Semantic.DeepEqual(p.Spec.MatchConditions, old.Spec.MatchConditions)
	return validateMutatingAdmissionPolicyWithOpts(p, policyOptions{ignoreMatchConditions: ignore, preexisting: pre})
}

func validateMutatingAdmissionPolicyBindingSpec(b *admissionregistrationv1.MutatingAdmissionPolicyBinding) field.ErrorList {
	allErrs := validateObjectMeta(&b.ObjectMeta, false, nameIsDNSSubdomain, metadataPath)
	p := specPath
	allErrs = append(allErrs, validatePolicyName(b.Spec.PolicyName, false, p.Child("policyName"))...)
	allErrs = append(allErrs, validateParamRef(b.Spec.ParamRef, p.Child("paramRef"))...)
	allErrs = append(allErrs, validateMatchResources(b.Spec.MatchResources, p.Child("matchResources"))...)
	if b.Spec.MatchResources != nil {
		allErrs = append(allErrs, validateMutatingOperations(b.Spec.MatchResources, p.Child("matchResources", "resourceRules", "operations"))...)
	}
	return allErrs
}

func validateMutatingAdmissionPolicyBinding(b *admissionregistrationv1.MutatingAdmissionPolicyBinding) field.ErrorList {
	return append(validateMutatingAdmissionPolicyBindingSpec(b), validateStaticSuffix(b.Name)...)
}

func validateMutatingAdmissionPolicyBindingUpdate(b, _ *admissionregistrationv1.MutatingAdmissionPolicyBinding) field.ErrorList {
	return validateMutatingAdmissionPolicyBindingSpec(b)
}
