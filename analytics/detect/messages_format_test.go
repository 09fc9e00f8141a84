package detect_test

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// formatConfig is a site in Dublin (IST in July: UTC+1) with a tablet
// weight in mg (1 decimal), a cold-room probe in °F (1 decimal) and one in
// °C (2 decimals).
func formatConfig() *config.Config {
	one, two := 1, 2
	lsl, usl := 240.0, 260.0
	return &config.Config{TimeZone: "Europe/Dublin", Lines: []config.Line{
		{ID: "tab1", Machines: []config.Machine{{ID: "press", Tags: []config.Tag{
			{Name: "tablet_weight", Unit: "mg", Decimals: &one, Spec: config.Spec{LSL: &lsl, USL: &usl}},
			{Name: "good", Unit: "count"}, {Name: "rejects", Unit: "count"},
		}}}},
		{ID: "cold", Machines: []config.Machine{{ID: "room", Tags: []config.Tag{
			{Name: "temp_f", Unit: "°F", Decimals: &one, Role: "temperature"},
			{Name: "temp_c", Unit: "°C", Decimals: &two, Role: "temperature"},
		}}}},
	}}
}

// messages builds spec for line/machine/tag of formatConfig, feeds values
// one minute apart from 08:00 UTC and returns the messages of the
// findings (observe, when set, runs after each sample with the machine's
// clock).
func messages(t *testing.T, spec detect.Builder, line, machine, tag string, values []float64, batches []string) []string {
	t.Helper()
	cfg := formatConfig()
	ref, ok := cfg.Tag(line, machine, tag)
	if !ok {
		t.Fatalf("tag %s/%s/%s not found", line, machine, tag)
	}
	spec.SetDefaults()
	d, err := spec.Build(cfg.Target(ref))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)
	var fs []analytics.Finding
	for i, v := range values {
		s := sample.Sample{Time: t0.Add(time.Duration(i) * time.Minute), Line: line, Machine: machine, Tag: tag, Value: v}
		if batches != nil {
			s.Batch = batches[i]
		}
		fs = d.Update(s, fs)
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Message
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func concat(xs ...[]float64) []float64 {
	var out []float64
	for _, x := range xs {
		out = append(out, x...)
	}
	return out
}

// TestDetectorMessagesUseTagFormat: every detector family writes the
// values of its messages in the tag's unit with its decimals and its
// times in the site zone, 24-hour and labelled (issue 18: "one formatter
// and one clock"); numbers without a unit (z, Cpk, σz) have two decimals,
// percentages a "%" and counts none.
func TestDetectorMessagesUseTagFormat(t *testing.T) {
	mean, sigma := 250.0, 1.0
	baseline := detect.SPCParams{Start: detect.Baseline{Mean: &mean, Sigma: &sigma}}
	for _, c := range []struct {
		name               string
		spec               detect.Builder
		line, machine, tag string
		values             []float64
		batches            []string
		want               []string
	}{
		{name: "ewma", spec: &detect.EWMAParams{SPCParams: baseline, Lambda: 0.2, L: 3},
			line: "tab1", machine: "press", tag: "tablet_weight", values: concat(repeat(250, 3), repeat(254, 3), repeat(250, 10)),
			want: []string{
				"tablet_weight EWMA shift started (upper limit): EWMA 251.4 mg vs limit 250.9 mg (target 250.0 mg, sigma 1.0 mg, lambda 0.2, L 3, point 5)",
				"tablet_weight EWMA shift ended (upper limit): EWMA 250.8 mg vs limit 251.0 mg (target 250.0 mg, sigma 1.0 mg, lambda 0.2, L 3, point 10)",
			}},
		{name: "cusum", spec: &detect.CUSUMParams{SPCParams: baseline, K: 0.5, H: 4},
			line: "tab1", machine: "press", tag: "tablet_weight", values: concat(repeat(250, 3), repeat(253, 3), repeat(247, 6)),
			want: []string{
				"tablet_weight CUSUM upper signal: C = 5.0 mg > H = 4.0 mg (target 250.0 mg, sigma 1.0 mg, k 0.5, h 4); estimated new mean 253.0 mg, shift began about 2 points ago",
				"tablet_weight CUSUM upper signal ended: C = 4.0 mg <= H = 4.0 mg",
				"tablet_weight CUSUM lower signal: C = 5.0 mg > H = 4.0 mg (target 250.0 mg, sigma 1.0 mg, k 0.5, h 4); estimated new mean 247.0 mg, shift began about 2 points ago",
			}},
		{name: "nelson rule 1", spec: &detect.NelsonParams{SPCParams: baseline, Rules: []int{1}},
			line: "tab1", machine: "press", tag: "tablet_weight", values: []float64{250, 253.46, 250.2},
			want: []string{
				"tablet_weight SPC nelson1 (point beyond 3 sigma) started: value 253.5 mg, z = 3.46 (centre 250.0 mg, sigma 1.0 mg, limits 247.0 mg … 253.0 mg)",
				"tablet_weight SPC nelson1 (point beyond 3 sigma) ended: value 250.2 mg, z = 0.20 (centre 250.0 mg, sigma 1.0 mg, limits 247.0 mg … 253.0 mg)",
			}},
		{name: "flatline", spec: &detect.FlatlineParams{Duration: 5 * time.Minute, Tolerance: 0.05},
			line: "tab1", machine: "press", tag: "tablet_weight", values: concat(repeat(250.04, 7), []float64{251}),
			want: []string{
				"tablet_weight looks stuck: value 250.0 mg (±0.1 mg) unchanged for 5m0s since 2026-07-02 09:00:00 IST",
				"tablet_weight no longer stuck: value changed to 251.0 mg",
			}},
		{name: "rate of change", spec: &detect.ROCParams{MaxPerMinute: 2},
			line: "tab1", machine: "press", tag: "tablet_weight", values: []float64{250, 250.5, 253.25, 253.5},
			want: []string{
				"tablet_weight rate of rise started: 2.8 mg per minute (limit 2.0 mg per minute)",
				"tablet_weight rate of rise ended: 0.2 mg per minute (limit 2.0 mg per minute)",
			}},
		{name: "page-hinkley", spec: &detect.PageHinkleyParams{Lambda: 5, Delta: 0.1, Alpha: 1},
			line: "tab1", machine: "press", tag: "tablet_weight", values: concat(repeat(250, 30), repeat(252, 10)),
			want: []string{
				"tablet_weight drift up detected (Page-Hinkley): PH = 5.3 mg > lambda 5.0 mg after 33 readings with mean 250.2 mg (delta 0.1 mg, alpha 1)",
			}},
		{name: "cpk", spec: &detect.CpkParams{MinCpk: 1.33, MinSamples: 4},
			line: "tab1", machine: "press", tag: "tablet_weight", values: []float64{248, 252, 246, 255, 250},
			batches: []string{"B1", "B1", "B1", "B1", "B2"},
			want: []string{
				"tablet_weight batch B1 capability too low: Cpk 0.58 (Cp 0.59, Ppk 0.81; mean 250.2 mg, sigma 5.6 mg, n 4) vs minimum 1.33",
			}},
		{name: "mkt in °F", spec: &detect.MKTParams{Window: time.Hour, Limit: 46.4},
			line: "cold", machine: "room", tag: "temp_f", values: concat(repeat(44.6, 3), repeat(53.6, 5), repeat(41, 20)),
			want: []string{
				"temp_f mean kinetic temperature over 1h0m0s above limit: 47.4 °F vs label limit 46.4 °F (0.1 h of readings, ΔH/R 10000 K)",
				"temp_f mean kinetic temperature over 1h0m0s back within limit: 46.2 °F vs label limit 46.4 °F (0.3 h of readings, ΔH/R 10000 K)",
			}},
		{name: "mkt in °C", spec: &detect.MKTParams{Window: time.Hour, Limit: 8},
			line: "cold", machine: "room", tag: "temp_c", values: concat(repeat(7, 3), repeat(12, 5), repeat(5, 20)),
			want: []string{
				"temp_c mean kinetic temperature over 1h0m0s above limit: 8.55 °C vs label limit 8.00 °C (0.1 h of readings, ΔH/R 10000 K)",
				"temp_c mean kinetic temperature over 1h0m0s back within limit: 7.86 °C vs label limit 8.00 °C (0.3 h of readings, ΔH/R 10000 K)",
			}},
		{name: "tor in °F", spec: &detect.TORParams{Low: 35.6, High: 46.4, Budget: 4 * time.Minute, FreezeSensitive: true},
			line: "cold", machine: "room", tag: "temp_f", values: []float64{40, 50, 50, 50, 50, 40, 31.5, 40},
			batches: []string{"B1", "B1", "B1", "B1", "B1", "B1", "B1", "B2"},
			want: []string{
				"temp_f time-out-of-refrigeration at 50.0 % of budget: 2m0s outside 35.6 °F – 46.4 °F of 4m0s allowed",
				"temp_f time-out-of-refrigeration at 100.0 % of budget: 4m0s outside 35.6 °F – 46.4 °F of 4m0s allowed",
				"temp_f time-out-of-refrigeration budget used up: 4m0s outside 35.6 °F – 46.4 °F of 4m0s allowed (100.0 %)",
				"temp_f freeze-sensitive product at or below 32.0 °F: 31.5 °F, 0s frozen (allowed 0s)",
				"temp_f time-out-of-refrigeration warn50 cleared: batch B1 ended with 5m0s of 4m0s used (125.0 %)",
				"temp_f time-out-of-refrigeration warn80 cleared: batch B1 ended with 5m0s of 4m0s used (125.0 %)",
				"temp_f time-out-of-refrigeration budget cleared: batch B1 ended with 5m0s of 4m0s used (125.0 %)",
				"temp_f time-out-of-refrigeration freeze cleared: batch B1 ended with 5m0s of 4m0s used (125.0 %)",
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := messages(t, c.spec, c.line, c.machine, c.tag, c.values, c.batches)
			if len(got) != len(c.want) {
				t.Fatalf("%d messages, want %d", len(got), len(c.want))
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("message %d:\n got %q\nwant %q", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestStaleMessageUsesTagFormat: the stale finding names the last value
// in the tag's unit and its time in the site zone.
func TestStaleMessageUsesTagFormat(t *testing.T) {
	cfg := formatConfig()
	ref, _ := cfg.Tag("cold", "room", "temp_c")
	d, err := (&detect.StaleParams{After: 5 * time.Minute}).Build(cfg.Target(ref))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC) // GMT in Dublin in December
	obs := d.(interface {
		Observe(prev, now time.Time, dst []analytics.Finding) []analytics.Finding
	})
	fs := d.Update(sample.Sample{Time: t0, Line: "cold", Machine: "room", Tag: "temp_c", Value: 4.123}, nil)
	for i := range 6 {
		fs = obs.Observe(t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i+1)*time.Minute), fs)
	}
	fs = d.Update(sample.Sample{Time: t0.Add(7 * time.Minute), Line: "cold", Machine: "room", Tag: "temp_c", Value: 5}, fs)
	want := []string{
		"temp_c is stale: no new value for 5m0s of room reporting (last 4.12 °C at 2026-12-05 08:00:00 GMT)",
		"temp_c reports new values again (5.00 °C)",
	}
	if len(fs) != len(want) {
		t.Fatalf("findings %v", fs)
	}
	for i, f := range fs {
		if f.Message != want[i] {
			t.Errorf("message %d:\n got %q\nwant %q", i, f.Message, want[i])
		}
	}
}

// TestYieldMessages: yield and reconciliation write percentages with two
// decimals and counts as whole numbers (not 1.6e+06).
func TestYieldMessages(t *testing.T) {
	id := sample.Sample{Time: time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC), Line: "tab1", Machine: "press", Tag: "good", Batch: "B7"}
	_, fs, err := detect.Reconcile(detect.BatchCounts{Theoretical: 1600000, Good: 1427040, Rejects: 20000},
		detect.YieldParams{YieldMin: 98, ReconciliationMin: 99.5}, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"batch B7 yield 89.19 % below minimum 98.00 % (1427040 good of 1600000 theoretical)",
		"batch B7 reconciliation 90.44 % outside minimum 99.50 %: 152960 units unaccounted of 1600000 theoretical",
	}
	if len(fs) != len(want) {
		t.Fatalf("findings %v", fs)
	}
	for i, f := range fs {
		if f.Message != want[i] {
			t.Errorf("message %d:\n got %q\nwant %q", i, f.Message, want[i])
		}
	}
}
