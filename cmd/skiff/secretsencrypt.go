package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-dev/skiff/server"
)

func newSecretsEncryptCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets-encrypt",
		Short: "Inspect and rotate the encryption of secrets in the datastore",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSecretsEncryptStatusCommand(), newSecretsEncryptRotateCommand())
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

func newSecretsEncryptRotateCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Encrypt every secret with a new key, while the server runs",
		Long: "Encrypt every secret with a new key while the server keeps serving: the new key is\n" +
			"added, every secret is rewritten with it, then the old keys are removed. Run it on the\n" +
			"server's host, as the user that owns the data dir.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			res, err := server.RotateEncryptionKey(cmd.Context(), f.dataDir, client, time.Now(), func(msg string) { fmt.Fprintln(out, msg) })
			if err != nil {
				return err
			}
			if len(res.Retired) > 0 {
				fmt.Fprintf(out, "Removed key %s\n", strings.Join(res.Retired, ", "))
			}
			_, err = fmt.Fprintf(out, "Active Key: %s\n", res.NewKey)
			return err
		},
	}
	f.add(cmd)
	return cmd
}
