package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

func newAnalyticsTrainBatchCmd() *cobra.Command {
	var (
		file, line, model, out string
		from, to               string
		ids                    []string
		opts                   batchev.Options
	)
	cmd := &cobra.Command{
		Use:   "train-batch -c CONFIG --line LINE (--batches ID,… | --from T --to T) [--model NAME] [-o model.json]",
		Short: "Train a golden-batch (batch evolution) model on good batches read from InfluxDB",
		Long: `Trains the golden-batch model of a batch line on good batches: the batches
given by --batches, or every batch that started at or after --from and ended
before --to (running batches are left out). The batches and their samples
are read from InfluxDB (measurements batches and telemetry).

The tags, phase tag and model file come from the line's entry in
analytics.batch_models (--model NAME when the line has several). Each batch
is aligned by phase and by maturity (elapsed time in the phase, in slices of
--step); the model holds each variable's mean and ±σ envelope per slice, a
local PCA per slice with Hotelling T² and SPE limits, and the phase
durations, with the ids of the source batches and a SHA-256 of its content
(docs/analytics.md, golden batch).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case file == "" || line == "":
				return usageError{errors.New("train-batch: -c CONFIG and --line LINE are required")}
			case len(ids) > 0 && (from != "" || to != ""):
				return usageError{errors.New("train-batch: give either --batches or --from/--to, not both")}
			case len(ids) == 0 && (from == "" || to == ""):
				return usageError{errors.New("train-batch: give --batches ID,… or --from T --to T")}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			mc, err := batchModelEntry(cfg, line, model)
			if err != nil {
				return withCode(ExitFailure, err)
			}
			if out == "" {
				out = mc.File
				if !filepath.IsAbs(out) && cfg.File != "" {
					out = filepath.Join(filepath.Dir(cfg.File), out)
				}
			}
			var f, t time.Time
			if len(ids) == 0 {
				if f, err = time.Parse(time.RFC3339, from); err != nil {
					return withCode(ExitFailure, fmt.Errorf("--from %q: want an RFC 3339 time, e.g. 2026-11-23T06:00:00Z", from))
				}
				if t, err = time.Parse(time.RFC3339, to); err != nil {
					return withCode(ExitFailure, fmt.Errorf("--to %q: want an RFC 3339 time", to))
				}
				if !t.After(f) {
					return withCode(ExitFailure, fmt.Errorf("--to %s is not after --from %s", to, from))
				}
			}
			if cfg.InfluxDB.URL == "" {
				return withCode(ExitFailure, errors.New("influxdb.url is empty in the config: training needs the InfluxDB that holds the batches"))
			}
			c, err := store.NewClient(cfg.InfluxDB, store.ClientOptions{})
			if err != nil {
				return withCode(ExitFailure, err)
			}
			defer c.Close()
			bs, err := selectBatches(cmd.Context(), c, cfg.Site, line, ids, f.UTC(), t.UTC())
			if err != nil {
				return withCode(ExitFailure, err)
			}
			opts.Name, opts.Line, opts.Variables, opts.PhaseTag = mc.Name, mc.Line, mc.Tags, mc.PhaseTag
			opts.Source = fmt.Sprintf("influxdb %s database %s", redactedURL(cfg.InfluxDB.URL), cfg.InfluxDB.Database)
			step := opts.Step
			if step == 0 {
				step = batchev.DefaultStep
			}
			fm := display.MustNew(cfg)
			var train []batchev.Batch
			for _, b := range bs {
				evs, n, err := alignStoredBatch(cmd.Context(), c, cfg.Site, mc, b, step)
				if err != nil {
					return withCode(ExitFailure, err)
				}
				slicesN := 0
				for _, e := range evs {
					if e.Kind == batchev.EvSlice {
						slicesN++
					}
				}
				if slicesN == 0 {
					return withCode(ExitFailure, fmt.Errorf("batch %s (%s – %s): %d samples but no maturity slice: no value of the phase tag %s? check the tags of analytics.batch_models",
						sample.Escape(b.ID), fm.Time(b.Start), fm.Time(b.End), n, mc.PhaseTag))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "batch %s: %s – %s, %d samples, %d slices\n", sample.Escape(b.ID), fm.Time(b.Start), fm.Time(b.End), n, slicesN)
				train = append(train, batchev.Batch{ID: b.ID, Events: evs})
			}
			m, err := batchev.Train(train, opts)
			if err != nil {
				return withCode(ExitFailure, fmt.Errorf("train-batch %s: %w", mc.Name, err))
			}
			if err := m.Save(out); err != nil {
				return withCode(ExitFailure, err)
			}
			var phases []string
			for _, p := range m.Phases {
				phases = append(phases, fmt.Sprintf("%s %d points", p.Name, len(p.Points)))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model %s: line %s, %d variables, %d good batches, maturity step %s; phases: %s; written to %s\n",
				m.Name, m.Line, len(m.Variables), len(m.Batches), m.Step, strings.Join(phases, ", "), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "config file: InfluxDB connection and analytics.batch_models")
	cmd.Flags().StringVar(&line, "line", "", "the batch line")
	cmd.Flags().StringVar(&model, "model", "", "the analytics.batch_models entry (default: the line's only one)")
	cmd.Flags().StringSliceVar(&ids, "batches", nil, "good batch ids (comma separated)")
	cmd.Flags().StringVar(&from, "from", "", "train on the batches that started at or after this (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "… and ended before this (RFC 3339)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "model file to write (default: the entry's file)")
	cmd.Flags().DurationVar(&opts.Step, "step", batchev.DefaultStep, "maturity slice width")
	cmd.Flags().IntVar(&opts.Window, "window", batchev.DefaultWindow, "slices either side pooled into each slice's σ and PCA")
	cmd.Flags().Float64Var(&opts.Sigma, "sigma", batchev.DefaultSigma, "envelope half-width in σ")
	cmd.Flags().Float64Var(&opts.Alpha, "alpha", batchev.DefaultAlpha, "false-alarm probability of each slice's T² and SPE limits")
	cmd.Flags().IntVar(&opts.Consecutive, "consecutive", batchev.DefaultConsecutive, "slices in a row outside before a finding")
	return cmd
}

// batchModelEntry finds the analytics.batch_models entry of line.
func batchModelEntry(cfg *config.Config, line, model string) (config.BatchModel, error) {
	var names []string
	var found []config.BatchModel
	for _, m := range cfg.Analytics.BatchModels {
		if m.Line != line {
			continue
		}
		names = append(names, m.Name)
		if model == "" || m.Name == model {
			found = append(found, m)
		}
	}
	switch {
	case len(names) == 0:
		return config.BatchModel{}, fmt.Errorf("line %s has no entry in analytics.batch_models: add one (name, file, line, tags, phase_tag; docs/configuration.md)", line)
	case len(found) == 0:
		return config.BatchModel{}, fmt.Errorf("--model %q: line %s has batch models %q", model, line, names)
	case len(found) > 1:
		return config.BatchModel{}, fmt.Errorf("line %s has batch models %q: choose one with --model", line, names)
	}
	return found[0], nil
}

// selectBatches returns the finished batches of line named by ids (all of
// them must exist) or that ran within [from, to).
func selectBatches(ctx context.Context, c *store.Client, site, line string, ids []string, from, to time.Time) ([]store.Batch, error) {
	all, err := c.Batches(ctx, site, line, from)
	if err != nil {
		return nil, err
	}
	var out []store.Batch
	if len(ids) > 0 {
		for _, id := range ids {
			i := slices.IndexFunc(all, func(b store.Batch) bool { return b.ID == id })
			switch {
			case i < 0:
				return nil, fmt.Errorf("batch %s of line %s is not in InfluxDB measurement batches (linewatch batches list -c CONFIG --line %s)", sample.Escape(id), line, line)
			case all[i].End.IsZero():
				return nil, fmt.Errorf("batch %s is still running: train on finished batches", sample.Escape(id))
			}
			out = append(out, all[i])
		}
		return out, nil
	}
	for _, b := range all {
		if !b.Start.Before(from) && !b.End.IsZero() && b.End.Before(to) {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no finished batch of line %s ran within %s – %s (%d batches started since); check the range with linewatch batches list", line,
			from.Format(time.RFC3339), to.Format(time.RFC3339), len(all))
	}
	return out, nil
}

// alignStoredBatch reads one batch's samples and aligns them as the live
// detector does (from the batch start, so its first phase is seen begin).
func alignStoredBatch(ctx context.Context, c *store.Client, site string, mc config.BatchModel, b store.Batch, step time.Duration) ([]batchev.Event, int, error) {
	q := store.SampleQuery{Site: site, Line: mc.Line, Batch: b.ID, From: b.Start, To: b.End.Add(time.Second)}
	idx := map[string]int{}
	for i, t := range mc.Tags {
		idx[t] = i
	}
	for _, t := range append(slices.Clone(mc.Tags), mc.PhaseTag) {
		_, tag, _ := strings.Cut(t, "/")
		if !slices.Contains(q.Tags, tag) {
			q.Tags = append(q.Tags, tag)
		}
	}
	a := batchev.AlignBatch(len(mc.Tags), step)
	var evs []batchev.Event
	n := 0
	for s, err := range c.Samples(ctx, q) {
		if err != nil {
			return nil, 0, fmt.Errorf("read batch %s from InfluxDB: %w", sample.Escape(b.ID), err)
		}
		key := s.Machine + "/" + s.Tag
		if !s.Good() {
			continue // a reference holds trusted values only
		}
		n++
		if key == mc.PhaseTag {
			evs = a.PhaseValue(s.Batch, s.Time, batchev.PhaseText(s.Text, s.Value), evs)
		} else if i, ok := idx[key]; ok && s.Text == "" {
			evs = a.Value(s.Batch, s.Time, i, s.Value, evs)
		}
	}
	return a.Flush(evs), n, nil
}
