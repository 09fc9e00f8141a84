package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
	"github.com/linewatch/linewatch/store"
)

var lyoT0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// batchConfig is the demo config pointed at db with a golden-batch model
// of lyo1.
func batchConfig(t *testing.T, db testenv.InfluxDB) string {
	t.Helper()
	f := trainConfig(t, db)
	text, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), "\n  models:\n    - {name: press, file: press.json, line: tableting1, tags: [press/tablet_weight, press/hardness, press/compression_force]}\n", `
  batch_models:
    - {name: lyo1-golden, file: lyo1-golden.json, line: lyo1, phase_tag: freezedryer/phase,
       tags: [freezedryer/shelf_temp, freezedryer/chamber_pressure, freezedryer/condenser_temp]}
`, 1)
	if s == string(text) {
		t.Fatal("cannot add batch_models to the test config")
	}
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeLyoCycles writes cycles simulated freeze-dryer cycles (read every
// minute) and their batch events to InfluxDB, as the collector does: every
// sample stamped with the batch id of its read; the last batch still runs.
// (The store keeps one point per source timestamp: the phase only when it
// changes.)
func writeLyoCycles(t *testing.T, cfg *config.Config, cycles int) []string {
	t.Helper()
	o, err := simulator.NewOffline(&simulator.Plant{Name: "lyo", Lines: []simulator.LineSpec{{ID: "lyo1", Model: simulator.ModelFreezeDryer, BatchPrefix: "L1"}}}, 4, lyoT0)
	if err != nil {
		t.Fatal(err)
	}
	ic := cfg.InfluxDB
	ic.Spool.Dir = t.TempDir()
	w, err := store.NewWriter(ic, store.WriterOptions{Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var ids []string
	for now := lyoT0; now.Before(lyoT0.Add(time.Duration(cycles) * 32 * time.Hour)); now = now.Add(time.Minute) {
		o.AdvanceTo(now)
		b, _ := o.Read("lyo1.freezedryer.batch_id", cfg.Site, "")
		if len(ids) == 0 || ids[len(ids)-1] != b.Text {
			if len(ids) > 0 {
				w.WritePoint(store.BatchRecord{Time: b.Time, Site: cfg.Site, Line: "lyo1", Batch: ids[len(ids)-1], Event: "end"}.Point())
			}
			w.WritePoint(store.BatchRecord{Time: b.Time, Site: cfg.Site, Line: "lyo1", Batch: b.Text, Event: "start"}.Point())
			ids = append(ids, b.Text)
		}
		var read []sample.Sample
		for _, tag := range []string{"shelf_temp", "chamber_pressure", "condenser_temp", "phase", "batch_id"} {
			s, err := o.Read("lyo1.freezedryer."+tag, cfg.Site, b.Text)
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, s)
		}
		w.WriteSamples(read)
	}
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	return ids
}

// `analytics train-batch` reads the good batches of lyo1 from the real
// InfluxDB (by range and by id), aligns them as the live detector does and
// writes a model recording them; mistakes name the fix.
func TestAnalyticsTrainBatchIntegration(t *testing.T) {
	db := testenv.Influx(t)
	cfgFile := batchConfig(t, db)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ids := writeLyoCycles(t, cfg, 11)
	if len(ids) != 11 {
		t.Fatalf("batches %q", ids)
	}
	from, to := lyoT0.Format(time.RFC3339), lyoT0.Add(30*24*time.Hour).Format(time.RFC3339)

	code, stdout, stderr := run(t, "analytics", "train-batch", "-c", cfgFile, "--line", "lyo1", "--from", from, "--to", to)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	out := filepath.Join(filepath.Dir(cfgFile), "lyo1-golden.json") // the entry's file, next to the config
	m, err := batchev.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Batches, ids[:10]) { // the running 11th is left out
		t.Fatalf("trained on %q, want the 10 finished %q", m.Batches, ids[:10])
	}
	if !strings.Contains(stdout, "model lyo1-golden: line lyo1, 3 variables, 10 good batches, maturity step 5m0s; phases: freezing 48 points, primary_drying 240 points, secondary_drying 96 points") {
		t.Errorf("summary %q", stdout)
	}
	if !strings.Contains(stderr, fmt.Sprintf("batch %s: 2026-11-23 06:00:00 UTC – 2026-11-24 13:59:59 UTC, 5763 samples, 384 slices", ids[0])) {
		t.Errorf("per-batch report %q", stderr)
	}

	picked := filepath.Join(t.TempDir(), "four.json")
	code, _, stderr = run(t, "analytics", "train-batch", "-c", cfgFile, "--line", "lyo1", "--batches", strings.Join(ids[2:6], ","), "-o", picked)
	if code != ExitOK {
		t.Fatalf("--batches: exit %d: %s", code, stderr)
	}
	if m, err := batchev.Load(picked); err != nil || !slices.Equal(m.Batches, ids[2:6]) {
		t.Fatalf("--batches: model %v err %v", m, err)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--line", "lyo1"}, ExitUsage, "give --batches ID,… or --from T --to T"},
		{[]string{"--line", "lyo1", "--batches", ids[0], "--from", from, "--to", to}, ExitUsage, "not both"},
		{[]string{"--line", "filling1", "--batches", ids[0]}, ExitFailure, "line filling1 has no entry in analytics.batch_models"},
		{[]string{"--line", "lyo1", "--batches", ids[0] + ",L1-nope"}, ExitFailure, "batch L1-nope of line lyo1 is not in InfluxDB measurement batches"},
		{[]string{"--line", "lyo1", "--batches", ids[10]}, ExitFailure, "is still running"},
		{[]string{"--line", "lyo1", "--batches", ids[0] + "," + ids[1]}, ExitFailure, "2 good batches; train on at least 3"},
		{[]string{"--line", "lyo1", "--from", "2020-01-01T00:00:00Z", "--to", "2020-02-01T00:00:00Z"}, ExitFailure, "no finished batch of line lyo1 ran within"},
	} {
		code, _, stderr := run(t, append([]string{"analytics", "train-batch", "-c", cfgFile, "-o", filepath.Join(t.TempDir(), "x.json")}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%q: exit %d %q, want %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}

	// the trained file, tampered, stops linewatch at start with a clear error
	b, _ := os.ReadFile(out)
	if err := os.WriteFile(out, []byte(strings.Replace(string(b), `"consecutive": 3`, `"consecutive": 300`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "analyze", "replay", "-c", cfgFile, "--from", from, "--to", lyoT0.Add(time.Hour).Format(time.RFC3339))
	if code == ExitOK || !strings.Contains(stderr, "checksum mismatch") {
		t.Errorf("tampered model: exit %d %q", code, stderr)
	}
}
