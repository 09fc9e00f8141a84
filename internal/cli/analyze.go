package cli

import "github.com/spf13/cobra"

func newAnalyzeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "analyze",
		Short: "Run analytics offline (replay CSV or an InfluxDB range)",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch analyze", "issue #5")
		},
	}
}
