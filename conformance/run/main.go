// Command run runs the official Kubernetes conformance suite against a
// fresh skiff server: it starts `skiff server` on a temporary data dir
// (with hollow nodes until skiff's kubelet runs pods), runs the selected
// [Conformance] specs with e2e.test under the ginkgo CLI — the parallel
// ones in parallel, the [Serial] ones alone afterwards — and writes JUnit
// and a summary under the results directory, printing "N passed, N
// failed, N skipped" and the count per tier.
//
//	go run ./conformance/run [--tier 0-1] [--focus REGEX] [--specs FILE] [--procs 4]
//
// The suite binaries come from conformance/suite (make conformance-build).
package main

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-dev/skiff/internal/testserver"
)

type options struct {
	tier        string
	focus       string
	specsFile   string
	procs       int
	hollowNodes int
	suiteBin    string
	buckets     string
	results     string
	timeout     time.Duration
	keep        bool
	dryRun      bool
	runs        int
	passingOut  string
}

func main() {
	var o options
	flag.StringVar(&o.tier, "tier", "", "run the specs of these tiers only: N, N-M or all (conformance/buckets.tsv); default all")
	flag.StringVar(&o.focus, "focus", "", "run only the specs whose name matches this regular expression")
	flag.StringVar(&o.specsFile, "specs", "", "run exactly the specs named in this file, one per line (conformance/passing.txt)")
	flag.IntVar(&o.procs, "procs", max(2, runtime.NumCPU()), "ginkgo processes for the parallel specs")
	flag.IntVar(&o.hollowNodes, "hollow-nodes", 2, "hollow nodes the server plays")
	flag.StringVar(&o.suiteBin, "suite-bin", "conformance/suite/bin", "directory holding e2e.test, ginkgo and kubectl")
	flag.StringVar(&o.buckets, "buckets", "conformance/buckets.tsv", "every conformance spec with its tier")
	flag.StringVar(&o.results, "results", "conformance/results", "where each run writes a directory of results")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Hour, "upper bound on the whole run")
	flag.BoolVar(&o.keep, "keep", false, "keep the server's data dir")
	flag.BoolVar(&o.dryRun, "dry-run", false, "print the selected specs and stop")
	flag.IntVar(&o.runs, "runs", 1, "run the selection this many times, each on a fresh server")
	flag.StringVar(&o.passingOut, "write-passing", "", "write the specs that passed every run to this file (conformance/passing.txt)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	failed, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(2)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// spec is one row of conformance/buckets.tsv.
type spec struct {
	name   string // the ginkgo spec text (codename)
	tier   int
	serial bool
	sig    string
}

func loadSpecs(path string) ([]spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("%s: no specs", path)
	}
	col := map[string]int{}
	for i, h := range strings.Split(lines[0], "\t") {
		col[h] = i
	}
	for _, h := range []string{"codename", "tier", "tags"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: no %q column", path, h)
		}
	}
	sigRE := regexp.MustCompile(`^\[(sig-[a-z-]+)\]`)
	var out []spec
	for n, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) < len(col) {
			return nil, fmt.Errorf("%s:%d: %d columns, want %d", path, n+2, len(f), len(col))
		}
		tier, err := strconv.Atoi(f[col["tier"]])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: tier: %w", path, n+2, err)
		}
		s := spec{name: f[col["codename"]], tier: tier, serial: strings.Contains(f[col["tags"]], "Serial")}
		if m := sigRE.FindStringSubmatch(s.name); m != nil {
			s.sig = m[1]
		}
		out = append(out, s)
	}
	return out, nil
}

// parseTiers reads "", "all", "N" or "N-M".
func parseTiers(s string) (lo, hi int, err error) {
	if s == "" || s == "all" {
		return 0, 99, nil
	}
	a, b, found := strings.Cut(s, "-")
	if lo, err = strconv.Atoi(a); err != nil {
		return 0, 0, fmt.Errorf("--tier %q: want N, N-M or all", s)
	}
	hi = lo
	if found {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("--tier %q: want N, N-M or all", s)
		}
	}
	return lo, hi, nil
}

func selectSpecs(all []spec, o options) ([]spec, error) {
	lo, hi, err := parseTiers(o.tier)
	if err != nil {
		return nil, err
	}
	var focus *regexp.Regexp
	if o.focus != "" {
		if focus, err = regexp.Compile(o.focus); err != nil {
			return nil, fmt.Errorf("--focus: %w", err)
		}
	}
	var listed map[string]bool
	if o.specsFile != "" {
		b, err := os.ReadFile(o.specsFile)
		if err != nil {
			return nil, err
		}
		listed = map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				listed[l] = true
			}
		}
		known := map[string]bool{}
		for _, s := range all {
			known[s.name] = true
		}
		for name := range listed {
			if !known[name] {
				return nil, fmt.Errorf("%s names a spec that is not in the suite: %q", o.specsFile, name)
			}
		}
	}
	var out []spec
	for _, s := range all {
		if s.tier < lo || s.tier > hi || (focus != nil && !focus.MatchString(s.name)) || (listed != nil && !listed[s.name]) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

func run(ctx context.Context, o options) (int, error) {
	all, err := loadSpecs(o.buckets)
	if err != nil {
		return 0, err
	}
	selected, err := selectSpecs(all, o)
	if err != nil {
		return 0, err
	}
	if len(selected) == 0 {
		return 0, errors.New("no spec selected")
	}
	if o.dryRun {
		for _, s := range selected {
			fmt.Printf("%d\t%s\n", s.tier, s.name)
		}
		fmt.Printf("%d specs\n", len(selected))
		return 0, nil
	}
	if o.runs < 1 {
		return 0, errors.New("--runs must be at least 1")
	}
	passedAll := map[string]int{}
	failed := 0
	for i := range o.runs {
		if o.runs > 1 {
			fmt.Printf("\n##### run %d of %d\n", i+1, o.runs)
		}
		f, passed, err := runOnce(ctx, o, selected)
		if err != nil {
			return 0, err
		}
		failed += f
		for _, name := range passed {
			passedAll[name]++
		}
	}
	if o.passingOut != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "# [Conformance] specs that passed %d runs in a row on skiff (go run ./conformance/run --runs %d --write-passing).\n", o.runs, o.runs)
		fmt.Fprintf(&b, "# make conformance-ci runs exactly these and fails if any fails.\n")
		n := 0
		for _, sp := range selected {
			if passedAll[sp.name] == o.runs {
				b.WriteString(sp.name + "\n")
				n++
			}
		}
		if err := os.WriteFile(o.passingOut, []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
		fmt.Printf("\n%d of %d specs passed all %d runs; written to %s\n", n, len(selected), o.runs, o.passingOut)
	}
	return failed, nil
}

// runOnce runs the selected specs against a fresh server and returns how
// many failed and the names of those that passed.
func runOnce(ctx context.Context, o options, selected []spec) (int, []string, error) {
	bin := map[string]string{}
	for _, name := range []string{"e2e.test", "ginkgo", "kubectl"} {
		p, err := filepath.Abs(filepath.Join(o.suiteBin, name))
		if err != nil {
			return 0, nil, err
		}
		if _, err := os.Stat(p); err != nil {
			return 0, nil, fmt.Errorf("%s is missing: run `make conformance-build` first", p)
		}
		bin[name] = p
	}
	skiff := os.Getenv(testserver.EnvBinary)
	if skiff == "" {
		return 0, nil, fmt.Errorf("set %s to the skiff binary (make conformance does)", testserver.EnvBinary)
	}

	resultsDir, err := filepath.Abs(filepath.Join(o.results, time.Now().UTC().Format("20060102-150405")))
	if err != nil {
		return 0, nil, err
	}
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return 0, nil, err
	}
	dataDir, err := os.MkdirTemp("", "skiff-conformance-")
	if err != nil {
		return 0, nil, err
	}
	defer func() {
		if o.keep {
			fmt.Printf("server data dir kept in %s\n", dataDir)
		} else {
			os.RemoveAll(dataDir)
		}
	}()
	// The kubernetes Service needs endpoints, which Kubernetes refuses
	// for a loopback address: the server advertises the host's own.
	host, err := testserver.HostIP()
	if err != nil {
		return 0, nil, err
	}
	s, err := testserver.Launch(ctx, testserver.Options{Binary: skiff, DataDir: filepath.Join(dataDir, "data"),
		LogPath: filepath.Join(resultsDir, "server.log"), AdvertiseAddress: host, HollowNodes: o.hollowNodes})
	if err != nil {
		return 0, nil, err
	}
	defer s.Stop()
	client, err := s.Clientset()
	if err != nil {
		return 0, nil, err
	}
	if err := waitForNodes(ctx, client, o.hollowNodes); err != nil {
		return 0, nil, err
	}
	fmt.Printf("skiff server %s ready with %d hollow nodes; %d specs selected; results in %s\n", s.URL, o.hollowNodes, len(selected), resultsDir)

	var parallel, serial []spec
	for _, sp := range selected {
		if sp.serial {
			serial = append(serial, sp)
		} else {
			parallel = append(parallel, sp)
		}
	}
	start := time.Now()
	for _, phase := range []struct {
		name  string
		specs []spec
		procs int
	}{{"parallel", parallel, o.procs}, {"serial", serial, 1}} {
		if len(phase.specs) == 0 {
			continue
		}
		fmt.Printf("\n=== %d %s specs, %d process(es)\n", len(phase.specs), phase.name, phase.procs)
		if err := runGinkgo(ctx, bin, s.KubeconfigPath, resultsDir, phase.name, phase.specs, phase.procs); err != nil {
			fmt.Printf("(%s phase: %v)\n", phase.name, err)
		}
	}
	outcomes, err := readJUnit(resultsDir)
	if err != nil {
		return 0, nil, err
	}
	return summarize(selected, outcomes, resultsDir, time.Since(start))
}

func waitForNodes(ctx context.Context, client kubernetes.Interface, want int) error {
	return wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		ready := 0
		for _, n := range l.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && len(n.Spec.Taints) == 0 {
					ready++
				}
			}
		}
		return ready >= want, nil
	})
}

// focusRegexp matches exactly the given spec texts. Ginkgo matches focus
// against the suite's description, a space and the spec text.
func focusRegexp(specs []spec) string {
	parts := make([]string, len(specs))
	for i, s := range specs {
		parts[i] = regexp.QuoteMeta(s.name)
	}
	return " (?:" + strings.Join(parts, "|") + ")$"
}

func runGinkgo(ctx context.Context, bin map[string]string, kubeconfig, resultsDir, phase string, specs []spec, procs int) error {
	outDir := filepath.Join(resultsDir, phase)
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	args := []string{
		"--procs=" + strconv.Itoa(procs), "--no-color", "--timeout=3h", "--poll-progress-after=10m",
		"--focus=" + focusRegexp(specs),
		bin["e2e.test"], "--",
		"--kubeconfig=" + kubeconfig, "--provider=skeleton", "--kubectl-path=" + bin["kubectl"],
		"--report-dir=" + resultsDir, "--report-prefix=" + phase + "_", "--e2e-output-dir=" + outDir,
		"--disable-log-dump", "--dump-logs-on-failure=false",
	}
	log, err := os.Create(filepath.Join(resultsDir, phase+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, bin["ginkgo"], args...)
	cmd.Dir = outDir
	cmd.Stdout, cmd.Stderr = log, log
	// kubectl-based specs find the cluster through KUBECONFIG too.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return cmd.Run()
}

type junitSuites struct {
	Suites []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Cases []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name    string    `xml:"name,attr"`
	Time    float64   `xml:"time,attr"`
	Failure *junitMsg `xml:"failure"`
	Error   *junitMsg `xml:"error"`
	Skipped *junitMsg `xml:"skipped"`
}

type junitMsg struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type outcome struct {
	state   string // passed, failed, skipped
	seconds float64
	reason  string
}

// readJUnit reads the reports e2e.test wrote (junit_<phase>_01.xml).
func readJUnit(dir string) (map[string]outcome, error) {
	files, err := filepath.Glob(filepath.Join(dir, "junit_*.xml"))
	if err != nil {
		return nil, err
	}
	out := map[string]outcome{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s junitSuites
		if err := xml.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, suite := range s.Suites {
			for _, c := range suite.Cases {
				name := strings.TrimPrefix(c.Name, "[It] ")
				o := outcome{state: "passed", seconds: c.Time}
				switch {
				case c.Failure != nil:
					o.state, o.reason = "failed", firstLine(c.Failure.Text+" "+c.Failure.Message)
				case c.Error != nil:
					o.state, o.reason = "failed", firstLine(c.Error.Text+" "+c.Error.Message)
				case c.Skipped != nil:
					o.state, o.reason = "skipped", firstLine(c.Skipped.Message)
				}
				if prev, ok := out[name]; ok && prev.state != "skipped" && o.state == "skipped" {
					continue // the phase that did not run it lists it skipped
				}
				out[name] = o
			}
		}
	}
	return out, nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// summarize prints and writes the counts; it returns how many failed. A
// selected spec absent from every report (the run ended before it) counts
// as failed.
func summarize(selected []spec, outcomes map[string]outcome, dir string, took time.Duration) (int, []string, error) {
	type counts struct{ passed, failed, skipped int }
	var total counts
	byTier := map[int]*counts{}
	bySIG := map[string]*counts{}
	var failures, passing []string
	for _, s := range selected {
		o, ok := outcomes[s.name]
		if !ok {
			o = outcome{state: "failed", reason: "did not run (no result in the JUnit reports)"}
		}
		for _, c := range []*counts{&total, get(byTier, s.tier), get(bySIG, s.sig)} {
			switch o.state {
			case "passed":
				c.passed++
			case "failed":
				c.failed++
			default:
				c.skipped++
			}
		}
		switch o.state {
		case "passed":
			passing = append(passing, s.name)
		case "failed":
			failures = append(failures, fmt.Sprintf("tier %d\t%s\t%s", s.tier, s.name, o.reason))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped (%d specs selected, %s)\n", total.passed, total.failed, total.skipped, len(selected), took.Round(time.Second))
	tiers := make([]int, 0, len(byTier))
	for t := range byTier {
		tiers = append(tiers, t)
	}
	slices.Sort(tiers)
	for _, t := range tiers {
		c := byTier[t]
		fmt.Fprintf(&b, "tier %d: %d passed, %d failed, %d skipped\n", t, c.passed, c.failed, c.skipped)
	}
	if len(tiers) > 0 && tiers[len(tiers)-1] >= 2 {
		fmt.Fprintf(&b, "(tiers 2-9 ran on hollow nodes, which run no containers: a pass there says nothing of running workloads)\n")
	}
	sigs := make([]string, 0, len(bySIG))
	for s := range bySIG {
		sigs = append(sigs, s)
	}
	slices.Sort(sigs)
	for _, s := range sigs {
		c := bySIG[s]
		fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped\n", s, c.passed, c.failed, c.skipped)
	}
	if len(failures) > 0 {
		fmt.Fprintf(&b, "\nfailed:\n%s\n", strings.Join(failures, "\n"))
	}
	fmt.Print("\n" + b.String())
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(b.String()), 0o644); err != nil {
		return 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "passed.txt"), []byte(strings.Join(passing, "\n")+"\n"), 0o644); err != nil {
		return 0, nil, err
	}
	return total.failed, passing, nil
}

func get[K comparable, V any](m map[K]*V, k K) *V {
	if v, ok := m[k]; ok {
		return v
	}
	v := new(V)
	m[k] = v
	return v
}
