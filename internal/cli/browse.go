package cli

import "github.com/spf13/cobra"

func newBrowseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "browse ENDPOINT",
		Short: "Browse an OPC UA server's address space and emit tag YAML",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch browse", "issue #4")
		},
	}
}
