package cli

import "github.com/spf13/cobra"

func newAlarmsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "alarms",
		Short: "List, watch, acknowledge and shelve alarms",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch alarms", "issue #6")
		},
	}
}
