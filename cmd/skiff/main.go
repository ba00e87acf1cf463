// Command skiff is a Kubernetes distribution in one binary.
package main

import (
	"os"

	"github.com/spf13/cobra"
)

// version is skiff's own version, set at build time with -ldflags.
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "A Kubernetes distribution in one binary",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newServerCommand(), newKubeconfigCommand(), newVersionCommand(), newKubectlCommand(), newSecretsEncryptCommand(), newTokenCommand())
	// `skiff kubectl ...` hands every argument to kubectl, flags included.
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
