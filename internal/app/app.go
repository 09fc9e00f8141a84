package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/console"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/collector"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/store"
)

// DefaultShutdownTimeout bounds a clean stop (Ctrl-C): components drain
// their queues (the InfluxDB writer spools what it cannot send) within it.
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
}

// Info says where the running system can be reached.
type Info struct {
	NATSURL    string
	InfluxURL  string
	Database   string
	ConsoleURL string
	MetricsURL string
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
	hreg, err := health.New(health.Options{Site: cfg.Site, Registerer: in.reg, Logger: log})
	if err != nil {
		return err
	}
	// After a NATS reconnect, publish the active conditions again at once.
	prevReconnected := in.nc.Opts.ReconnectedCB
	in.nc.SetReconnectHandler(func(c *nats.Conn) {
		if prevReconnected != nil {
			prevReconnected(c)
		}
		hreg.Resync()
	})
	comps := []component{{"health", func(ctx context.Context) error {
		return hreg.Run(ctx, health.JetStreamPublisher(in.js), health.DefaultResync)
	}}}
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

	var svc *alerts.Service
	if r.Alerts {
		auditLog, err := audit.Open(ctx, in.js, audit.Options{Replicas: cfg.NATS.Replicas})
		if err != nil {
			return err
		}
		if _, err := auditLog.Append(ctx, audit.ConfigLoaded(operatorName(), cfg.File, cfg.Digest)); err != nil {
			return err
		}
		svc, err = alerts.New(cfg, in.nc, alerts.Options{Logger: log.With("component", "alerts"), Points: sinks, Audit: auditLog, OnTransition: o.OnTransition})
		if err != nil {
			return err
		}
		comps = append(comps, component{"alerts", svc.Run}, component{"system-alarms", svc.RunHealth})
		if !r.Analytics {
			comps = append(comps, consumeFindings(in.js, svc, log))
		}
		n, err := notify.New(ctx, notify.Options{JS: in.js, Alarms: cfg.Alarms, Replicas: cfg.NATS.Replicas, Logger: log.With("component", "notify"),
			Health: hreg.Report, Registerer: in.reg})
		if err != nil {
			return err
		}
		comps = append(comps, component{"notify", n.Run})
	}
	if r.Analytics {
		var notifier engine.Notifier
		eopts := engine.Options{Logger: log.With("component", "analytics")}
		if svc != nil {
			notifier = svc
			eopts.MachineState = svc.SetMachineState
		} else {
			notifier = &findingPublisher{js: in.js, site: cfg.Site, health: hreg.Report}
		}
		e, err := engine.New(cfg, eopts)
		if err != nil {
			return err
		}
		live := &engine.Live{Engine: e, JS: in.js, Consumer: cfg.Analytics.Consumer, Notifier: notifier, Stats: sinks, Logger: eopts.Logger,
			Health: hreg.Report, LagAlarm: cfg.Analytics.LagAlarm}
		comps = append(comps, component{"analytics", live.Run})
	}
	if r.Collector {
		c, err := collector.New(cfg, collector.Options{Sink: sinks, BatchSink: sinks, StatusSink: sinks, JetStream: in.js,
			Logger: log, Registerer: in.reg, Health: hreg.Report})
		if err != nil {
			return err
		}
		comps = append(comps, component{"collector", c.Run}, selfMetrics(cfg.Site, in.reg, writer))
	}
	info := Info{NATSURL: in.nc.ConnectedUrl(), InfluxURL: in.influxDB, Database: cfg.InfluxDB.Database}
	if r.Console && cfg.Console.Listen != "off" && cfg.Console.UsersFile == "" {
		log.Warn("operator console not started: console.users_file is not set (add users with `linewatch console adduser`)")
	} else if r.Console && cfg.Console.Listen != "off" {
		var machines []string
		for _, l := range cfg.Lines {
			for _, m := range l.Machines {
				machines = append(machines, l.ID+"/"+m.ID)
			}
		}
		cs, err := console.New(console.Options{NATS: in.nc, Site: cfg.Site, UsersFile: cfg.Console.UsersFile, Logger: log.With("component", "console"), Machines: machines})
		if err != nil {
			return err
		}
		tlsCfg, err := serverTLS(cfg.Console.TLS)
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
		// The writer stops last: it drains what the others handed it.
		wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
		wdone := make(chan error, 1)
		go func() { wdone <- writer.Run(wctx) }()
		defer func() {
			stopWriter()
			select {
			case err := <-wdone:
				if err != nil {
					log.Error("InfluxDB writer", "err", err)
				}
			case <-time.After(o.ShutdownTimeout):
				log.Error("InfluxDB writer did not stop in time")
			}
		}()
	}
	log.Info("linewatch running", "roles", r.String(), "site", cfg.Site, "lines", len(cfg.Lines))
	if o.OnReady != nil {
		o.OnReady(info)
	}
	return runAll(ctx, log, o.ShutdownTimeout, comps)
}
