package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParseTiers(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  int
		wantErr bool
	}{
		{"", 0, 99, false}, {"all", 0, 99, false}, {"1", 1, 1, false}, {"0-1", 0, 1, false},
		{"2-1", 0, 0, true}, {"x", 0, 0, true}, {"1-", 0, 0, true},
	}
	for _, tt := range tests {
		lo, hi, err := parseTiers(tt.in)
		if (err != nil) != tt.wantErr || (err == nil && (lo != tt.lo || hi != tt.hi)) {
			t.Errorf("parseTiers(%q) = %d, %d, %v", tt.in, lo, hi, err)
		}
	}
}

// TestBucketsAndSelection reads the repository's buckets file: 462 specs,
// 155 of them in tiers 0-1, 9 of those [Serial].
func TestBucketsAndSelection(t *testing.T) {
	all, err := loadSpecs("../buckets.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 462 {
		t.Errorf("%d specs, want 462", len(all))
	}
	sel, err := selectSpecs(all, options{tier: "0-1"})
	if err != nil {
		t.Fatal(err)
	}
	serial := 0
	for _, s := range sel {
		if s.serial {
			serial++
		}
		if s.sig == "" {
			t.Errorf("no SIG in %q", s.name)
		}
	}
	if len(sel) != 155 || serial != 9 {
		t.Errorf("tiers 0-1: %d specs, %d serial; want 155, 9", len(sel), serial)
	}

	list := filepath.Join(t.TempDir(), "passing.txt")
	if err := os.WriteFile(list, []byte("# comment\n"+sel[0].name+"\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := selectSpecs(all, options{specsFile: list})
	if err != nil || len(got) != 1 || got[0].name != sel[0].name {
		t.Errorf("--specs selected %v, %v", got, err)
	}
	if err := os.WriteFile(list, []byte("no such spec\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := selectSpecs(all, options{specsFile: list}); err == nil || !strings.Contains(err.Error(), "no such spec") {
		t.Errorf("an unknown spec in --specs: %v", err)
	}
}

// TestFocusRegexp: ginkgo matches focus against "<suite description>
// <spec text>"; the expression matches the selected specs whole and
// nothing that merely contains or extends one.
func TestFocusRegexp(t *testing.T) {
	specs := []spec{{name: "[sig-a] X should work [Conformance]"}, {name: "[sig-b] Y (1+1) works [Conformance]"}}
	re := regexp.MustCompile(focusRegexp(specs))
	for text, want := range map[string]bool{
		"Kubernetes e2e suite [sig-a] X should work [Conformance]":        true,
		"Kubernetes e2e suite [sig-b] Y (1+1) works [Conformance]":        true,
		"Kubernetes e2e suite [sig-a] X should work [Conformance] [Slow]": false,
		"Kubernetes e2e suite [sig-a] X should work":                      false,
	} {
		if re.MatchString(text) != want {
			t.Errorf("%q matched %v", text, !want)
		}
	}
}

func TestJUnitAndSummary(t *testing.T) {
	dir := t.TempDir()
	junit := `<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="Kubernetes e2e suite">
<testcase name="[It] [sig-a] passes [Conformance]" time="1.5"></testcase>
<testcase name="[It] [sig-a] fails [Conformance]" time="2"><failure type="failed">[FAILED] boom
more</failure></testcase>
<testcase name="[It] [sig-b] skipped [Conformance]" time="0"><skipped message="skipped"></skipped></testcase>
</testsuite></testsuites>`
	if err := os.WriteFile(filepath.Join(dir, "junit_parallel_01.xml"), []byte(junit), 0o644); err != nil {
		t.Fatal(err)
	}
	// The serial phase lists the parallel specs as skipped; that must not
	// hide their outcome.
	serial := `<testsuites><testsuite><testcase name="[It] [sig-a] passes [Conformance]"><skipped message="skipped"></skipped></testcase></testsuite></testsuites>`
	if err := os.WriteFile(filepath.Join(dir, "junit_serial_01.xml"), []byte(serial), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := readJUnit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if out["[sig-a] passes [Conformance]"].state != "passed" || out["[sig-a] fails [Conformance]"].state != "failed" ||
		out["[sig-a] fails [Conformance]"].reason != "[FAILED] boom" || out["[sig-b] skipped [Conformance]"].state != "skipped" {
		t.Errorf("outcomes %+v", out)
	}
	selected := []spec{{name: "[sig-a] passes [Conformance]", tier: 0, sig: "sig-a"}, {name: "[sig-a] fails [Conformance]", tier: 1, sig: "sig-a"},
		{name: "[sig-b] skipped [Conformance]", tier: 1, sig: "sig-b"}, {name: "[sig-b] never ran [Conformance]", tier: 1, sig: "sig-b"}}
	failed, passed, err := summarize(selected, out, dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if failed != 2 || len(passed) != 1 {
		t.Errorf("failed %d, passed %v", failed, passed)
	}
	summary, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 passed, 2 failed, 1 skipped", "tier 0: 1 passed, 0 failed, 0 skipped", "tier 1: 0 passed, 2 failed, 1 skipped",
		"sig-b: 0 passed, 1 failed, 1 skipped", "did not run"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(string(summary), "hollow nodes") {
		t.Errorf("a tiers 0-1 summary warns of hollow nodes:\n%s", summary)
	}
	// A run reaching tier 2 says that hollow nodes run no containers.
	selected = append(selected, spec{name: "[sig-c] runs a pod [Conformance]", tier: 2, sig: "sig-c"})
	if _, _, err := summarize(selected, out, dir, 0); err != nil {
		t.Fatal(err)
	}
	if summary, err = os.ReadFile(filepath.Join(dir, "summary.txt")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(summary), "hollow nodes, which run no containers") {
		t.Errorf("a summary with tier 2 lacks the hollow-node warning:\n%s", summary)
	}
}
