package cli

import "github.com/spf13/cobra"

func newSimulateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "simulate",
		Short: "Run the OPC UA plant simulator",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch simulate", "issue #3")
		},
	}
}
