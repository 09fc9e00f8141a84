package cli

import "github.com/spf13/cobra"

func newDashboardsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dashboards",
		Short: "Generate Grafana provisioning from the config",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch dashboards", "issue #7")
		},
	}
}
