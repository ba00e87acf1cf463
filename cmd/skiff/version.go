package main

import (
	"fmt"

	"github.com/spf13/cobra"
	k8sversion "k8s.io/component-base/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the skiff and Kubernetes versions",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			k := k8sversion.Get()
			fmt.Fprintf(cmd.OutOrStdout(), "skiff version %s\nKubernetes version %s\nGo version %s\n", version, k.GitVersion, k.GoVersion)
		},
	}
}
