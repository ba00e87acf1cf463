package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// skiff runs the skiff binary under test and returns stdout, stderr and its error.
func skiff(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), suite.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func TestSkiffVersion(t *testing.T) {
	out, stderr, err := skiff(t, nil, "version")
	if err != nil {
		t.Fatalf("skiff version: %v\n%s", err, stderr)
	}
	mustContain(t, "skiff version", out, "skiff version ", "Kubernetes version v1.37.")
}

func TestSkiffKubeconfig(t *testing.T) {
	// The command prints <data-dir>/kubeconfig.yaml, whatever wrote it.
	dataDir := t.TempDir()
	want, err := os.ReadFile(suite.server.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "kubeconfig.yaml"), want, 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := skiff(t, nil, "kubeconfig", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("skiff kubeconfig: %v\n%s", err, stderr)
	}
	if out != string(want) {
		t.Errorf("skiff kubeconfig printed %q, want the data dir's kubeconfig.yaml", out)
	}

	_, stderr, err = skiff(t, nil, "kubeconfig", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(stderr, "has `skiff server` run") {
		t.Errorf("kubeconfig of an empty data dir: err %v, stderr %q; want a failure that says what to do", err, stderr)
	}
}

func TestSkiffKubectl(t *testing.T) {
	out, stderr, err := skiff(t, []string{"KUBECONFIG=" + suite.server.KubeconfigPath}, "kubectl", "get", "namespace", "kube-system", "-o", "name")
	if err != nil {
		t.Fatalf("skiff kubectl: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(out) != "namespace/kube-system" {
		t.Errorf("skiff kubectl get namespace kube-system -o name = %q", out)
	}
}

func TestSkiffServerFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--service-cidr", "10.43.0.0"}, "--service-cidr"},
		{[]string{"--service-node-port-range", "30000"}, "--service-node-port-range"},
		{[]string{"--bind-address", "nowhere"}, "--bind-address"},
		{[]string{"--https-listen-port", "70000"}, "--https-listen-port"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			args := append([]string{"server", "--data-dir", t.TempDir()}, tc.args...)
			_, stderr, err := skiff(t, nil, args...)
			if err == nil {
				t.Fatalf("skiff %v succeeded", args)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("error does not name %s: %q", tc.want, stderr)
			}
		})
	}
}
