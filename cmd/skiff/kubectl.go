package main

import (
	"os"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"

	"github.com/skiff-dev/skiff/server"
)

func newKubectlCommand() *cobra.Command {
	// Only for help listings: main runs kubectl before cobra parses anything.
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run kubectl against this cluster (the admin kubeconfig unless KUBECONFIG or --kubeconfig is set)",
		DisableFlagParsing: true,
		Run:                func(*cobra.Command, []string) {},
	}
}

// runKubectl runs the embedded kubectl with args, defaulting to the admin
// kubeconfig of the default data dir.
func runKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" {
		if path := server.AdminKubeconfigPath(server.DefaultDataDir()); fileExists(path) {
			os.Setenv("KUBECONFIG", path)
		}
	}
	// kubectl reads its arguments from os.Args, as the real binary does.
	os.Args = append([]string{"kubectl"}, args...)
	return cli.Run(kubectlcmd.NewDefaultKubectlCommand())
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
