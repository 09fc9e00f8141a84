package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

func newAnalyticsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "analytics",
		Short: "Train and inspect analytics models",
	}
	cmd.AddCommand(newAnalyticsTrainCmd(), newAnalyticsTrainBatchCmd(), newAnalyticsAutocorrelationCmd())
	return cmd
}

func newAnalyticsTrainCmd() *cobra.Command {
	var (
		input, out, name  string
		file, model, from string
		to                string
		tags              []string
		step, maxAge      time.Duration
		opts              pca.Options
	)
	cmd := &cobra.Command{
		Use:   "train (--csv FILE --name NAME | -c CONFIG --from T --to T (--model NAME | --tags L/M/T,… --name NAME)) -o model.json",
		Short: "Train a multivariate PCA model (Hotelling T² and Q limits) on in-control reference data",
		Long: `Trains a PCA model on a reference period of normal operation and saves it as
a model file (JSON with a version and a SHA-256 of its content, see docs/analytics.md).

From a CSV (--csv): the CSV is wide, an RFC 3339 time column, then one column per
variable, in time order. Reference it from analytics.models in the config with the
tags in the same order as the CSV columns.

From InfluxDB (-c CONFIG --from T --to T): the tags are those of the model
--model in analytics.models (name, line and tag order taken from the config), or
--tags line/machine/tag,… with --name. Each tag's samples are aligned on a time grid
of --step (default: the tags' poll interval), carrying each tag's last value
forward; grid points where a tag has no value yet, its last value is not good
quality, or is older than --max-age are left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fromInflux := from != "" || to != "" || model != "" || len(tags) > 0
			switch {
			case out == "":
				return usageError{errors.New("train: -o FILE is required")}
			case input != "" && fromInflux:
				return usageError{errors.New("train: give either --csv or --from/--to, not both")}
			case input == "" && !fromInflux:
				return usageError{errors.New("train: give --csv FILE, or -c CONFIG --from T --to T with --model or --tags")}
			}
			var m *pca.Model
			if input != "" {
				if name == "" {
					return usageError{errors.New("train: --csv needs --name")}
				}
				f, err := os.Open(input)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				defer f.Close()
				opts.Name, opts.Source = name, input
				if m, err = pca.TrainCSV(f, opts); err != nil {
					return withCode(ExitFailure, fmt.Errorf("train %s: %w", input, err))
				}
			} else {
				if file == "" || from == "" || to == "" {
					return usageError{errors.New("train: an InfluxDB range needs -c CONFIG, --from and --to")}
				}
				if (model == "") == (len(tags) == 0) {
					return usageError{errors.New("train: give --model NAME (from analytics.models) or --tags line/machine/tag,… with --name, not both")}
				}
				if len(tags) > 0 && name == "" {
					return usageError{errors.New("train: --tags needs --name")}
				}
				if model != "" && name != "" && name != model {
					return usageError{fmt.Errorf("train: --name %q differs from --model %q; the model keeps its configured name", name, model)}
				}
				cfg, err := loadConfig(file)
				if err != nil {
					return err
				}
				ref, err := influxTrainingSet(cfg, model, name, tags, from, to, step, maxAge)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				w, err := readAligned(cmd.Context(), cfg, ref)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d grid points of %s, %d rows used; left out: %d before every tag had a value, %d with a non-good value, %d with a value older than %s\n",
					ref.name, w.points, ref.step, w.X.RawMatrix().Rows, w.missing, w.notGood, w.stale, ref.maxAge)
				opts.Name, opts.From, opts.To = ref.name, ref.from, ref.to
				opts.Source = fmt.Sprintf("influxdb %s database %s, step %s", redactedURL(cfg.InfluxDB.URL), cfg.InfluxDB.Database, ref.step)
				if m, err = pca.Train(w.X, ref.vars, opts); err != nil {
					return withCode(ExitFailure, fmt.Errorf("train %s on %s – %s: %w", ref.name, from, to, err))
				}
			}
			if err := m.Save(out); err != nil {
				return withCode(ExitFailure, err)
			}
			residual := ""
			if m.ResidualComponents > 0 {
				residual = fmt.Sprintf(", residual T² over %d components limit %.4g", m.ResidualComponents, m.T2RLimit)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model %s: %d variables, %d components, %d rows, T² limit %.4g, Q limit %.4g%s (α = %g), written to %s\n",
				m.Name, len(m.Variables), m.Components, m.TrainingRows, m.T2Limit, m.QLimit, residual, m.Alpha, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "csv", "", "wide CSV of in-control reference data")
	cmd.Flags().StringVarP(&out, "output", "o", "", "model file to write")
	cmd.Flags().StringVar(&name, "name", "", "model name (the tag of its findings)")
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file: InfluxDB connection, tags and analytics.models")
	cmd.Flags().StringVar(&model, "model", "", "train the model of this name in analytics.models (its line and tags, in order)")
	cmd.Flags().StringSliceVar(&tags, "tags", nil, "line/machine/tag of each variable, in model order (comma separated)")
	cmd.Flags().StringVar(&from, "from", "", "start of the InfluxDB reference range (RFC 3339, inclusive)")
	cmd.Flags().StringVar(&to, "to", "", "end of the InfluxDB reference range (RFC 3339, exclusive)")
	cmd.Flags().DurationVar(&step, "step", 0, "alignment grid (default: the largest poll or publishing interval of the tags)")
	cmd.Flags().DurationVar(&maxAge, "max-age", 0, "longest a value is carried forward (default: 3 × step)")
	cmd.Flags().IntVar(&opts.Components, "components", 0, "retained components a (0 = by cumulative variance)")
	cmd.Flags().Float64Var(&opts.CPV, "cpv", 0.9, "cumulative fraction of variance when --components is 0")
	cmd.Flags().Float64Var(&opts.Alpha, "alpha", 0.01, "false-alarm probability of the T² and Q limits")
	cmd.Flags().IntVar(&opts.Lags, "lags", 0, "dynamic PCA: previous observations added to each (0 = static)")
	cmd.Flags().BoolVar(&opts.ResidualT2, "residual-t2", false, "also monitor the residual T² (rule t2r): broken tight relations that Q misses")
	return cmd
}

// trainingSet is what to read from InfluxDB for training.
type trainingSet struct {
	name         string
	vars         []string // model variable names, in order
	keys         []string // line/machine/tag of each variable
	from, to     time.Time
	step, maxAge time.Duration
}

// influxTrainingSet resolves the model's tags against the config and the
// grid step against their poll groups.
func influxTrainingSet(cfg *config.Config, model, name string, tags []string, from, to string, step, maxAge time.Duration) (trainingSet, error) {
	ref := trainingSet{name: name}
	if model != "" {
		i := slices.IndexFunc(cfg.Analytics.Models, func(m config.PCAModel) bool { return m.Name == model })
		if i < 0 {
			var names []string
			for _, m := range cfg.Analytics.Models {
				names = append(names, m.Name)
			}
			return ref, fmt.Errorf("--model %q is not in analytics.models of the config (it has %q); add it there or use --tags", model, names)
		}
		mc := cfg.Analytics.Models[i]
		ref.name = mc.Name
		for _, t := range mc.Tags {
			ref.vars = append(ref.vars, t) // machine/tag, as the config lists them
			ref.keys = append(ref.keys, mc.Line+"/"+t)
		}
	} else {
		for _, t := range tags {
			t = strings.TrimSpace(t)
			ref.vars = append(ref.vars, t)
			ref.keys = append(ref.keys, t)
		}
	}
	if len(ref.keys) < 2 {
		return ref, fmt.Errorf("a PCA model needs at least 2 tags, got %d", len(ref.keys))
	}
	var interval time.Duration
	for _, k := range ref.keys {
		parts := strings.Split(k, "/")
		if len(parts) != 3 {
			return ref, fmt.Errorf("tag %q: want line/machine/tag", k)
		}
		tr, ok := cfg.Tag(parts[0], parts[1], parts[2])
		if !ok {
			return ref, fmt.Errorf("tag %q is not in the config; check line, machine and tag names (linewatch config check)", k)
		}
		interval = max(interval, readInterval(tr))
	}
	var err error
	if ref.from, err = time.Parse(time.RFC3339, from); err != nil {
		return ref, fmt.Errorf("--from %q: want an RFC 3339 time, e.g. 2026-11-23T06:00:00Z", from)
	}
	if ref.to, err = time.Parse(time.RFC3339, to); err != nil {
		return ref, fmt.Errorf("--to %q: want an RFC 3339 time, e.g. 2026-11-23T14:00:00Z", to)
	}
	ref.from, ref.to = ref.from.UTC(), ref.to.UTC()
	if !ref.to.After(ref.from) {
		return ref, fmt.Errorf("--to %s is not after --from %s", to, from)
	}
	ref.step = step
	if ref.step == 0 {
		ref.step = interval
	}
	if ref.step <= 0 {
		return ref, errors.New("no poll or publishing interval found for the tags; give --step")
	}
	if n := ref.to.Sub(ref.from) / ref.step; n > maxTrainingPoints {
		return ref, fmt.Errorf("%s to %s at step %s is %d grid points, more than %d; choose a shorter range or a larger --step", from, to, ref.step, n, maxTrainingPoints)
	}
	ref.maxAge = maxAge
	if ref.maxAge == 0 {
		ref.maxAge = 3 * ref.step
	}
	if ref.maxAge < 0 {
		return ref, fmt.Errorf("--max-age %s must be positive", maxAge)
	}
	return ref, nil
}

// maxTrainingPoints bounds the training matrix (rows × variables float64s).
const maxTrainingPoints = 5_000_000

// readInterval is how often the collector reads a tag: its poll group's
// interval or its subscription's publishing interval (0 if neither).
func readInterval(t config.TagRef) time.Duration {
	for _, g := range t.Machine.PollGroups {
		if slices.Contains(g.Tags, t.Tag.Name) {
			return g.Interval
		}
	}
	for _, s := range t.Machine.Subscriptions {
		if slices.Contains(s.Tags, t.Tag.Name) {
			return s.PublishingInterval
		}
	}
	return 0
}

// alignedSet is the wide training matrix and why grid points were left out.
type alignedSet struct {
	X                               *mat.Dense
	points, missing, notGood, stale int
}

// readAligned streams the range from InfluxDB and aligns it.
func readAligned(ctx context.Context, cfg *config.Config, ref trainingSet) (*alignedSet, error) {
	if cfg.InfluxDB.URL == "" {
		return nil, errors.New("influxdb.url is empty in the config: training from a range needs the InfluxDB that holds the data")
	}
	c, err := store.NewClient(cfg.InfluxDB, store.ClientOptions{})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	q := store.SampleQuery{Site: cfg.Site, From: ref.from, To: ref.to}
	lines := map[string]bool{}
	for _, k := range ref.keys {
		l, rest, _ := strings.Cut(k, "/")
		lines[l] = true
		_, tag, _ := strings.Cut(rest, "/")
		if !slices.Contains(q.Tags, tag) {
			q.Tags = append(q.Tags, tag)
		}
	}
	if len(lines) == 1 {
		q.Line, _, _ = strings.Cut(ref.keys[0], "/")
	}
	return alignSamples(c.Samples(ctx, q), ref)
}

// alignSamples puts samples (in time order) on the grid from, from+step, …
// (before to), carrying each tag's last sample forward: a grid point t takes
// each tag's last sample at or before t. A point is left out when a tag has
// no sample yet, its last sample is not good quality (bad or uncertain: a
// reference period must hold trusted values only), or it is older than
// maxAge (the collector or the machine was down). The grid matches what the
// engine scores live: one observation per read of the poll group.
func alignSamples(samples func(yield func(sample.Sample, error) bool), ref trainingSet) (*alignedSet, error) {
	col := make(map[string]int, len(ref.keys))
	for j, k := range ref.keys {
		col[k] = j
	}
	type last struct {
		v    float64
		t    time.Time
		good bool
		seen bool
	}
	cur := make([]last, len(ref.keys))
	out := &alignedSet{}
	var data []float64
	grid := ref.from
	emit := func(until time.Time) { // the grid points before until
		for grid.Before(ref.to) && grid.Before(until) {
			out.points++
			ok := true
			for _, c := range cur {
				switch {
				case !c.seen:
					out.missing++
				case !c.good:
					out.notGood++
				case grid.Sub(c.t) > ref.maxAge:
					out.stale++
				default:
					continue
				}
				ok = false
				break
			}
			if ok {
				for _, c := range cur {
					data = append(data, c.v)
				}
			}
			grid = grid.Add(ref.step)
		}
	}
	for s, err := range samples {
		if err != nil {
			return nil, fmt.Errorf("read %s – %s from InfluxDB: %w", ref.from.Format(time.RFC3339), ref.to.Format(time.RFC3339), err)
		}
		j, ok := col[s.Key()]
		if !ok || s.Text != "" {
			continue
		}
		emit(s.Time) // they use the values before this sample
		cur[j] = last{v: s.Value, t: s.Time, good: s.Good() && finite(s.Value), seen: true}
	}
	emit(ref.to)
	rows := len(data) / len(ref.keys)
	if rows == 0 {
		return nil, fmt.Errorf("no complete rows for %q in %s – %s: %d grid points, %d before every tag had a value, %d with a non-good value, %d stale; check the range and tag names",
			ref.keys, ref.from.Format(time.RFC3339), ref.to.Format(time.RFC3339), out.points, out.missing, out.notGood, out.stale)
	}
	out.X = mat.NewDense(rows, len(ref.keys), data)
	return out, nil
}

// redactedURL drops any user:password from a URL stored in a model file.
func redactedURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	return u.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
