package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check and show configuration",
	}
	cmd.AddCommand(newConfigCheckCmd(), newConfigDemoCmd())
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "check -c FILE",
		Short: "Check a config file and print every problem (exit 1 when there is any)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{errors.New("config check: -c FILE required")}
			}
			cfg, err := config.Load(file)
			var errs config.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintln(cmd.OutOrStdout(), e.Error())
				}
				return withCode(ExitFailure, fmt.Errorf("%s: %d problem(s)", file, len(errs)))
			}
			if err != nil {
				return withCode(ExitFailure, err)
			}
			machines := 0
			for _, l := range cfg.Lines {
				machines += len(l.Machines)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: site %s, %d lines, %d machines, %d tags, %d analytics rules, %d alarm routes\n",
				file, cfg.Site, len(cfg.Lines), machines, len(cfg.AllTags()), len(cfg.Analytics.Rules), len(cfg.Alarms.Routes))
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file")
	return cmd
}

func newConfigDemoCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Print the built-in demo configuration (a starting point for your own)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(config.DemoYAML)
			return err
		},
	}
}
