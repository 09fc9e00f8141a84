package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// plant is the demo config pointed at a simulator, a secured NATS server
// (role credentials in the data dir, as `linewatch run` makes them) and a
// test InfluxDB database.
type plant struct {
	cfg *config.Config
	db  testenv.InfluxDB
	js  jetstream.JetStream // admin connection, for the test's reads
}

func startPlant(t *testing.T) *plant {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MoveDataDir(dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim, err := simulator.Start(t.Context(), simulator.Options{Listen: "127.0.0.1:0", Speed: 1, Start: time.Now().UTC(), Seed: 1,
		AllowAnonymous: true, Plant: simulator.DefaultPlant(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	ns := testenv.SecureNATS(t, dir)
	db := testenv.Influx(t)
	cfg.InfluxDB.URL, cfg.InfluxDB.Database = db.URL, db.Database
	cfg.InfluxDB.FlushInterval = 100 * time.Millisecond
	cfg.NATS.URL = ns.ClientURL()
	cfg.Collector.MetricsListen, cfg.Console.Listen = "off", "off"
	for li := range cfg.Lines {
		for mi := range cfg.Lines[li].Machines {
			m := &cfg.Lines[li].Machines[mi]
			m.Endpoint = sim.Endpoint()
			for gi := range m.PollGroups {
				m.PollGroups[gi].Interval = 200 * time.Millisecond
			}
		}
	}
	_, js := testenv.RoleConn(t, ns.ClientURL(), dir, bus.RoleAdmin)
	return &plant{cfg: cfg, db: db, js: js}
}

// run starts app.Run with roles and returns what it reported ready with;
// stop cancels it and returns its error.
func (p *plant) run(t *testing.T, roles app.Roles) (info app.Info, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan app.Info, 1), make(chan error, 1)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	go func() {
		done <- app.Run(ctx, app.Options{Config: p.cfg, Roles: roles, Logger: log, OnReady: func(i app.Info) { ready <- i }})
	}()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	select {
	case info = <-ready:
	case err := <-done:
		stopped = true
		t.Fatalf("linewatch run --roles %s: %v", roles, err)
	case <-time.After(60 * time.Second):
		t.Fatalf("linewatch run --roles %s did not start within 60 s", roles)
	}
	return info, stop
}

// Each role starts its components and no other's, and each process stops
// cleanly within its shutdown time.
func TestRolesStartTheirComponentsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB, NATS, the simulator and linewatch")
	}
	p := startPlant(t)
	p.cfg.Console.Listen = "127.0.0.1:0"
	p.cfg.Console.UsersFile = filepath.Join(p.cfg.DataDir, "users")
	line, err := identity.HashUser("alice", "operator", "alice's long password")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cfg.Console.UsersFile, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		roles app.Roles
		want  []string // in stop order
	}{
		{app.Roles{Collector: true}, []string{"collector", "self-metrics", "telemetry", "influxdb", "health"}},
		{app.Roles{Analytics: true}, []string{"analytics", "influxdb", "health"}},
		// Alone, alerts takes findings from other processes' analytics.
		{app.Roles{Alerts: true}, []string{"findings", "alerts", "system-alarms", "notify", "audit-checkpoints", "influxdb", "health"}},
		{app.Roles{Console: true}, []string{"console"}},
		// No report signing: the demo config in a fresh data dir has no report key.
		{app.AllRoles, []string{"collector", "self-metrics", "console", "telemetry", "analytics",
			"alerts", "system-alarms", "notify", "audit-checkpoints", "influxdb", "health"}},
	} {
		t.Run(strings.ReplaceAll(tc.roles.String(), ",", "+"), func(t *testing.T) {
			info, stop := p.run(t, tc.roles)
			if !slices.Equal(info.Components, tc.want) {
				t.Errorf("components %v, want %v", info.Components, tc.want)
			}
			if err := stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}

// One read of the collector reaches both of its outputs through the
// process's fan-out: the fill weight of a telemetry message on JetStream
// is in InfluxDB with the same time and value, and the batch start is on
// stream BATCHES and in measurement batches.
func TestCollectorReadReachesInfluxDBAndJetStreamIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB, NATS, the simulator and linewatch")
	}
	p := startPlant(t)
	_, stop := p.run(t, app.Roles{Collector: true})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	cons, err := p.js.OrderedConsumer(ctx, bus.StreamTelemetry, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{bus.TelemetrySubject(p.cfg.Site, "filling1", "filler")}})
	if err != nil {
		t.Fatal(err)
	}
	var fw sample.Sample
	var msg jetstream.Msg
	for fw.Tag == "" {
		if msg, err = cons.Next(jetstream.FetchMaxWait(30 * time.Second)); err != nil {
			t.Fatalf("no filler telemetry on JetStream: %v", err)
		}
		b, err := sample.Unmarshal(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range b.Samples(nil) {
			if s.Tag == "fill_weight" && s.Good() {
				fw = s
			}
		}
	}
	if id := msg.Headers().Get(jetstream.MsgIDHeader); !strings.HasPrefix(id, "filling1.filler.") {
		t.Errorf("telemetry message id %q, want filling1.filler.<group>.<tick>", id)
	}
	bc, err := p.js.OrderedConsumer(ctx, bus.StreamBatches, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	bm, err := bc.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no batch event on JetStream: %v", err)
	}
	ev, err := sample.UnmarshalBatchEvent(bm.Data())
	if err != nil || ev.Event != sample.BatchStart || ev.Batch == "" {
		t.Fatalf("batch event %+v, %v", ev, err)
	}
	// The writer stops after the collector: what was read is in InfluxDB.
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	rows := p.db.Query(t, fmt.Sprintf(`SELECT "value" FROM "telemetry" WHERE "machine" = 'filler' AND "tag_name" = 'fill_weight' AND time = '%s'`,
		fw.Time.UTC().Format(time.RFC3339Nano)))
	if len(rows) != 1 || rows[0][1] != fw.Value {
		t.Errorf("InfluxDB fill_weight at %s: %v, want %v (the value on JetStream)", fw.Time, rows, fw.Value)
	}
	if n := p.db.Count(t, "event", "batches", fmt.Sprintf(`"batch" = '%s'`, ev.Batch)); n < 1 {
		t.Errorf("batch %s: %d events in InfluxDB, want its start", ev.Batch, n)
	}
}
