package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/server"
)

func newSecretsEncryptCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets-encrypt",
		Short: "Inspect the encryption of secrets in the datastore",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSecretsEncryptStatusCommand())
	return cmd
}

func newSecretsEncryptStatusCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the key new secrets are encrypted with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := server.EncryptionConfigPath(dataDir)
			key, err := server.ActiveEncryptionKey(path)
			if err != nil {
				return fmt.Errorf("%w (has `skiff server` run with --data-dir %s?)", err, dataDir)
			}
			out := cmd.OutOrStdout()
			status := "Enabled"
			if key.Provider == "identity" {
				status = "Disabled"
			}
			fmt.Fprintf(out, "Encryption Status: %s\n", status)
			fmt.Fprintf(out, "Provider: %s\n", key.Provider)
			if key.Name != "" {
				fmt.Fprintf(out, "Active Key: %s\n", key.Name)
			}
			_, err = fmt.Fprintf(out, "Config: %s\n", path)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", server.DefaultDataDir(), "the server's data directory")
	return cmd
}
