package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/simulator"
)

// T0 is the simulated start of every run.
var T0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Options configure a Plant.
type Options struct {
	Dir      string  // everything of the run; required
	Speed    float64 // simulated seconds per real second (default 60)
	Poll     time.Duration
	Faults   []simulator.Fault
	Plant    *simulator.Plant // nil: the default plant
	Seed     int64            // default 1
	Replicas int              // nats.replicas, default 3
	// ExtraTags adds synthetic simulator tags (load tests); they are read
	// only when the config names them (Set).
	ExtraTags int
	// SimListen is the OPC UA address (default a free loopback port).
	SimListen string
	// DeferSim: the simulator starts at StartSim, not in Start (so its
	// clock starts once the processes run).
	DeferSim bool
	// InfluxAddr is InfluxDB's HTTP address (default a free port).
	InfluxAddr string
	// Set: further config settings by dotted path, for every process.
	Set map[string]any
	// Base is the config every process's is made from (default the demo's).
	Base []byte
	Logf func(string, ...any)
}

// Plant is a three-node cluster, InfluxDB, the simulator and any number
// of linewatch processes, all on this machine.
type Plant struct {
	Cluster *Cluster
	Sim     *simulator.Simulator
	Influx  *influxd.Server
	DataDir string
	Bin     string // linewatch
	NC      *nats.Conn
	JS      jetstream.JetStream // admin
	Procs   []*Proc

	o        Options
	endpoint string // the simulator's, known before it starts
}

// Start builds the binaries (cached), starts InfluxDB, the three nodes
// and the simulator, and provisions nothing: the linewatch processes do.
func Start(ctx context.Context, o Options) (_ *Plant, err error) {
	if o.Speed == 0 {
		o.Speed = 60
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	p := &Plant{DataDir: filepath.Join(o.Dir, "data"), o: o}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err := os.MkdirAll(p.DataDir, 0o700); err != nil {
		return nil, err
	}
	natsBin, err := NATSServerBinary(ctx)
	if err != nil {
		return nil, err
	}
	if p.Bin, err = LinewatchBinary(ctx, o.Dir); err != nil {
		return nil, err
	}
	p.Influx, err = influxd.Start(ctx, influxd.Options{DataDir: filepath.Join(o.Dir, "influxdb"), HTTPAddr: o.InfluxAddr,
		LogFile: filepath.Join(o.Dir, "influxdb", "influxd.log")})
	if err != nil {
		return nil, err
	}
	if _, err := p.Influx.Query(ctx, "", `CREATE DATABASE "linewatch"`); err != nil {
		return nil, err
	}
	p.Cluster, err = StartNodes(ctx, NodesOptions{Dir: filepath.Join(o.Dir, "nats"), DataDir: p.DataDir, Bin: natsBin, Logf: o.Logf})
	if err != nil {
		return nil, err
	}
	if p.NC, p.JS, err = p.Cluster.Connect(bus.RoleAdmin); err != nil {
		return nil, err
	}
	listen := o.SimListen
	if listen == "" {
		ports, err := FreePorts(1)
		if err != nil {
			return nil, err
		}
		listen = fmt.Sprintf("127.0.0.1:%d", ports[0])
	}
	p.o.SimListen = listen
	p.endpoint = "opc.tcp://" + listen
	if !o.DeferSim {
		if err := p.StartSim(ctx); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// StartSim starts the simulated plant (its clock starts at T0 now); the
// collector, already pointed at its address, connects within its
// reconnect delay.
func (p *Plant) StartSim(ctx context.Context) error {
	sim, err := simulator.Start(ctx, simulator.Options{Listen: p.o.SimListen, Speed: p.o.Speed, Start: T0, Seed: p.o.Seed,
		AllowAnonymous: true, ExtraTags: p.o.ExtraTags, Plant: p.o.Plant, MaxNodesPerRead: 1000,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	p.Sim = sim
	for _, f := range p.o.Faults {
		if err := p.Sim.Inject(f); err != nil {
			return err
		}
	}
	return nil
}

// Config renders the config of process name (its own spool and PKI).
func (p *Plant) Config(name string, set map[string]any) (string, error) {
	dir := filepath.Join(p.o.Dir, "procs", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	all := map[string]any{}
	for k, v := range p.o.Set {
		all[k] = v
	}
	for k, v := range set {
		all[k] = v
	}
	b, err := RenderConfig(ConfigOptions{DataDir: p.DataDir, ProcDir: dir, InfluxURL: p.Influx.URL(), NATSURLs: p.Cluster.URLs(),
		Replicas: p.o.Replicas, Endpoint: p.endpoint, Poll: p.o.Poll, Set: all, Base: p.o.Base})
	if err != nil {
		return "", err
	}
	f := filepath.Join(dir, "linewatch.yaml")
	return f, os.WriteFile(f, b, 0o600)
}

// Run starts `linewatch run --roles roles` as process name, with the
// plant's config plus set.
func (p *Plant) Run(name, roles string, set map[string]any) (*Proc, error) {
	conf, err := p.Config(name, set)
	if err != nil {
		return nil, err
	}
	pr := &Proc{Name: name, Roles: roles, Conf: conf, Log: filepath.Join(filepath.Dir(conf), "linewatch.log"), bin: p.Bin}
	if err := pr.start(); err != nil {
		return nil, err
	}
	p.Procs = append(p.Procs, pr)
	return pr, nil
}

// WaitSim blocks until the simulated clock reaches at (with a real-time
// deadline of d).
func (p *Plant) WaitSim(ctx context.Context, at time.Time, d time.Duration) error {
	if p.Sim == nil {
		return fmt.Errorf("the simulator is not started")
	}
	deadline := time.Now().Add(d)
	for p.Sim.Now().Before(at) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("simulated time %s not reached within %s (now %s)", at.Format(time.RFC3339), d, p.Sim.Now().Format(time.RFC3339))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Eventually polls cond until it holds or d passes.
func Eventually(ctx context.Context, what string, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s: not reached within %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// StreamInfo is the state of stream name (nil, err when unknown).
func (p *Plant) StreamInfo(ctx context.Context, name string) (*jetstream.StreamInfo, error) {
	s, err := p.JS.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// Logs is the tail of every process log, for a failing test.
func (p *Plant) Logs(maxLines int) string {
	var b strings.Builder
	for _, pr := range p.Procs {
		lines := strings.Split(pr.LogText(), "\n")
		if len(lines) > maxLines {
			lines = lines[len(lines)-maxLines:]
		}
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s\n", pr.Name, pr.Roles, strings.Join(lines, "\n"))
	}
	return b.String()
}

// Close stops every process (SIGTERM), the simulator, the nodes and InfluxDB.
func (p *Plant) Close() {
	for _, pr := range p.Procs {
		pr.Stop()
	}
	if p.Sim != nil {
		p.Sim.Close()
	}
	if p.NC != nil {
		p.NC.Close()
	}
	if p.Cluster != nil {
		p.Cluster.Close()
	}
	if p.Influx != nil {
		p.Influx.Stop()
	}
}
