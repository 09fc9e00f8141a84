package cli

import "github.com/spf13/cobra"

func newRunCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the collector, analytics and alerts roles from a config file",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch run", "issue #9")
		},
	}
}
