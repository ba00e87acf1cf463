// Package e2e drives a real skiff server with stock kubectl and client-go, the
// way users do, and checks that what comes back is what Kubernetes 1.37 says.
//
// One server is shared by the package (TestMain) to keep the suite fast; each
// test works in its own namespace. Tests that restart a server start their own.
// Set SKIFF_BIN to test a prebuilt binary; otherwise cmd/skiff is built once.
// Set SKIFF_E2E_KUBECONFIG to run the shared-server tests against a server
// that is already running, such as a stock kube-apiserver, to check the
// expectations themselves.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/internal/testserver"
)

// suite is what TestMain prepared; tests only read it.
var suite struct {
	bin    string
	server *testserver.Server
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	dir, err := os.MkdirTemp("", "skiff-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if suite.bin, err = testserver.BuildBinary(ctx, filepath.Join(dir, "bin")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if kc := os.Getenv("SKIFF_E2E_KUBECONFIG"); kc != "" {
		suite.server, err = testserver.Attach(kc, dir)
	} else {
		suite.server, err = testserver.Launch(ctx, testserver.Options{
			Binary:  suite.bin,
			DataDir: filepath.Join(dir, "data"),
			LogPath: filepath.Join(dir, "server.log"),
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := suite.server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if code != 0 {
		// The data dir and log stay for a post-mortem.
		keep = true
		fmt.Fprintf(os.Stderr, "shared skiff server log kept at %s; last 100 lines:\n%s\n", suite.server.LogPath(), suite.server.LogTail(100))
	}
	return code
}
