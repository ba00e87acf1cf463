package e2e

import (
	"strings"
	"testing"
)

// TestSecretStringData: stringData is write-only. It is folded into data
// (winning over a key of the same name) on create, apply and patch, and
// never stored or returned.
func TestSecretStringData(t *testing.T) {
	ns := namespace(t)
	kubectlIn(t, `apiVersion: v1
kind: Secret
metadata: {name: sd}
data: {a: b2xk, keep: a2VlcA==}
stringData: {a: new, b: plain}
`, "apply", "-n", ns, "-f", "-")
	check := func(t *testing.T, want map[string]string) {
		t.Helper()
		var s struct {
			Data       map[string]string `json:"data"`
			StringData map[string]string `json:"stringData"`
		}
		getYAML(t, &s, "secret", "sd", "-n", ns)
		if s.StringData != nil {
			t.Errorf("stringData returned: %v", s.StringData)
		}
		for k, v := range want {
			if s.Data[k] != v {
				t.Errorf("data[%s] = %q, want %q (data %v)", k, s.Data[k], v, s.Data)
			}
		}
	}
	// "new", "plain", "keep" in base64.
	check(t, map[string]string{"a": "bmV3", "b": "cGxhaW4=", "keep": "a2VlcA=="})

	kubectl(t, "patch", "secret", "sd", "-n", ns, "-p", `{"stringData":{"b":"patched"}}`)
	check(t, map[string]string{"a": "bmV3", "b": "cGF0Y2hlZA==", "keep": "a2VlcA=="})

	out := kubectl(t, "get", "secret", "sd", "-n", ns, "-o", "jsonpath={.data.b}")
	if strings.TrimSpace(out) != "cGF0Y2hlZA==" {
		t.Errorf("jsonpath data.b = %q", out)
	}
}
