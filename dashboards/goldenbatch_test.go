package dashboards_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/dashboards"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/store"
)

func goldenBatchConfig(t *testing.T) *config.Config {
	cfg := demoConfig(t)
	cfg.Analytics.BatchModels = []config.BatchModel{{Name: "lyo1-golden", File: "lyo1-golden.json", Line: "lyo1",
		Tags: []string{"freezedryer/shelf_temp", "freezedryer/chamber_pressure", "freezedryer/condenser_temp"}, PhaseTag: "freezedryer/phase"}}
	return cfg
}

// The lyo1 dashboard draws each monitored variable over its golden
// envelope and T²/SPE with limits; every one of those queries returns its
// columns from spc points as the engine writes them (real InfluxDB).
func TestLyoDashboardGoldenEnvelopeIntegration(t *testing.T) {
	cfg := goldenBatchConfig(t)
	dir := t.TempDir()
	gens, err := dashboards.GenerateWith(cfg, dir, dashboards.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lyo dashboards.Generated
	for _, g := range gens {
		if g.UID == "lw-line-lyo1" {
			lyo = g
		}
	}
	var qs []dashboards.Query
	for _, q := range lyo.Queries {
		if strings.Contains(q.InfluxQL, batchev.DetectorName) {
			qs = append(qs, q)
		}
	}
	var panels []string
	for _, q := range qs {
		panels = append(panels, q.Panel)
	}
	want := []string{"shelf_temp over the golden envelope", "chamber_pressure over the golden envelope", "condenser_temp over the golden envelope",
		"Hotelling T²: lyo1-golden", "SPE: lyo1-golden"}
	if !slices.Equal(panels, want) {
		t.Fatalf("golden-batch panels %q, want %q", panels, want)
	}

	db := testenv.Influx(t)
	ic := cfg.InfluxDB
	ic.URL, ic.Database, ic.Spool.Dir = db.URL, db.Database, t.TempDir()
	w, err := store.NewWriter(ic, store.WriterOptions{Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 12 {
		at := t0.Add(time.Duration(i) * 5 * time.Minute)
		for _, v := range []string{"shelf_temp", "chamber_pressure", "condenser_temp"} {
			w.WritePoint(store.SPCRecord{Time: at, Site: cfg.Site, Line: "lyo1", Machine: "freezedryer", TagName: v, Detector: batchev.DetectorName,
				Stats: []store.Stat{{Name: "value", Value: 1}, {Name: "mean", Value: 1.1}, {Name: "lower", Value: 0.5}, {Name: "upper", Value: 1.7}, {Name: "maturity_h", Value: float64(i) / 12}}}.Point())
		}
		w.WritePoint(store.SPCRecord{Time: at, Site: cfg.Site, Line: "lyo1", Machine: "freezedryer", TagName: "lyo1-golden", Detector: batchev.DetectorName,
			Stats: []store.Stat{{Name: "t2", Value: 2}, {Name: "t2_limit", Value: 9}, {Name: "spe", Value: 0.3}, {Name: "spe_limit", Value: 4}, {Name: "maturity_h", Value: float64(i) / 12}}}.Point())
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	constants := constantsOf(t, readDashboard(t, dir, lyo.File))
	for _, q := range qs {
		rq := render(q.InfluxQL, selection{"site": {cfg.Site}}, constants, t0, t0.Add(time.Hour), "5m")
		series, err := influxQuery(t, db, rq)
		if err != nil {
			t.Fatalf("%s: %v\n%s", q.Panel, err, rq)
		}
		if len(series) != 1 || !slices.Equal(series[0].Columns, q.Columns) || len(series[0].Values) < 12 {
			t.Fatalf("%s: %+v, want columns %q and 12 rows\n%s", q.Panel, series, q.Columns, rq)
		}
		for _, row := range series[0].Values {
			for i, v := range row {
				if v == nil {
					t.Fatalf("%s: column %s null\n%s", q.Panel, q.Columns[i], rq)
				}
			}
		}
	}
}
