package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/internal/testserver"
)

func restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := suite.server.RESTConfig()
	if err != nil {
		t.Fatalf("rest config: %v", err)
	}
	return cfg
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	return cs
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// namespace creates a namespace for one test, so tests sharing the server
// cannot see each other's objects.
func namespace(t *testing.T) string {
	t.Helper()
	base := nonDNS.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	cs := clientset(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"e2e.skiff.dev/test": "true"}}}
	if _, err := cs.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Deleting is best effort: the namespace may be kept by a finalizer,
		// which is fine since names never repeat.
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	testserver.WaitForDefaultServiceAccount(t, cs, name)
	return name
}

// kubectl runs kubectl and fails the test if it fails; it returns stdout.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := suite.server.Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// kubectlIn is kubectl with stdin, for `-f -`.
func kubectlIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := suite.server.KubectlWith(t, kubectlOpts(stdin), args...)
	if r.Err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// kubectlFails runs kubectl expecting it to fail and returns its stderr.
func kubectlFails(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := suite.server.KubectlWith(t, kubectlOpts(stdin), args...)
	if r.Err == nil {
		t.Fatalf("kubectl %s succeeded, want an error\nstdout:\n%s", strings.Join(args, " "), r.Stdout)
	}
	return r.Stderr
}

func kubectlOpts(stdin string) testserver.KubectlOptions {
	return testserver.KubectlOptions{Stdin: stdin}
}

func kubectlOptsEnv(env ...string) testserver.KubectlOptions {
	return testserver.KubectlOptions{Env: env}
}

// eventually polls cond until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func testdata(name string) string { return filepath.Join("testdata", name) }

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// writeTemp writes content to a file in the test's temp dir.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tableHeader returns the column names of the first line of a kubectl table.
func tableHeader(out string) []string {
	first, _, _ := strings.Cut(out, "\n")
	// Column names such as "NOMINATED NODE" hold one space; columns are
	// separated by at least two.
	return regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(first), -1)
}

// tableRow returns the cells of the row whose first cell is name.
func tableRow(out, name string) ([]string, error) {
	for _, line := range strings.Split(out, "\n")[1:] {
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if len(cells) > 0 && cells[0] == name {
			return cells, nil
		}
	}
	return nil, fmt.Errorf("no row %q in\n%s", name, out)
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

// mustContainLoosely is mustContain where a run of two or more spaces in a
// want matches any run of whitespace, and a want starting with "re:" is a
// regular expression.
func mustContainLoosely(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if expr, ok := strings.CutPrefix(w, "re:"); ok {
			if !regexp.MustCompile(expr).MatchString(got) {
				t.Errorf("%s: no match for %s in:\n%s", what, expr, got)
			}
			continue
		}
		parts := regexp.MustCompile(` {2,}`).Split(w, -1)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`(?m)` + strings.Join(parts, `\s+`))
		if !re.MatchString(got) {
			t.Errorf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}
