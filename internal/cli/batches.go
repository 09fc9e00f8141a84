package cli

import "github.com/spf13/cobra"

func newBatchesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "batches",
		Short: "List batches recorded by the collector",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch batches", "issue #8")
		},
	}
}
