package cli

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/internal/app"
)

func newRunCmd() *cobra.Command {
	var (
		file, roles, logLevel string
	)
	cmd := &cobra.Command{
		Use:   "run -c FILE [--roles collector,analytics,alerts,console]",
		Short: "Run linewatch from a config file (all roles, or the ones given)",
		Long: `Runs the roles of linewatch against the NATS server and InfluxDB named in the
config (embedded ones when their URLs are empty):

  collector  reads the configured OPC UA machines into InfluxDB and NATS
  analytics  runs the detectors on the TELEMETRY stream
  alerts     runs the ISA-18.2 alarm service, notifications and the audit trail
  console    serves the web operator console

Roles may run as separate processes on separate machines against one NATS
cluster and InfluxDB (docs/deployment.md). Ctrl-C or SIGTERM stops cleanly
within 5 s, spooling to disk what InfluxDB has not taken yet.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return usageError{errors.New("run: -c FILE required (try `linewatch demo` for the built-in plant)")}
			}
			r, err := app.ParseRoles(roles)
			if err != nil {
				return usageError{err}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return usageError{err}
			}
			return app.Run(cmd.Context(), app.Options{Config: cfg, Roles: r, Logger: log,
				OnReady: func(i app.Info) {
					fmt.Fprintf(cmd.OutOrStdout(), "linewatch running (%s): NATS %s, InfluxDB %s/%s, console %s, metrics %s\n",
						r, i.NATSURL, i.InfluxURL, i.Database, orNone(i.ConsoleURL), orNone(i.MetricsURL))
				}})
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file")
	cmd.Flags().StringVar(&roles, "roles", "all", "roles to run: collector, analytics, alerts, console (comma-separated) or all")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "(off)"
	}
	return s
}

func newLogger(w interface{ Write([]byte) (int, error) }, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	if w == nil {
		w = os.Stderr
	}
	lg := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
	routeStdLog(lg)
	return lg, nil
}

// routeStdLog sends the standard library logger's output (gopcua's
// nodeset import prints "New Node Set …", "doing objects." with package
// log at every OPC UA server start) through lg at debug level, so that it
// reaches the terminal only with --log-level debug.
func routeStdLog(lg *slog.Logger) {
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(stdLogWriter{lg.With("component", "stdlog")})
}

type stdLogWriter struct{ lg *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	w.lg.Debug(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
