package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/app"
	"github.com/linewatch/linewatch/internal/demo"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/simulator"
)

// T0 is the simulated start of every scenario.
var T0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// plant is a running scenario: simulator, NATS, InfluxDB and linewatch.
type plant struct {
	t       *testing.T
	sim     *simulator.Simulator
	nats    *server.Server
	natsDir string
	dataDir string // cfg.DataDir; holds the NATS role credentials (nats-auth)
	natsURL string
	influx  *influxd.Server
	cfg     *config.Config
	nc      *nats.Conn
	js      jetstream.JetStream
	stop    context.CancelFunc
	done    chan error
}

type plantOptions struct {
	Speed        float64       // simulated seconds per real second
	PollInterval time.Duration // real time between reads
	Faults       []simulator.Fault
	Seed         int64            // simulator seed; 0 means 1
	NoApp        bool             // linewatch runs in child processes the test starts (chaos test)
	Plant        *simulator.Plant // nil: the default plant
}

func startPlant(t *testing.T, o plantOptions) *plant {
	t.Helper()
	p := &plant{t: t, natsDir: t.TempDir(), dataDir: t.TempDir()}
	if o.Seed == 0 {
		o.Seed = 1
	}
	sim, err := simulator.Start(context.Background(), simulator.Options{
		Listen: "127.0.0.1:0", Speed: o.Speed, Start: T0, Seed: o.Seed, AllowAnonymous: true, Plant: o.Plant,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	for _, f := range o.Faults {
		if err := sim.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	p.sim = sim
	p.startNATS("127.0.0.1:0")
	p.natsURL = p.nats.ClientURL()
	p.influx = testenv.StartInflux(t, influxd.Options{})
	if _, err := p.influx.Query(context.Background(), "", `CREATE DATABASE "linewatch"`); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	demo.PointAt(cfg, p.dataDir, p.influx.URL(), p.natsURL, sim.Endpoint(), o.PollInterval)
	p.cfg = cfg
	// The test itself looks at everything: admin. linewatch finds the
	// role credentials in its data_dir and runs each role with its own.
	admin, err := nats.NkeyOptionFromSeed(bus.SeedFile(bus.CredentialsDir(p.dataDir), bus.RoleAdmin))
	if err != nil {
		t.Fatal(err)
	}
	p.nc, err = nats.Connect(p.natsURL, admin, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.nc.Close)
	p.js, _ = jetstream.New(p.nc)
	if !o.NoApp {
		p.startApp()
		t.Cleanup(p.stopApp)
	}
	return p
}

func (p *plant) startNATS(listen string) {
	// The role credentials and permission sets of `linewatch run`.
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(p.dataDir))
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: listen, StoreDir: p.natsDir, Credentials: creds})
	if err != nil {
		p.t.Fatal(err)
	}
	if p.nats == nil { // once: a restarted server replaces p.nats
		p.t.Cleanup(func() { p.nats.Shutdown(); p.nats.WaitForShutdown() })
	}
	p.nats = s
}

// restartNATS stops the NATS server and starts it again on the same port
// and store after down (real time).
func (p *plant) restartNATS(down time.Duration) {
	p.nats.Shutdown()
	p.nats.WaitForShutdown()
	time.Sleep(down) // the outage itself: a duration of real time, not a wait for an event
	u, _ := url.Parse(p.natsURL)
	p.startNATS(u.Host)
}

func (p *plant) startApp() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{p.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { p.done <- app.Run(ctx, app.Options{Config: p.cfg, Roles: app.AllRoles, Logger: log}) }()
}

func (p *plant) stopApp() {
	if p.stop == nil {
		return
	}
	p.stop()
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("linewatch run: %v", err)
		}
	case <-time.After(15 * time.Second):
		p.t.Error("linewatch did not stop within 15 s")
	}
	p.stop = nil
}

// waitSim blocks until the simulated clock reaches at (polling the
// simulator's own clock, with a real-time deadline).
func (p *plant) waitSim(at time.Time) {
	p.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for p.sim.Now().Before(at) {
		if time.Now().After(deadline) {
			p.t.Fatalf("simulated time %s not reached (now %s)", at, p.sim.Now())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually polls cond on the real servers until it holds or the deadline passes.
func (p *plant) eventually(what string, d time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not reached within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *plant) transitions() []alerts.Transition {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	trs, err := alerts.NewReader(p.js).Transitions(ctx, alerts.TransitionQuery{})
	if err != nil {
		p.t.Fatalf("read ALARMS: %v", err)
	}
	return trs
}

// query runs InfluxQL on the scenario database and returns the rows.
func (p *plant) query(q string) [][]any {
	db := testenv.InfluxDB{Server: p.influx, URL: p.influx.URL(), Database: "linewatch"}
	return db.Query(p.t, q)
}

func (p *plant) count(where string) int {
	rows := p.query("SELECT count(value) FROM telemetry WHERE " + where)
	if len(rows) == 0 {
		return 0
	}
	n, _ := rows[0][1].(float64)
	return int(n)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

func fmtTr(tr alerts.Transition) string {
	return fmt.Sprintf("%s %s %s→%s (%s)", tr.Alarm.LastFindingAt.Format("15:04:05"), tr.Alarm.ID, tr.From, tr.To, tr.Event)
}

// influxSeries is one series of an InfluxQL answer.
type influxSeries struct {
	Tags   map[string]string `json:"tags"`
	Values [][]any           `json:"values"`
}

// key is the series' line/machine/tag.
func (s influxSeries) key() string {
	return s.Tags["line"] + "/" + s.Tags["machine"] + "/" + s.Tags["tag_name"]
}

// querySeries runs q on the scenario database and returns its series.
func (p *plant) querySeries(q string) []influxSeries {
	p.t.Helper()
	raw, err := p.influx.Query(context.Background(), "linewatch", q)
	if err != nil {
		p.t.Fatal(err)
	}
	var resp struct {
		Results []struct {
			Error  string         `json:"error"`
			Series []influxSeries `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		p.t.Fatal(err)
	}
	var out []influxSeries
	for _, r := range resp.Results {
		if r.Error != "" {
			p.t.Fatalf("%s: %s", q, r.Error)
		}
		out = append(out, r.Series...)
	}
	return out
}

// queryGrouped runs a count query grouped by line, machine, tag_name and
// returns line/machine/tag → count.
func (p *plant) queryGrouped(q string) map[string]int {
	p.t.Helper()
	out := map[string]int{}
	for _, s := range p.querySeries(q) {
		n, _ := s.Values[0][1].(float64)
		out[s.key()] = int(n)
	}
	return out
}

func (p *plant) countField(measurement, field string) int {
	rows := p.query(fmt.Sprintf("SELECT count(%q) FROM %q", field, measurement))
	if len(rows) == 0 {
		return 0
	}
	n, _ := rows[0][1].(float64)
	return int(n)
}
