package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/console"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/collector"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/store"
	"github.com/linewatch/linewatch/telemetry"
)

// DefaultShutdownTimeout bounds a clean stop (Ctrl-C): the components
// stop in data-flow order (shutdownOrder), all but the InfluxDB writer
// within it, then the writer (which spools what it cannot send) within it
// again.
const DefaultShutdownTimeout = 5 * time.Second

// Options of Run.
type Options struct {
	Config          *config.Config
	Roles           Roles
	Logger          *slog.Logger
	ShutdownTimeout time.Duration
	// OnReady is called once everything is started, with where to find it.
	OnReady func(Info)
	// OnTransition receives every alarm transition published by this
	// process's alerts role (the demo's live alarm feed). Must not block.
	OnTransition func(alerts.Transition)
	// CollectorClock is the collector's clock (nil: the system clock); a
	// test steps its wall clock to check polling survives it.
	CollectorClock clock.Clock
	// ProcessClock is the machines' clock for the process time of
	// operator actions (nil: the system clock); the demo passes its
	// simulated plant's.
	ProcessClock func() time.Time
}

// Info says where the running system can be reached.
type Info struct {
	NATSURL    string
	InfluxURL  string
	Database   string
	ConsoleURL string
	MetricsURL string
	// Components are the names of the components this process runs, in
	// the order they stop (shutdownOrder).
	Components []string
}

// Run starts the configured roles and blocks until ctx ends or a component
// fails; then it shuts down within Options.ShutdownTimeout.
func Run(ctx context.Context, o Options) error {
	cfg, log := o.Config, o.Logger
	if log == nil {
		log = slog.Default()
	}
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	r := o.Roles
	needStore := r.Collector || r.Analytics || r.Alerts
	in, err := startInfra(ctx, cfg, log, needStore)
	if err != nil {
		return err
	}
	defer in.close()

	// System conditions of this process's roles, published on stream
	// HEALTH for the alarm service (which may run in another process).
	hreg, err := health.New(health.Options{Site: cfg.Site, Registerer: in.reg, Logger: log, Process: storeProcess(r)})
	if err != nil {
		return err
	}
	var comps []component
	if hp, err := healthPublisher(ctx, in, r, hreg); err != nil {
		return err
	} else if hp != nil {
		comps = append(comps, component{"health", func(ctx context.Context) error {
			return hreg.Run(ctx, hp, health.DefaultResync)
		}})
	}
	var sinks storeSinks
	var writer *store.Writer
	if needStore {
		icfg := cfg.InfluxDB
		icfg.URL = in.influxDB
		writer, err = store.NewWriter(icfg, store.WriterOptions{Logger: log.With("component", "influxdb"), Metrics: in.reg, Health: hreg.Report})
		if err != nil {
			return err
		}
		sinks = storeSinks{w: writer}
	}
	// A start-up error before the writer runs must not leave its spool
	// directory locked (a restart in this process would fail); once it
	// runs, its own shutdown below releases the spool.
	var writerRuns atomic.Bool
	defer func() {
		if writer != nil && !writerRuns.Load() {
			writer.Close()
		}
	}()

	var svc *alerts.Service
	if r.Alerts {
		anc, ajs, err := in.conn(ctx, bus.RoleAlerts)
		if err != nil {
			return err
		}
		auditLog, err := audit.Open(ctx, ajs, audit.Options{Replicas: cfg.NATS.Replicas})
		if err != nil {
			return err
		}
		if _, err := auditLog.Append(ctx, audit.ConfigLoaded(operatorName(), cfg.File, cfg.Digest)); err != nil {
			return err
		}
		svc, err = alerts.New(cfg, anc, alerts.Options{Logger: log.With("component", "alerts"), Points: sinks, Audit: auditLog, OnTransition: o.OnTransition,
			Registerer: in.reg, ProcessClock: o.ProcessClock})
		if err != nil {
			return err
		}
		if err := in.reg.Register(svc.Metrics()); err != nil {
			return fmt.Errorf("alarm metrics: %w", err)
		}
		comps = append(comps, component{"alerts", svc.Run}, component{"system-alarms", svc.RunHealth})
		var passwords *identity.Passwords
		if a := svc.Authority(); a != nil {
			passwords = a.Passwords()
		}
		auditComps, err := auditServices(ctx, cfg, ajs, auditLog, passwords, log)
		if err != nil {
			return err
		}
		comps = append(comps, auditComps...)
		if !r.Analytics {
			// Findings and machine states from analytics in other processes.
			comps = append(comps, component{"findings", svc.RunFindings})
		}
		n, err := notify.New(ctx, notify.Options{JS: ajs, Alarms: cfg.Alarms, Replicas: cfg.NATS.Replicas, Logger: log.With("component", "notify"),
			Health: hreg.Report, Registerer: in.reg, Format: display.MustNew(cfg)})
		if err != nil {
			return err
		}
		comps = append(comps, component{"notify", n.Run})
	}
	if r.Analytics {
		_, njs, err := in.conn(ctx, bus.RoleAnalytics)
		if err != nil {
			return err
		}
		alog := log.With("component", "analytics")
		// One engine and notifier per line: lines run concurrently, and a
		// Publisher's queue of machine states belongs to one line.
		open := func(line string) (*engine.Engine, engine.Notifier, error) {
			eopts := engine.Options{Logger: alog, Line: line}
			var notifier engine.Notifier
			if svc != nil {
				// Machine states applied with the findings, in process-time order.
				feed := svc.LineFeed()
				notifier, eopts.MachineState = feed, feed.MachineState
			} else {
				// Alerts run elsewhere: findings and machine states go on FINDINGS.
				pub := &engine.Publisher{JS: njs, Site: cfg.Site, Health: hreg.Report}
				notifier, eopts.MachineState = pub, pub.MachineState
			}
			e, err := engine.New(cfg, eopts)
			return e, notifier, err
		}
		if _, err := engine.New(cfg, engine.Options{Logger: alog}); err != nil {
			return err // a bad rule or model fails the start, not a line later
		}
		var lines []string
		for _, l := range cfg.Lines {
			lines = append(lines, l.ID)
		}
		live := &engine.Live{JS: njs, Site: cfg.Site, Lines: lines, Open: open, Replicas: cfg.NATS.Replicas, Consumer: cfg.Analytics.Consumer,
			Stats: sinks, Logger: alog, Health: hreg.Report, LagAlarm: cfg.Analytics.LagAlarm, Registerer: in.reg,
			LeaseTTL: cfg.Analytics.LeaseTTL, LeaseRenew: cfg.Analytics.LeaseRenew}
		comps = append(comps, component{"analytics", live.Run})
	}
	if r.Collector {
		_, cjs, err := in.conn(ctx, bus.RoleCollector)
		if err != nil {
			return err
		}
		pub, err := telemetry.New(cjs, telemetry.Options{MaxInflight: cfg.NATS.MaxInflight, SpoolBytes: cfg.NATS.SpoolMemoryMB << 20, Logger: log,
			Registerer: in.reg, Clock: o.CollectorClock, Health: hreg.Report})
		if err != nil {
			return err
		}
		c, err := collector.New(cfg, collector.Options{Output: fanout{sinks, pub},
			Logger: log, Registerer: in.reg, Health: hreg.Report, Clock: o.CollectorClock})
		if err != nil {
			return err
		}
		comps = append(comps, component{"collector", c.Run}, component{"telemetry", pub.Run}, selfMetrics(cfg.Site, in.reg, writer))
	}
	info := Info{NATSURL: in.connectedURL(), InfluxURL: in.influxDB, Database: cfg.InfluxDB.Database}
	if r.Console && cfg.Console.Listen != "off" && cfg.Console.UsersFile == "" {
		log.Warn("operator console not started: console.users_file is not set (add users with `linewatch console adduser`)")
	} else if r.Console && cfg.Console.Listen != "off" {
		onc, _, err := in.conn(ctx, bus.RoleOperator)
		if err != nil {
			return err
		}
		var machines []string // for the console's health strip
		for _, l := range cfg.Lines {
			for _, m := range l.Machines {
				machines = append(machines, l.ID+"/"+m.ID)
			}
		}
		copts := console.Options{NATS: onc, Site: cfg.Site, UsersFile: cfg.Console.UsersFile, Logger: log.With("component", "console"), Machines: machines,
			Config: cfg}
		if in.influxDB != "" { // the trend of a tag around an alarm
			icfg := cfg.InfluxDB
			icfg.URL = in.influxDB
			sc, err := store.NewClient(icfg, store.ClientOptions{})
			if err != nil {
				return err
			}
			defer sc.Close()
			copts.Samples = sc.Samples
		}
		cs, err := console.New(copts)
		if err != nil {
			return err
		}
		tlsCfg, err := serverTLS("console TLS", cfg.Console.TLS)
		if err != nil {
			return err
		}
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
		}
		info.ConsoleURL = scheme + "://" + cfg.Console.Listen
		comps = append(comps, component{"console", func(ctx context.Context) error { return cs.Run(ctx, cfg.Console.Listen, tlsCfg) }})
	}
	if cfg.Collector.MetricsListen != "off" {
		info.MetricsURL = "http://" + cfg.Collector.MetricsListen + "/metrics"
		comps = append(comps, in.metricsServer(cfg.Collector.MetricsListen))
	}
	if writer != nil {
		// The writer stops last (shutdownOrder): it drains what the others
		// handed it. Once its Run has started, Run releases the spool.
		comps = append(comps, component{"influxdb", func(ctx context.Context) error {
			writerRuns.Store(true)
			return writer.Run(ctx)
		}})
	}
	info.Components = componentNames(comps)
	log.Info("linewatch running", "roles", r.String(), "site", cfg.Site, "lines", len(cfg.Lines))
	if o.OnReady != nil {
		o.OnReady(info)
	}
	return runAll(ctx, log, o.ShutdownTimeout, comps)
}

// healthSources are the NATS roles whose connections may publish a
// condition of each source (their permission sets allow only these
// sources under linewatch.health.>): the collector its sessions, analytics
// its lag and findings, alerts the notifier, and every role that writes
// to InfluxDB the store's conditions.
var healthSources = map[string][]bus.Role{
	health.SourceCollector: {bus.RoleCollector},
	health.SourceAnalytics: {bus.RoleAnalytics},
	health.SourceNotify:    {bus.RoleAlerts},
	health.SourceStore:     {bus.RoleAlerts, bus.RoleAnalytics, bus.RoleCollector},
}

// healthPublisher publishes each system condition of this process on
// stream HEALTH through the connection of the role that owns its source,
// so no role can raise or clear another's system alarms. nil: the process
// runs no role that reports conditions (a console-only process).
func healthPublisher(ctx context.Context, in *infra, r Roles, hreg *health.Registry) (health.PublishFunc, error) {
	on := map[bus.Role]bool{bus.RoleAlerts: r.Alerts, bus.RoleAnalytics: r.Analytics, bus.RoleCollector: r.Collector}
	pubs := map[bus.Role]health.PublishFunc{}
	for _, role := range []bus.Role{bus.RoleAlerts, bus.RoleAnalytics, bus.RoleCollector} {
		if !on[role] {
			continue
		}
		nc, js, err := in.conn(ctx, role)
		if err != nil {
			return nil, err
		}
		// After a NATS reconnect, publish the active conditions again at once.
		prev := nc.Opts.ReconnectedCB
		nc.SetReconnectHandler(func(c *nats.Conn) {
			if prev != nil {
				prev(c)
			}
			hreg.Resync()
		})
		pubs[role] = health.JetStreamPublisher(js)
	}
	if len(pubs) == 0 {
		return nil, nil
	}
	return func(ctx context.Context, c health.Condition) error {
		for _, role := range healthSources[c.Source] {
			if p := pubs[role]; p != nil {
				return p(ctx, c)
			}
		}
		return fmt.Errorf("health condition %s: no role of this process may publish source %q", c.Key(), c.Source)
	}, nil
}

// storeProcess names this process's store conditions when the roles that
// write to InfluxDB run in several processes (health.Options.Process):
// its writing roles joined by "+"; empty when it runs all of them.
func storeProcess(r Roles) string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{r.Collector, "collector"}, {r.Analytics, "analytics"}, {r.Alerts, "alerts"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	if len(out) == 3 {
		return ""
	}
	return strings.Join(out, "+")
}
