package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/server"
)

func newKubeconfigCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the admin kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := server.AdminKubeconfigPath(dataDir)
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("reading %s (has `skiff server` run with --data-dir %s?): %w", path, dataDir, err)
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", server.DefaultDataDir(), "the server's data directory")
	return cmd
}
