package testserver

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestMakefileKubeVersion(t *testing.T) {
	root, err := ModuleRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := kubeVersionRE.FindSubmatch(data)
	if m == nil {
		t.Fatal("no KUBE_VERSION in the Makefile: BuildBinary could not set the version ldflags")
	}
	if minor, err := strconv.Atoi(string(m[2])); err != nil || minor < 37 {
		t.Errorf("KUBE_VERSION %s: minor %q, want 37 or later", m[1], m[2])
	}
}

func TestProcessRSS(t *testing.T) {
	rss, err := ProcessRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A running Go test binary holds at least a megabyte and far less than
	// the machine.
	if rss < 1<<20 || rss > 8<<30 {
		t.Errorf("RSS of this process = %d bytes, implausible", rss)
	}
	if _, err := ProcessRSS(1 << 30); err == nil {
		t.Error("RSS of a process that cannot exist: no error")
	}
}

func TestFreePort(t *testing.T) {
	for _, tc := range []struct {
		env     string
		wantErr bool
	}{
		{"", false},
		{"16540-16549", false},
		{"junk", true},
		{"20-10", true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(EnvPortRange, tc.env)
			p, err := FreePort()
			if (err != nil) != tc.wantErr {
				t.Fatalf("FreePort() = %d, %v; want error %v", p, err, tc.wantErr)
			}
			if err == nil && (p < 1 || p > 65535) {
				t.Errorf("FreePort() = %d", p)
			}
		})
	}
}

func TestLaunchRefusesEmptyOptions(t *testing.T) {
	if _, err := Launch(t.Context(), Options{}); err == nil {
		t.Error("Launch without a binary: no error")
	}
	if _, err := Launch(t.Context(), Options{Binary: "/bin/true"}); err == nil {
		t.Error("Launch without a data dir: no error")
	}
	// A binary that exits at once is reported, not waited for until the
	// ready timeout.
	dir := t.TempDir()
	_, err := Launch(t.Context(), Options{Binary: "/bin/false", DataDir: filepath.Join(dir, "data")})
	if err == nil {
		t.Fatal("Launch of /bin/false: no error")
	}
}

func TestProcessCPUTime(t *testing.T) {
	before, err := ProcessCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn some CPU so the counter must move.
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	after, err := ProcessCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU time did not grow: %s then %s (%d loops)", before, after, x)
	}
}
