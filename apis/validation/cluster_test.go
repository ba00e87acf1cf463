package validation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	"k8s.io/utils/ptr"

	fcdefaults "github.com/skiff-dev/skiff/apis/flowcontrol/v1"
)

func csrPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func validCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", ResourceVersion: "1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    csrPEM(t),
			SignerName: certificatesv1.KubeAPIServerClientSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}
}

func TestValidateCertificateSigningRequest(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*certificatesv1.CertificateSigningRequest)
		want   []string
	}{
		{"valid", func(*certificatesv1.CertificateSigningRequest) {}, nil},
		{"usages required", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.Usages = nil }, []string{
			"spec.usages: Required value",
		}},
		{"unknown and duplicate usages", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = []certificatesv1.KeyUsage{"client auth", "client auth", "bogus"}
		}, []string{
			`spec.usages[2]: Unsupported value: "bogus": supported values: "any", "cert sign", "client auth", "code signing", "content commitment", "crl sign", "data encipherment", "decipher only", "digital signature", "email protection", "encipher only", "ipsec end system", "ipsec tunnel", "ipsec user", "key agreement", "key encipherment", "microsoft sgc", "netscape sgc", "ocsp signing", "s/mime", "server auth", "signing", "timestamping"`,
			`spec.usages[1]: Duplicate value: "client auth"`,
		}},
		{"legacy signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "kubernetes.io/legacy-unknown" }, []string{
			`spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version`,
		}},
		{"signer needs a path", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = "example.com" }, []string{
			`spec.signerName: Invalid value: "example.com": must be a fully qualified domain and path of the form 'example.com/signer-name'`,
		}},
		{"short expiration", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = ptr.To[int32](300) }, []string{
			"spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 600 seconds (10 minutes)",
		}},
		{"approved condition must be True", func(c *certificatesv1.CertificateSigningRequest) {
			c.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionFalse}}
		}, []string{
			`status.conditions[0].status: Unsupported value: "False": supported values: "True"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csr := validCSR(t)
			tc.mutate(csr)
			expectErrors(t, ValidateObject(csr), tc.want...)
		})
	}

	t.Run("garbage request", func(t *testing.T) {
		csr := validCSR(t)
		csr.Spec.Request = []byte("nope")
		errs := ValidateObject(csr)
		if len(errs) != 1 || errs[0].Field != "spec.request" || errs[0].Detail != "PEM block type must be CERTIFICATE REQUEST" {
			t.Fatalf("got %q", errStrings(errs))
		}
	})
}

func TestValidateCertificateSigningRequestUpdates(t *testing.T) {
	approved := []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}

	old := validCSR(t)
	csr := old.DeepCopy()
	csr.Status.Conditions = approved
	expectErrors(t, ValidateObjectUpdate(csr, old), `status.conditions: Forbidden: updates may not add a condition of type "Approved"`)
	expectErrors(t, ValidateStatusUpdate(csr, old), `status.conditions: Forbidden: updates may not add a condition of type "Approved"`)
	expectErrors(t, ValidateCertificateSigningRequestApprovalUpdate(csr, old))

	// Approval conditions, once present, may not be removed by any path.
	expectErrors(t, ValidateCertificateSigningRequestApprovalUpdate(old, csr), `status.conditions: Forbidden: updates may not remove a condition of type "Approved"`)

	// Only the status path may set a certificate, and it must be PEM.
	withCert := csr.DeepCopy()
	withCert.Status.Certificate = []byte("not a certificate")
	expectErrors(t, ValidateObjectUpdate(withCert, csr),
		`status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block`,
		"status.certificate: Forbidden: updates may not set certificate content")
	expectErrors(t, ValidateStatusUpdate(withCert, csr),
		`status.certificate: Invalid value: "<certificate data>": must contain at least one CERTIFICATE PEM block`)

	// Approved and Denied together is reported once, by the declarative rule.
	both := csr.DeepCopy()
	both.Status.Conditions = append(both.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue})
	errs := ValidateCertificateSigningRequestApprovalUpdate(both, csr)
	if len(errs) != 1 || errs[0].Field != "status.conditions" || errs[0].Origin != "zeroOrOneOf" {
		t.Fatalf("got %q", errStrings(errs))
	}
}

func validValidatingWebhookConfiguration() *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "policy", ResourceVersion: "1"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "pods.policy.example.com",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: "policy", Name: "webhook", Port: ptr.To[int32](443)},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"},
					Scope: ptr.To(admissionregistrationv1.AllScopes),
				},
			}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			NamespaceSelector:       &metav1.LabelSelector{},
			ObjectSelector:          &metav1.LabelSelector{},
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			TimeoutSeconds:          ptr.To[int32](10),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
}

func TestValidateWebhookConfiguration(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*admissionregistrationv1.ValidatingWebhook)
		want   []string
	}{
		{"valid", func(*admissionregistrationv1.ValidatingWebhook) {}, nil},
		{"name must be fully qualified", func(h *admissionregistrationv1.ValidatingWebhook) { h.Name = "hook" }, []string{
			`webhooks[0].name: Invalid value: "hook": should be a domain with at least three segments separated by dots`,
		}},
		{"sideEffects required", func(h *admissionregistrationv1.ValidatingWebhook) { h.SideEffects = nil }, []string{
			"webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
		}},
		{"sideEffects Some not allowed on create", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome)
		}, []string{`webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", "NoneOnDryRun"`}},
		{"timeout out of range", func(h *admissionregistrationv1.ValidatingWebhook) { h.TimeoutSeconds = ptr.To[int32](31) }, []string{
			"webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
		}},
		{"url and service are exclusive", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig.URL = ptr.To("https://example.com/hook")
		}, []string{"webhooks[0].clientConfig: Required value: exactly one of url or service is required"}},
		{"url must be https", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr.To("http://example.com/hook")}
		}, []string{`webhooks[0].clientConfig.url: Invalid value: "http": 'https' is the only allowed URL scheme; desired format: https://host[/path]`}},
		{"review versions required", func(h *admissionregistrationv1.ValidatingWebhook) { h.AdmissionReviewVersions = nil }, []string{
			"webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
		}},
		{"rule wildcards", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.Rules[0].Operations = []admissionregistrationv1.OperationType{"*", "CREATE"}
			h.Rules[0].Resources = []string{"*/*", "pods"}
		}, []string{
			`webhooks[0].rules[0].operations: Invalid value: ["*","CREATE"]: if '*' is present, must not specify other operations`,
			`webhooks[0].rules[0].resources: Invalid value: ["*/*","pods"]: if '*/*' is present, must not specify other resources`,
		}},
		{"match condition must compile", func(h *admissionregistrationv1.ValidatingWebhook) {
			h.MatchConditions = []admissionregistrationv1.MatchCondition{{Name: "ok", Expression: "true"}, {Name: "ok", Expression: "1 +"}}
		}, []string{
			`webhooks[0].matchConditions[1].expression: Invalid value: "1 +": compilation failed: `,
			`webhooks[0].matchConditions[1].name: Duplicate value: "ok"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validValidatingWebhookConfiguration()
			tc.mutate(&c.Webhooks[0])
			expectErrorPrefixes(t, ValidateObject(c), tc.want...)
		})
	}

	t.Run("duplicate webhook names", func(t *testing.T) {
		c := validValidatingWebhookConfiguration()
		c.Webhooks = append(c.Webhooks, c.Webhooks[0])
		expectErrors(t, ValidateObject(c), `webhooks[1].name: Duplicate value: "pods.policy.example.com"`)
	})

	t.Run("update tolerates stored side effects", func(t *testing.T) {
		old := validValidatingWebhookConfiguration()
		old.Webhooks[0].SideEffects = ptr.To(admissionregistrationv1.SideEffectClassSome)
		c := old.DeepCopy()
		c.Webhooks[0].TimeoutSeconds = ptr.To[int32](5)
		expectErrors(t, ValidateObjectUpdate(c, old))
	})

	t.Run("mutating reinvocation policy", func(t *testing.T) {
		v := validValidatingWebhookConfiguration().Webhooks[0]
		m := &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: v.Name, ClientConfig: v.ClientConfig, Rules: v.Rules, FailurePolicy: v.FailurePolicy,
				MatchPolicy: v.MatchPolicy, NamespaceSelector: v.NamespaceSelector, ObjectSelector: v.ObjectSelector,
				SideEffects: v.SideEffects, TimeoutSeconds: v.TimeoutSeconds, AdmissionReviewVersions: v.AdmissionReviewVersions,
				ReinvocationPolicy: ptr.To(admissionregistrationv1.ReinvocationPolicyType("Always")),
			}},
		}
		expectErrors(t, ValidateObject(m), `webhooks[0].reinvocationPolicy: Unsupported value: "Always": supported values: "IfNeeded", "Never"`)
	})
}

func validFlowSchema() *flowcontrolv1.FlowSchema {
	fs := &flowcontrolv1.FlowSchema{
		ObjectMeta: metav1.ObjectMeta{Name: "controllers"},
		Spec: flowcontrolv1.FlowSchemaSpec{
			PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "workload-high"},
			DistinguisherMethod:        &flowcontrolv1.FlowDistinguisherMethod{Type: flowcontrolv1.FlowDistinguisherMethodByUserType},
			Rules: []flowcontrolv1.PolicyRulesWithSubjects{{
				Subjects: []flowcontrolv1.Subject{{Kind: flowcontrolv1.SubjectKindUser, User: &flowcontrolv1.UserSubject{Name: "ctrl"}}},
				ResourceRules: []flowcontrolv1.ResourcePolicyRule{{
					Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*"}, Namespaces: []string{"*"},
				}},
			}},
		},
	}
	fcdefaults.SetObjectDefaults_FlowSchema(fs)
	return fs
}

func TestValidateFlowSchema(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*flowcontrolv1.FlowSchema)
		want   []string
	}{
		{"valid", func(*flowcontrolv1.FlowSchema) {}, nil},
		{"precedence 1 is reserved", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.MatchingPrecedence = 1 }, []string{
			"spec.matchingPrecedence: Invalid value: 1: only the schema named 'exempt' may have matchingPrecedence 1",
		}},
		{"priority level required", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.PriorityLevelConfiguration.Name = "" }, []string{
			"spec.priorityLevelConfiguration.name: Required value: must reference a priority level",
		}},
		{"subject kind", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.Rules[0].Subjects[0].Kind = "Robot" }, []string{
			`spec.rules[0].subjects[0].kind: Unsupported value: "Robot": supported values: "Group", "ServiceAccount", "User"`,
		}},
		{"user subject with group", func(fs *flowcontrolv1.FlowSchema) {
			fs.Spec.Rules[0].Subjects[0].Group = &flowcontrolv1.GroupSubject{Name: "g"}
		}, []string{"spec.rules[0].subjects[0].group: Forbidden: group is forbidden when subject kind is not 'Group'"}},
		{"rules need a resource rule", func(fs *flowcontrolv1.FlowSchema) { fs.Spec.Rules[0].ResourceRules = nil }, []string{
			"spec.rules[0]: Required value: at least one of resourceRules and nonResourceRules has to be non-empty",
		}},
		{"unknown verb and namespaces", func(fs *flowcontrolv1.FlowSchema) {
			fs.Spec.Rules[0].ResourceRules[0].Verbs = []string{"fly"}
			fs.Spec.Rules[0].ResourceRules[0].Namespaces = nil
		}, []string{
			`spec.rules[0].resourceRules[0].verbs: Unsupported value: ["fly"]: supported values: "create", "delete", "deletecollection", "get", "list", "patch", "proxy", "update", "watch"`,
			"spec.rules[0].resourceRules[0].namespaces: Required value: resource rules that are not cluster scoped must supply at least one namespace",
		}},
		{"non-resource URL glob", func(fs *flowcontrolv1.FlowSchema) {
			fs.Spec.Rules[0].NonResourceRules = []flowcontrolv1.NonResourcePolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz*"}}}
		}, []string{`spec.rules[0].nonResourceRules[0].nonResourceURLs[0]: Invalid value: "/healthz*": wildcard can only do suffix matching`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := validFlowSchema()
			tc.mutate(fs)
			expectErrors(t, ValidateObject(fs), tc.want...)
		})
	}

	t.Run("mandatory schemas are pinned", func(t *testing.T) {
		for _, m := range bootstrap.MandatoryFlowSchemas {
			fs := m.DeepCopy()
			fcdefaults.SetObjectDefaults_FlowSchema(fs)
			expectErrors(t, ValidateObject(fs))
			fs.Spec.MatchingPrecedence++
			errs := ValidateObject(fs)
			if len(errs) == 0 || !strings.Contains(errs[len(errs)-1].Detail, "must equal the fixed value") {
				t.Errorf("%s: got %q", fs.Name, errStrings(errs))
			}
		}
	})
}

func TestValidatePriorityLevelConfiguration(t *testing.T) {
	valid := func() *flowcontrolv1.PriorityLevelConfiguration {
		pl := &flowcontrolv1.PriorityLevelConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "workload-high"},
			Spec: flowcontrolv1.PriorityLevelConfigurationSpec{
				Type: flowcontrolv1.PriorityLevelEnablementLimited,
				Limited: &flowcontrolv1.LimitedPriorityLevelConfiguration{
					LimitResponse: flowcontrolv1.LimitResponse{Type: flowcontrolv1.LimitResponseTypeQueue, Queuing: &flowcontrolv1.QueuingConfiguration{}},
				},
			},
		}
		fcdefaults.SetObjectDefaults_PriorityLevelConfiguration(pl)
		return pl
	}
	tests := []struct {
		name   string
		mutate func(*flowcontrolv1.PriorityLevelConfiguration)
		want   []string
	}{
		{"valid", func(*flowcontrolv1.PriorityLevelConfiguration) {}, nil},
		{"hand larger than deck", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec.Limited.LimitResponse.Queuing.HandSize = 100
		}, []string{"spec.limited.limitResponse.queuing.handSize: Invalid value: 100: should not be greater than queues (64)"}},
		{"lendable percent", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec.Limited.LendablePercent = ptr.To[int32](101)
		}, []string{
			"spec.limited.lendablePercent: Invalid value: 101: must be between 0 and 100, inclusive",
		}},
		{"exempt type needs exempt name", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Spec.Type = flowcontrolv1.PriorityLevelEnablementExempt
			pl.Spec.Limited = nil
		}, []string{`spec.type: Invalid value: "Exempt": must be 'Exempt' if and only if ` + "`name`" + ` is 'exempt'`}},
		{"round-trip annotation is forbidden", func(pl *flowcontrolv1.PriorityLevelConfiguration) {
			pl.Annotations = map[string]string{apfPreserveZeroSharesAnnotation: ""}
		}, []string{"metadata.annotations: Forbidden: annotation 'flowcontrol.k8s.io/v1beta3-preserve-zero-concurrency-shares' is forbidden"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pl := valid()
			tc.mutate(pl)
			expectErrors(t, ValidateObject(pl), tc.want...)
		})
	}

	t.Run("limited requires limited, once", func(t *testing.T) {
		pl := valid()
		pl.Spec.Limited = nil
		errs := ValidateObject(pl)
		if len(errs) != 1 || errs[0].Field != "spec.limited" {
			t.Fatalf("got %q", errStrings(errs))
		}
	})

	t.Run("mandatory levels", func(t *testing.T) {
		for _, m := range bootstrap.MandatoryPriorityLevelConfigurations {
			pl := m.DeepCopy()
			fcdefaults.SetObjectDefaults_PriorityLevelConfiguration(pl)
			expectErrors(t, ValidateObject(pl))
		}
		exempt := bootstrap.MandatoryPriorityLevelConfigurationExempt.DeepCopy()
		fcdefaults.SetObjectDefaults_PriorityLevelConfiguration(exempt)
		exempt.Spec.Exempt.LendablePercent = ptr.To[int32](50)
		expectErrors(t, ValidateObject(exempt))
	})
}

func validVAP() *admissionregistrationv1.ValidatingAdmissionPolicy {
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "replica-limit"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{},
				ObjectSelector:    &metav1.LabelSelector{},
				MatchPolicy:       ptr.To(admissionregistrationv1.Equivalent),
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule: admissionregistrationv1.Rule{
							APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"},
							Scope: ptr.To(admissionregistrationv1.AllScopes),
						},
					},
				}},
			},
			Variables:   []admissionregistrationv1.Variable{{Name: "replicas", Expression: "object.spec.replicas"}},
			Validations: []admissionregistrationv1.Validation{{Expression: "variables.replicas <= 5", Message: "too many replicas"}},
		},
	}
}

func TestValidateValidatingAdmissionPolicy(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*admissionregistrationv1.ValidatingAdmissionPolicy)
		want   []string
	}{
		{"valid", func(*admissionregistrationv1.ValidatingAdmissionPolicy) {}, nil},
		{"failure policy and constraints required", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.FailurePolicy = nil
			p.Spec.MatchConstraints = nil
		}, []string{"spec.failurePolicy: Required value", "spec.matchConstraints: Required value"}},
		{"validations or audit annotations", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Spec.Validations = nil }, []string{
			"spec.validations: Required value: validations or auditAnnotations must contain at least one item",
			"spec.auditAnnotations: Required value: validations or auditAnnotations must contain at least one item",
		}},
		{"variable name must be an identifier", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Variables = append(p.Spec.Variables, admissionregistrationv1.Variable{Name: "in", Expression: "1"})
		}, []string{`spec.variables[1].name: Invalid value: "in": must be a valid CEL identifier`}},
		{"message without line breaks", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.Validations[0].Message = "too\nmany"
		}, []string{`spec.validations[0].message: Invalid value: "too\nmany": must not contain line breaks`}},
		{"reserved static suffix", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) { p.Name = "limits.static.k8s.io" }, []string{
			`metadata.name: Invalid value: "limits.static.k8s.io": names ending with ".static.k8s.io" are reserved for static manifest-based configurations and cannot be managed via the API`,
		}},
		{"audit annotation key", func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
			p.Spec.AuditAnnotations = []admissionregistrationv1.AuditAnnotation{{Key: "high replicas", ValueExpression: "'x'"}}
		}, []string{`spec.auditAnnotations[0].key: Invalid value: "replica-limit/high replicas": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := validVAP()
			tc.mutate(p)
			expectErrors(t, ValidateObject(p), tc.want...)
		})
	}

	t.Run("expressions must compile and type-check", func(t *testing.T) {
		p := validVAP()
		p.Spec.Validations[0].Expression = "variables.replicas <="
		p.Spec.Validations = append(p.Spec.Validations, admissionregistrationv1.Validation{Expression: "'not a bool'"})
		expectErrorPrefixes(t, ValidateObject(p),
			`spec.validations[0].expression: Invalid value: "variables.replicas <=": compilation failed: `,
			`spec.validations[1].expression: Invalid value: "'not a bool'": must evaluate to bool`)
	})
}

func TestValidateValidatingAdmissionPolicyBinding(t *testing.T) {
	b := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "replica-limit"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        "replica-limit",
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	expectErrors(t, ValidateObject(b))

	bad := b.DeepCopy()
	bad.Spec.ValidationActions = []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny, admissionregistrationv1.Warn}
	bad.Spec.ParamRef = &admissionregistrationv1.ParamRef{Name: "limits", Selector: &metav1.LabelSelector{}}
	expectErrors(t, ValidateObject(bad),
		"spec.paramRef.name: Forbidden: name and selector are mutually exclusive",
		"spec.paramRef.selector: Forbidden: name and selector are mutually exclusive",
		"spec.paramRef.parameterNotFoundAction: Required value",
		`spec.validationActions: Invalid value: ["Deny","Warn"]: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)`)

	// Missing actions are reported once, by the declarative rule.
	none := b.DeepCopy()
	none.Spec.ValidationActions = nil
	errs := ValidateObject(none)
	if len(errs) != 1 || errs[0].Field != "spec.validationActions" || errs[0].Type != "FieldValueRequired" {
		t.Fatalf("got %q", errStrings(errs))
	}
}

func TestValidateMutatingAdmissionPolicy(t *testing.T) {
	vap := validVAP()
	p := &admissionregistrationv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "add-label"},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: vap.Spec.MatchConstraints,
			Mutations: []admissionregistrationv1.Mutation{{
				PatchType: admissionregistrationv1.PatchTypeApplyConfiguration,
				ApplyConfiguration: &admissionregistrationv1.ApplyConfiguration{
					Expression: `Object{metadata: Object.metadata{labels: {"managed": "true"}}}`,
				},
			}},
			ReinvocationPolicy: admissionregistrationv1.NeverReinvocationPolicy,
		},
	}
	expectErrors(t, ValidateObject(p))

	bad := p.DeepCopy()
	bad.Spec.MatchConstraints.ResourceRules[0].Operations = []admissionregistrationv1.OperationType{admissionregistrationv1.Delete}
	bad.Spec.Mutations[0].PatchType = admissionregistrationv1.PatchTypeJSONPatch
	bad.Spec.ReinvocationPolicy = ""
	expectErrors(t, ValidateObject(bad),
		`spec.matchConstraints.resourceRules.operations: Unsupported value: "DELETE": supported values: "*", "CONNECT", "CREATE", "UPDATE"`,
		"spec.mutations[0].jsonPatch: Required value: must be specified when patchType is JSONPatch",
		`spec.mutations[0].applyConfiguration: Invalid value: "{applyConfiguration}": must not be specified when patchType is JSONPatch`,
		"spec.reinvocationPolicy: Required value")
}

func TestValidateClusterTrustBundle(t *testing.T) {
	b := &certificatesv1.ClusterTrustBundle{
		ObjectMeta: metav1.ObjectMeta{Name: "example.com:signer:roots"},
		Spec:       certificatesv1.ClusterTrustBundleSpec{SignerName: "example.com/signer", TrustBundle: "garbage"},
	}
	expectErrors(t, ValidateObject(b), `spec.trustBundle: Invalid value: "<value omitted>": at least one trust anchor must be provided`)
	b.Name = "roots"
	expectErrors(t, ValidateObject(b),
		`metadata.name: Invalid value: "roots": ClusterTrustBundle for signerName example.com/signer must be named with prefix example.com:signer:`,
		`spec.trustBundle: Invalid value: "<value omitted>": at least one trust anchor must be provided`)
}
