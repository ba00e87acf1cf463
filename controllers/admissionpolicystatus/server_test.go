package admissionpolicystatus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/openapi3"

	"github.com/skiff-dev/skiff/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, testserver.Options{Binary: os.Getenv("SKIFF_BIN")}, func(s *testserver.Server) { server = s }))
}

func clientFor(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := server.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func policy(name, group, resource string, validations ...admissionregistrationv1.Validation) *admissionregistrationv1.ValidatingAdmissionPolicy {
	return &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: []string{resource}},
					},
				}},
			},
			Validations: validations,
		},
	}
}

// waitChecked waits for the type checking of the policy's current
// generation and returns the policy.
func waitChecked(t *testing.T, c kubernetes.Interface, name string) *admissionregistrationv1.ValidatingAdmissionPolicy {
	t.Helper()
	var p *admissionregistrationv1.ValidatingAdmissionPolicy
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		p, err = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Status.TypeChecking != nil && p.Status.ObservedGeneration == p.Generation, err
	})
	if err != nil {
		t.Fatalf("type checking of policy %s: %v (last seen status %+v)", name, err, p.Status)
	}
	return p
}

type warning struct{ fieldRef, contains string }

func checkWarnings(t *testing.T, got []admissionregistrationv1.ExpressionWarning, want []warning) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("warnings %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].FieldRef != want[i].fieldRef || !strings.Contains(got[i].Warning, want[i].contains) {
			t.Errorf("warning %d: %+v, want field %s containing %q", i, got[i], want[i].fieldRef, want[i].contains)
		}
	}
}

// TestTypeChecking follows upstream's e2e "should type check validation
// expressions" and the controller's unit cases.
func TestTypeChecking(t *testing.T) {
	c := clientFor(t)
	tests := []struct {
		name        string
		validations []admissionregistrationv1.Validation
		want        []warning
	}{
		{"correct", []admissionregistrationv1.Validation{{Expression: "object.spec.replicas > 1"}}, nil},
		{"confused", []admissionregistrationv1.Validation{{
			Expression:        "object.spec.replicas > '1'",
			MessageExpression: "'wants replicas > 1, got ' + object.spec.replicas",
		}}, []warning{
			{"spec.validations[0].expression", "found no matching overload for '_>_' applied to '(int, string)'"},
			{"spec.validations[0].messageExpression", "found no matching overload for '_+_' applied to '(string, int)'"},
		}},
		{"undefined field", []admissionregistrationv1.Validation{
			{Expression: "object.spec.nonExistingFirst > 1"},
			{Expression: "object.spec.replicas < 100"},
		}, []warning{{"spec.validations[0].expression", "undefined field 'nonExistingFirst'"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "-") + ".example.com"
			if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(t.Context(), policy(name, "apps", "deployments", tc.validations...), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
			})
			p := waitChecked(t, c, name)
			checkWarnings(t, p.Status.TypeChecking.ExpressionWarnings, tc.want)
			owned := false
			for _, mf := range p.ManagedFields {
				owned = owned || (mf.Manager == "validatingadmissionpolicy-status" && mf.Subresource == "status" && mf.Operation == metav1.ManagedFieldsOperationApply)
			}
			if !owned {
				t.Errorf("status not applied by validatingadmissionpolicy-status: %+v", p.ManagedFields)
			}
		})
	}

	t.Run("a new generation is checked again", func(t *testing.T) {
		name := "regenerated.example.com"
		if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(t.Context(), policy(name, "apps", "deployments",
			admissionregistrationv1.Validation{Expression: "object.spec.replicas > 1"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitChecked(t, c, name)
		checkWarnings(t, p.Status.TypeChecking.ExpressionWarnings, nil)
		p.Spec.Validations[0].Expression = "object.spec.replicas > 'x'"
		if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Update(t.Context(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		p = waitChecked(t, c, name)
		if p.Generation != 2 {
			t.Errorf("generation %d, want 2", p.Generation)
		}
		checkWarnings(t, p.Status.TypeChecking.ExpressionWarnings, []warning{{"spec.validations[0].expression", "found no matching overload"}})
	})
}

// TestTypeCheckingCRD follows upstream's e2e "should type check a CRD":
// schemas of custom resources come from the server's OpenAPI.
func TestTypeCheckingCRD(t *testing.T) {
	c := clientFor(t)
	cfg, err := server.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	group := "stable.typecheck.example.com"
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "crontabs." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "crontabs", Singular: "crontab", Kind: "CronTab", ListKind: "CronTabList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
							"cronSpec": {Type: "string"},
							"image":    {Type: "string"},
							"replicas": {Type: "integer"},
						}},
					},
				}},
			}},
		},
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(t.Context(), crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), crd.Name, metav1.DeleteOptions{})
	})
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := openapi3.NewRoot(c.Discovery().OpenAPIV3()).GVSpec(schema.GroupVersion{Group: group, Version: "v1"})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("CRD published in OpenAPI: %v", err)
	}

	for i, tc := range []struct {
		validations []admissionregistrationv1.Validation
		want        []warning
	}{
		{[]admissionregistrationv1.Validation{{Expression: "object.spec.replicas > 1"}}, nil},
		{[]admissionregistrationv1.Validation{{Expression: "object.spec.replicas > '1'"}, {Expression: "object.spec.maxRetries < 10"}}, []warning{
			{"spec.validations[0].expression", "found no matching overload for '_>_' applied to '(int, string)'"},
			{"spec.validations[1].expression", "undefined field 'maxRetries'"},
		}},
	} {
		name := fmt.Sprintf("crd-%d.example.com", i)
		if _, err := c.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(t.Context(), policy(name, group, "crontabs", tc.validations...), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitChecked(t, c, name)
		checkWarnings(t, p.Status.TypeChecking.ExpressionWarnings, tc.want)
	}
}
