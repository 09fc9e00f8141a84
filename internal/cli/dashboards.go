package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/dashboards"
)

func newDashboardsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboards",
		Short: "Generate Grafana provisioning from the config",
	}
	cmd.AddCommand(newDashboardsGenerateCmd())
	return cmd
}

func newDashboardsGenerateCmd() *cobra.Command {
	var file, out string
	var opts dashboards.Options
	cmd := &cobra.Command{
		Use:   "generate -c FILE -o DIR",
		Short: "Write the Grafana data source, dashboard provider and dashboards into DIR (Grafana's provisioning folder)",
		Long: `Writes Grafana provisioning generated from the config into DIR:

  DIR/datasources/linewatch.yaml     InfluxDB data source (InfluxQL)
  DIR/dashboards/linewatch.yaml      dashboard provider
  DIR/dashboards/linewatch/*.json    plant overview, one per line, SPC, cold chain,
                                     waste, collector health

Point Grafana's paths.provisioning (GF_PATHS_PROVISIONING) at DIR. Credentials
are written as references ($__env{…}, $__file{…}) that Grafana expands, never
as values. See docs/grafana.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" || out == "" {
				return usageError{errors.New("dashboards generate: -c FILE and -o DIR are required")}
			}
			if opts.TokenEnv != "" && opts.TokenFile != "" {
				return usageError{errors.New("dashboards generate: give --token-env or --token-file, not both")}
			}
			cfg, err := config.Load(file)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("%w\n(run `linewatch config check -c %s` for every problem)", err, file))
			}
			gens, err := dashboards.GenerateWith(cfg, out, opts)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote Grafana provisioning for site %s to %s:\n", cfg.Site, out)
			fmt.Fprintf(w, "  %s\n  %s\n", filepath.Join(out, dashboards.DatasourceFile), filepath.Join(out, dashboards.ProviderFile))
			for _, g := range gens {
				fmt.Fprintf(w, "  %s  %s\n", filepath.Join(out, dashboards.DashboardsDir, g.File), g.Title)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "config", "c", "", "config file")
	f.StringVarP(&out, "out", "o", "", "output directory (Grafana's provisioning folder)")
	f.StringVar(&opts.InfluxURL, "influx-url", "", "InfluxDB URL as Grafana reaches it (default: influxdb.url of the config, or http://127.0.0.1:8086)")
	f.StringVar(&opts.DashboardsPath, "dashboards-path", "", "dashboards folder as Grafana sees it, e.g. inside a container (default: absolute path of DIR/dashboards/linewatch)")
	f.StringVar(&opts.TokenEnv, "token-env", "", "environment variable of Grafana holding its read-only InfluxDB token (default "+dashboards.DefaultTokenEnv+" when the config uses a token)")
	f.StringVar(&opts.TokenFile, "token-file", "", "file Grafana reads its read-only InfluxDB token from")
	f.StringVar(&opts.Refresh, "refresh", "", "dashboard auto-refresh interval (default 30s)")
	return cmd
}
