package cli

import "github.com/spf13/cobra"

func newPKICmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pki",
		Short: "Manage OPC UA certificates and the server trust list",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch pki", "issue #4")
		},
	}
}
