package cli

import "github.com/spf13/cobra"

func newDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on embedded defaults with a simulated plant",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch demo", "issue #9")
		},
	}
}
