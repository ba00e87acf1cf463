package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-dev/skiff/server"
	"github.com/skiff-dev/skiff/server/bootstraptoken"
)

// tokenFlags locate the cluster the token commands talk to.
type tokenFlags struct {
	dataDir    string
	kubeconfig string
}

func (f *tokenFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", server.DefaultDataDir(), "the server's data directory, whose admin kubeconfig is used")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig to use instead of the data directory's admin kubeconfig")
}

func (f *tokenFlags) client() (kubernetes.Interface, error) {
	path := f.kubeconfig
	if path == "" {
		path = server.AdminKubeconfigPath(f.dataDir)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w (pass --data-dir or --kubeconfig)", path, err)
	}
	return kubernetes.NewForConfig(cfg)
}

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens, which let agents join the cluster",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenDeleteCommand())
	return cmd
}

func newTokenCreateCommand() *cobra.Command {
	var f tokenFlags
	var o bootstraptoken.Options
	cmd := &cobra.Command{
		Use:   "create [TOKEN]",
		Short: "Create a bootstrap token and print it",
		Long: "Create a bootstrap token and print it. The token is a random one unless given,\n" +
			"in the form [a-z0-9]{6}.[a-z0-9]{16}. A TTL of 0 makes a token that never expires.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Token = args[0]
			}
			client, err := f.client()
			if err != nil {
				return err
			}
			t, err := bootstraptoken.Create(cmd.Context(), client, o, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), t)
			return err
		},
	}
	f.add(cmd)
	cmd.Flags().DurationVar(&o.TTL, "ttl", bootstraptoken.DefaultTTL, "how long the token is valid (such as 1s, 2m, 3h); 0 means forever")
	cmd.Flags().StringVar(&o.Description, "description", "", "a human-friendly description of what the token is for")
	cmd.Flags().StringSliceVar(&o.Usages, "usages", bootstraptoken.DefaultUsages, "what the token may be used for: signing, authentication")
	cmd.Flags().StringSliceVar(&o.Groups, "groups", []string{bootstraptoken.DefaultGroup}, "extra groups the token authenticates as, each matching system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")
	return cmd
}

func newTokenListCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			tokens, err := bootstraptoken.List(cmd.Context(), client)
			if err != nil {
				return err
			}
			return printTokens(cmd.OutOrStdout(), tokens, time.Now())
		},
	}
	f.add(cmd)
	return cmd
}

// printTokens prints the table `kubeadm token list` prints.
func printTokens(w io.Writer, tokens []bootstraptoken.Token, now time.Time) error {
	tw := tabwriter.NewWriter(w, 10, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for _, t := range tokens {
		ttl, expires := "<forever>", "<never>"
		if !t.Expires.IsZero() {
			expires = t.Expires.Format(time.RFC3339)
			ttl = "<invalid>"
			if left := t.Expires.Sub(now); left > 0 {
				ttl = duration.ShortHumanDuration(left)
			}
		}
		usages := slices.Sorted(slices.Values(t.Usages))
		description := t.Description
		if description == "" {
			description = "<none>"
		}
		groups := strings.Join(t.Groups, ",")
		if groups == "" {
			groups = "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t, ttl, expires, strings.Join(usages, ","), description, groups)
	}
	return tw.Flush()
}

func newTokenDeleteCommand() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "delete TOKEN_ID|TOKEN...",
		Short: "Delete bootstrap tokens, named by ID or in full",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := f.client()
			if err != nil {
				return err
			}
			for _, a := range args {
				id, err := bootstraptoken.Delete(cmd.Context(), client, a)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}
