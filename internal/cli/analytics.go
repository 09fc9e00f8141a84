package cli

import "github.com/spf13/cobra"

func newAnalyticsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "analytics",
		Short: "Train and inspect analytics models",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch analytics", "issue #5")
		},
	}
}
