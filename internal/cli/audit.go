package cli

import "github.com/spf13/cobra"

func newAuditCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the hash-chained audit trail",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch audit", "issue #6")
		},
	}
}
