package cli

import (
	"bytes"
	"errors"
	"strings"

	"fmt"

	"gopkg.in/yaml.v3"

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
	var dataDir string
	cmd := &cobra.Command{
		Use:   "demo [--data-dir DIR]",
		Short: "Print the built-in demo configuration (a starting point for your own)",
		Long: `Print the demo's configuration. While ` + "`linewatch demo`" + ` runs, every CLI
command accepts it with -c FILE: the NATS credentials are read from data_dir
(give the demo's --data-dir; relative paths are from where you run the
commands) and, influxdb.url being empty, the embedded InfluxDB's URL too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(demoYAML(dataDir))
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", config.DefaultDataDir, "the data dir of the demo (its --data-dir)")
	return cmd
}

// demoYAML is the demo configuration with data_dir set to dir.
func demoYAML(dir string) []byte {
	const key = "data_dir: " + config.DefaultDataDir
	if dir == config.DefaultDataDir || !bytes.Contains(config.DemoYAML, []byte(key)) {
		return config.DemoYAML
	}
	q, _ := yaml.Marshal(dir) // quoted as YAML needs
	return bytes.Replace(config.DemoYAML, []byte(key), []byte("data_dir: "+strings.TrimSpace(string(q))), 1)
}
