package cli

import "github.com/spf13/cobra"

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Create, sign and verify QA batch reports",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch report", "issue #8")
		},
	}
}
