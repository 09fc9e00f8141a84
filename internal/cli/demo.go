package cli

import (
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/linewatch/linewatch/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		o        demo.Options
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on embedded defaults against a simulated plant",
		Long: `Runs everything on this machine: the simulated plant (OPC UA on 127.0.0.1:4840),
an embedded InfluxDB 1.8 (built with ` + "`go install`" + ` on first use, about 90 s) and
NATS server, collector, analytics, alarms, notifications and the operator console
(http://127.0.0.1:8080, logins printed at start). It writes Grafana provisioning and,
at the end of each batch, a signed PDF batch report into the data dir, and plays a
scripted fault scenario at accelerated time: fill-weight drift, a cold-room door
left open, an OPC UA server restart and reject-rate creep. Ctrl-C stops everything
within 5 s; the data stays in the data dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel)
			if err != nil {
				return usageError{err}
			}
			o.Out, o.Logger = cmd.OutOrStdout(), log
			o.Color = term.IsTerminal(int(os.Stdout.Fd()))
			return demo.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "linewatch-data", "where the demo keeps its data")
	cmd.Flags().Float64Var(&o.Speed, "speed", 30, "simulated seconds per real second")
	cmd.Flags().BoolVar(&o.NoFaults, "no-faults", false, "run the plant without the scripted faults")
	cmd.Flags().BoolVar(&o.Resume, "resume", false, "continue the run kept in the data dir (without it, a data dir with a previous run is refused)")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	return cmd
}
