package cli

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/sample"
)

func newAnalyticsAutocorrelationCmd() *cobra.Command {
	var (
		file, input, tag, from, to string
		lags                       int
		lambda                     float64
	)
	cmd := &cobra.Command{
		Use:   "autocorrelation --tag L/M/T (-c CONFIG --from T --to T | --csv FILE) [--lags 25] [--lambda 0.05]",
		Short: "Estimate a tag's in-control mean, sigma and autocorrelation for an EWMA baseline",
		Long: `Reads the good values of one tag over an in-control period, in the order the
analytics engine charts them (one reading per new source timestamp), and prints
their mean, standard deviation and autocorrelation ρ(1)…ρ(lags) as the
baseline and autocorrelation keys of an ewma rule. With them the EWMA's limits
hold for correlated readings (Zhang's EWMAST chart; docs/analytics.md).

The period must be free of faults and known shifts, and the tag polled at the
interval it will be charted at: ρ is per reading, so it changes with the poll
interval. Each ρ(k) has a standard error of about 1/√n: a week of 30 s
readings gives ±0.007.

From InfluxDB: -c CONFIG --from T --to T (RFC 3339). From a CSV: --csv FILE
with columns time,line,machine,tag,value[,quality] (as linewatch analyze reads).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tag == "" {
				return usageError{errors.New("autocorrelation: --tag line/machine/tag is required")}
			}
			if (input == "") == (from == "" && to == "") {
				return usageError{errors.New("autocorrelation: give --csv FILE, or -c CONFIG --from T --to T")}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			parts := strings.Split(tag, "/")
			if len(parts) != 3 {
				return usageError{fmt.Errorf("autocorrelation: --tag %q: want line/machine/tag", tag)}
			}
			var samples iter.Seq2[sample.Sample, error]
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer f.Close()
				samples = engine.ReadCSV(f, cfg.Site)
			} else {
				if _, ok := cfg.Tag(parts[0], parts[1], parts[2]); !ok {
					return withCode(ExitFailure, fmt.Errorf("tag %q is not in the config; check line, machine and tag names (linewatch config check)", tag))
				}
				s, closeFn, err := influxSamples(cmd.Context(), cfg, from, to, parts...)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer closeFn()
				samples = s
			}
			xs, err := chartedValues(samples, tag)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			mean, sd, rho, err := detect.Autocorrelation(xs, lags)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("%s: %w", tag, err))
			}
			writeAutocorrelation(cmd.OutOrStdout(), tag, len(xs), mean, sd, rho, lambda)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file: InfluxDB connection and site (default: the demo config)")
	cmd.Flags().StringVar(&input, "csv", "", "CSV of samples: time,line,machine,tag,value[,quality]")
	cmd.Flags().StringVar(&tag, "tag", "", "line/machine/tag to estimate")
	cmd.Flags().StringVar(&from, "from", "", "start of the in-control range (RFC 3339, inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "end of the in-control range (RFC 3339, exclusive)")
	cmd.Flags().IntVar(&lags, "lags", 25, "number of lags ρ(1)…ρ(lags) (a few times the EWMA's memory 1/λ is plenty)")
	cmd.Flags().Float64Var(&lambda, "lambda", 0.05, "EWMA λ for the variance factor printed")
	return cmd
}

// chartedValues keeps what the engine charts: good, finite values of the
// tag, one per new source timestamp, in time order.
func chartedValues(samples iter.Seq2[sample.Sample, error], key string) ([]float64, error) {
	var xs []float64
	var last time.Time
	for s, err := range samples {
		if err != nil {
			return nil, err
		}
		if s.Key() != key || s.Text != "" || !s.Good() || !finite(s.Value) {
			continue
		}
		if len(xs) > 0 && !s.Time.After(last) {
			continue
		}
		last = s.Time
		xs = append(xs, s.Value)
	}
	return xs, nil
}

func writeAutocorrelation(w io.Writer, tag string, n int, mean, sd float64, rho []float64, lambda float64) {
	sum, lagged := 0.0, 0.0
	for k, r := range rho {
		sum += r
		lagged += r * math.Pow(1-lambda, float64(k+1))
	}
	fmt.Fprintf(w, "%s: %d readings, mean %.6g, sd %.6g, ρ(1) %.3f (standard error ±%.3f)\n", tag, n, mean, sd, rho[0], 1/math.Sqrt(float64(n)))
	fmt.Fprintf(w, "EWMA (λ %g) standard deviation %.4g × the iid formula's; long-run sigma σ·√(1+2Σρ) = %.6g (for a CUSUM's baseline)\n",
		lambda, math.Sqrt(1+2*lagged), sd*math.Sqrt(max(0, 1+2*sum)))
	fmt.Fprintf(w, "ewma: {lambda: %g, baseline: {mean: %.6g, sigma: %.4g},\n       autocorrelation: [", lambda, mean, sd)
	for k, r := range rho {
		if k > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%.3f", r)
	}
	fmt.Fprintln(w, "]}")
}
