package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/reports"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage report signing keys",
	}
	cmd.AddCommand(newKeysGenerateCmd())
	return cmd
}

func newKeysGenerateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "generate -c FILE",
		Short: "Create the Ed25519 report signing key (reports.signing_key_file, mode 0600) and its public key (.pub)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{fmt.Errorf("keys generate: -c FILE required (reports.signing_key_file says where the key goes)")}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			pub, err := reports.GenerateKey(cfg.Reports.SigningKeyFile)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing key %s (mode 0600)\npublic key  %s\nkey id      %s\nGive the public key to whoever verifies reports: linewatch report verify FILE --pubkey %s\n",
				cfg.Reports.SigningKeyFile, reports.PublicKeyFile(cfg.Reports.SigningKeyFile), reports.KeyID(pub), reports.PublicKeyFile(cfg.Reports.SigningKeyFile))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file")
	return cmd
}
