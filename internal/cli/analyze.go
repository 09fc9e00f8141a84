package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

func newAnalyzeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analyze",
		Short: "Run analytics offline on recorded data (same detectors as live)",
	}
	cmd.AddCommand(newAnalyzeReplayCmd())
	return cmd
}

// loadConfig loads -c FILE, or the built-in demo config when file is "".
func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Demo()
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, withCode(ExitFailure, fmt.Errorf("%w\n(run `linewatch config check -c %s` for the full list)", err, file))
	}
	if cfg.InfluxDB.URL == "" {
		// influxdb.url empty: linewatch run/demo start their own InfluxDB
		// for data_dir and say where while it runs.
		cfg.InfluxDB.URL = app.EmbeddedInfluxURL(cfg.DataDir)
	}
	return cfg, nil
}

func newAnalyzeReplayCmd() *cobra.Command {
	var (
		file, input, format string
		from, to            string
	)
	cmd := &cobra.Command{
		Use:   "replay -c FILE (--input data.csv | --from T --to T)",
		Short: "Replay a CSV file or an InfluxDB range through the configured detectors and print findings",
		Long: `Replays samples through the detectors configured in FILE and prints one JSON
object per finding per line (or a table with --format table).

CSV columns: time,line,machine,tag,value[,quality] with RFC 3339 times; quality is
an OPC UA status code or good/uncertain/bad. Non-good values are ignored by the
detectors unless analytics.include_non_good is set, exactly as live.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			e, err := engine.New(cfg, engine.Options{StatsEvery: -1})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			out := newFindingPrinter(cmd.OutOrStdout(), format, display.MustNew(cfg))
			if out == nil {
				return usageError{fmt.Errorf("--format %q: want json or table", format)}
			}
			var samples func(yield func(sample.Sample, error) bool)
			switch {
			case input != "":
				f, err := os.Open(input)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer f.Close()
				samples = engine.ReadCSV(f, cfg.Site)
			case from != "" || to != "":
				it, closeFn, err := influxSamples(cmd.Context(), cfg, from, to)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer closeFn()
				samples = it
			default:
				return usageError{errors.New("replay: give --input FILE.csv or --from/--to for an InfluxDB range")}
			}
			var fs []analytics.Finding
			n, bad := 0, 0
			for s, err := range samples {
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "linewatch:", err)
					bad++
					continue
				}
				n++
				fs = e.Process(s, fs[:0])
				for _, f := range fs {
					out.print(f)
				}
			}
			out.flush()
			fmt.Fprintf(cmd.ErrOrStderr(), "replayed %d samples (%d unreadable rows) through %d detectors\n", n, bad, len(e.Detectors()))
			if bad > 0 {
				return withCode(ExitFailure, fmt.Errorf("%d rows could not be read", bad))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file (default: the built-in demo config)")
	cmd.Flags().StringVar(&input, "input", "", "CSV file: time,line,machine,tag,value[,quality]")
	cmd.Flags().StringVar(&from, "from", "", "start of an InfluxDB range (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "end of an InfluxDB range (RFC 3339, default now)")
	cmd.Flags().StringVar(&format, "format", "json", "json (one object per line) or table")
	return cmd
}

// findingJSON is the documented replay output (docs/analytics.md).
type findingJSON struct {
	Time      string  `json:"time"`
	Line      string  `json:"line"`
	Machine   string  `json:"machine"`
	Tag       string  `json:"tag"`
	Detector  string  `json:"detector"`
	Rule      string  `json:"rule,omitempty"`
	Active    bool    `json:"active"`
	Value     float64 `json:"value"`
	Statistic float64 `json:"statistic"`
	Limit     float64 `json:"limit"`
	Severity  string  `json:"severity"`
	Message   string  `json:"message"`
	ID        string  `json:"id"`
}

type findingPrinter struct {
	enc *json.Encoder
	tw  *tabwriter.Writer
	f   *display.Formatter // the table's values and times
}

func newFindingPrinter(w io.Writer, format string, f *display.Formatter) *findingPrinter {
	switch format {
	case "json":
		return &findingPrinter{enc: json.NewEncoder(w)}
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tLINE/MACHINE/TAG\tDETECTOR\tRULE\tSTATE\tVALUE\tSTATISTIC\tLIMIT\tSEVERITY\tMESSAGE")
		return &findingPrinter{tw: tw, f: f}
	}
	return nil
}

func (p *findingPrinter) print(f analytics.Finding) {
	if p.enc != nil {
		p.enc.Encode(findingJSON{
			Time: f.Time.UTC().Format(time.RFC3339Nano), Line: f.Line, Machine: f.Machine, Tag: f.Tag,
			Detector: f.Detector, Rule: f.Rule, Active: f.Active, Value: f.Value, Statistic: f.Statistic,
			Limit: f.Limit, Severity: f.Severity.String(), Message: f.Message, ID: f.ID,
		})
		return
	}
	state := "cleared"
	if f.Active {
		state = "ACTIVE"
	}
	// Value, statistic and limit as what they measure (the tag's unit, a
	// duration, a percentage, a z-score: detect.Quantities).
	fmt.Fprintf(p.tw, "%s\t%s/%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.f.Time(f.Time),
		f.Line, f.Machine, f.Tag, f.Detector, f.Rule, state, p.f.FindingValue(f.Line, f.Machine, f.Tag, f.Detector, f.Rule, f.Value),
		p.f.FindingStatistic(f.Line, f.Machine, f.Tag, f.Detector, f.Rule, f.Statistic),
		p.f.FindingLimit(f.Line, f.Machine, f.Tag, f.Detector, f.Rule, f.Limit), f.Severity, f.Message)
}

func (p *findingPrinter) flush() {
	if p.tw != nil {
		p.tw.Flush()
	}
}
