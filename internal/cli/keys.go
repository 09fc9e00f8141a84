package cli

import "github.com/spf13/cobra"

func newKeysCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keys",
		Short: "Manage report signing keys",
		RunE: func(cmd *cobra.Command, args []string) error {
			return notImplemented("linewatch keys", "issue #8")
		},
	}
}
