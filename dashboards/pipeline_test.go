package dashboards_test

// The data the query tests read is real linewatch output: the OPC UA plant
// simulator (manual clock) read by the real collector, analytics, alerts and
// InfluxDB writer of internal/app.Run, into a database of the test InfluxDB.
// Nothing is written by the test itself, so a panel that reads a measurement,
// tag or field linewatch does not write finds no rows and fails the test.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/simulator"
)

// pipelineData describes what the pipeline run wrote.
type pipelineData struct {
	// From, To is a dashboard range covering everything written: telemetry,
	// spc, alarms and batches carry simulated (source) times in the past,
	// collector_status and collector_metrics the real time of the run.
	From, To time.Time
	// CurrentBatch is the last batch started per line with a batch tag.
	CurrentBatch map[string]string
}

const (
	pipelineSpan = time.Hour        // simulated time the pipeline runs
	pipelineStep = 20 * time.Second // simulated time per clock step (≥ the 10 s stats interval)
	// simBatch makes batches short enough to start and end within the span.
	simBatch = 20 * time.Minute
)

// pipelineConfig is the demo config plus a Shewhart chart on the fill
// weight, so that the SPC dashboard's Nelson panels are exercised too.
func pipelineConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg := demoConfig(t)
	for i := range cfg.Analytics.Rules {
		r := &cfg.Analytics.Rules[i]
		if r.Name == "fill weight drift" {
			mean, sigma := 2.0, 0.008
			r.Shewhart = &detect.NelsonParams{SPCParams: detect.SPCParams{Start: detect.Baseline{Mean: &mean, Sigma: &sigma}}}
			return cfg
		}
	}
	t.Fatal(`demo config has no rule "fill weight drift"`)
	return nil
}

// runPipeline runs linewatch (all roles) against the simulator for
// pipelineSpan of simulated time, with a fill-weight step and a cold-room
// door held open, and returns when everything is in InfluxDB.
func runPipeline(t *testing.T, cfg *config.Config, db testenv.InfluxDB) pipelineData {
	t.Helper()
	realStart := time.Now().UTC()
	simStart := realStart.Add(-2 * pipelineSpan).Truncate(time.Minute)
	plant := simulator.DefaultPlant()
	for i := range plant.Lines {
		l := &plant.Lines[i]
		if l.BatchLength > 0 {
			l.BatchLength = simulator.Duration(simBatch)
			// Short cleaning and set-up so that the lines produce most of a batch.
			switch l.Model {
			case simulator.ModelVialFilling:
				l.Params = map[string]float64{"cip_minutes": 2}
			case simulator.ModelTabletPress:
				l.Params = map[string]float64{"setup_minutes": 2}
			}
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := simulator.Start(context.Background(), simulator.Options{
		Listen: "127.0.0.1:0", Speed: 0, Start: simStart, Seed: 1, AllowAnonymous: true, Plant: plant, Logger: quiet,
	})
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	defer sim.Close()
	faults := []simulator.Fault{
		// Fill weight 6σ high from minute 25 to the end: limit, Nelson,
		// EWMA and CUSUM alarms, still active when the run ends.
		{Kind: simulator.FaultStep, Target: "filling1.filler.fill_weight", Offset: 0.05, At: simStart.Add(25 * time.Minute)},
		// Tablet weight 6σ high for 5 minutes: limit alarms on the press.
		{Kind: simulator.FaultStep, Target: "tableting1.press.tablet_weight", Offset: 15, At: simStart.Add(40 * time.Minute), Duration: simulator.Duration(5 * time.Minute)},
		// Door held open: the cold room warms past 8 °C (limit alarms,
		// time out of refrigeration) and recovers.
		{Kind: simulator.FaultDoorOpen, Target: "coldroom1", At: simStart.Add(10 * time.Minute), Duration: simulator.Duration(20 * time.Minute)},
	}
	for _, f := range faults {
		if err := sim.Inject(f); err != nil {
			t.Fatalf("inject %s: %v", f.Kind, err)
		}
	}

	dataDir := t.TempDir()
	cfg.MoveDataDir(dataDir)
	cfg.InfluxDB.URL = db.URL
	cfg.InfluxDB.Database = db.Database
	cfg.InfluxDB.FlushInterval = 20 * time.Millisecond
	cfg.InfluxDB.Spool.Dir = filepath.Join(dataDir, "spool")
	cfg.NATS.URL = ""
	cfg.NATS.Embedded.Listen = "127.0.0.1:0"
	cfg.NATS.Embedded.StoreDir = filepath.Join(dataDir, "nats")
	cfg.Collector.MetricsListen = "off"
	cfg.Collector.PKIDir = filepath.Join(dataDir, "pki")
	cfg.Console.Listen = "off"
	for li := range cfg.Lines {
		for mi := range cfg.Lines[li].Machines {
			m := &cfg.Lines[li].Machines[mi]
			m.Endpoint = sim.Endpoint()
			m.TrustedCertsDir = filepath.Join(cfg.Collector.PKIDir, "trusted")
			for gi := range m.PollGroups {
				// Real time between reads: the manual clock makes repeated
				// reads of one simulated instant identical points.
				m.PollGroups[gi].Interval = 50 * time.Millisecond
			}
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- app.Run(ctx, app.Options{Config: cfg, Roles: app.AllRoles, Logger: log}) }()
	stopped := false
	stopApp := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("linewatch run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("linewatch did not stop within 20 s")
		}
	}
	defer stopApp()

	// Each step: advance the simulated clock, then wait until the collector
	// has read the new instant. Machines that are not producing keep their
	// values (and source timestamps), so the sign is the cold room, whose
	// temperatures move all the time; every poll group reads at the same
	// real cadence, so the other machines are read alongside.
	readAt := func(at time.Time, within time.Duration) {
		q := fmt.Sprintf(`SELECT count("quality") FROM "telemetry" WHERE time >= %d AND "machine" = 'coldroom'`, at.UnixNano())
		eventually(t, "cold room read at "+at.Format(time.RFC3339), within, func() bool {
			series, err := influxQuery(t, db, q)
			return err == nil && len(series) > 0
		}, func() {
			select {
			case err := <-done:
				stopped = true
				t.Fatalf("linewatch stopped early: %v", err)
			default:
			}
		})
	}
	readAt(sim.Now(), 60*time.Second) // connect, browse, first read
	for sim.Now().Before(simStart.Add(pipelineSpan)) {
		sim.Advance(pipelineStep)
		readAt(sim.Now(), 20*time.Second)
	}
	// collector_metrics is written every 10 s of real time: wait for two
	// points so that its counter differences exist.
	eventually(t, "two collector_metrics points", 30*time.Second, func() bool {
		return db.Count(t, "values_read", `"collector_metrics"`, "") >= 2
	}, nil)
	stopApp() // drains the writer: everything is in InfluxDB after this

	out := pipelineData{From: simStart.Add(-time.Minute), To: time.Now().UTC().Add(time.Minute), CurrentBatch: map[string]string{}}
	for _, l := range cfg.Lines {
		if l.BatchTag == "" {
			continue
		}
		rows := db.Query(t, fmt.Sprintf(`SELECT last("batch") FROM "batches" WHERE "line" = '%s' AND "event" = 'start'`, l.ID))
		if len(rows) == 0 {
			t.Fatalf("line %s: no batch start written", l.ID)
		}
		out.CurrentBatch[l.ID], _ = rows[0][1].(string)
	}
	t.Logf("pipeline: %s simulated in %s; %d telemetry, %d spc (with ucl), %d alarms, %d batches points",
		pipelineSpan, time.Since(realStart).Round(time.Second),
		db.Count(t, "quality", `"telemetry"`, ""), db.Count(t, "ucl", `"spc"`, ""),
		db.Count(t, "seq", `"alarms"`, ""), db.Count(t, "event", `"batches"`, ""))
	return out
}

// eventually polls cond until it holds, failing the test after within.
// check, when not nil, runs between polls to fail fast.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool, check func()) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s", what, within)
		}
		if check != nil {
			check()
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not a wait for an event
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}
