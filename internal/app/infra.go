package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/influxd"
)

// infra is what every role needs: NATS (embedded or external), InfluxDB
// (embedded or external) and the metrics registry.
type infra struct {
	cfg      *config.Config
	log      *slog.Logger
	natsSrv  *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	influx   *influxd.Server
	reg      *prometheus.Registry
	influxDB string // effective InfluxDB URL
}

func startInfra(ctx context.Context, cfg *config.Config, log *slog.Logger, needInflux bool) (_ *infra, err error) {
	in := &infra{cfg: cfg, log: log, reg: prometheus.NewRegistry(), influxDB: cfg.InfluxDB.URL}
	defer func() {
		if err != nil {
			in.close()
		}
	}()
	in.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	url := cfg.NATS.URL
	if url == "" {
		in.natsSrv, err = bus.StartEmbedded(bus.EmbeddedOptions{Listen: cfg.NATS.Embedded.Listen, StoreDir: cfg.NATS.Embedded.StoreDir})
		if err != nil {
			return nil, fmt.Errorf("%w (set nats.embedded.listen to a free address, or nats.url to use an external server)", err)
		}
		url = in.natsSrv.ClientURL()
		log.Info("embedded NATS server started", "url", url, "store", cfg.NATS.Embedded.StoreDir)
	}
	if in.nc, err = bus.Connect(ctx, cfg.NATS, url, "linewatch", log); err != nil {
		return nil, err
	}
	if in.js, err = jetstream.New(in.nc); err != nil {
		return nil, fmt.Errorf("JetStream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err = bus.EnsureStreams(sctx, in.js, bus.StreamOptions{Replicas: cfg.NATS.Replicas, TelemetryMaxAge: cfg.NATS.Telemetry.MaxAge, AlarmsMaxAge: cfg.Alarms.Retention}); err != nil {
		return nil, err
	}

	if needInflux && cfg.InfluxDB.URL == "" {
		addr := "127.0.0.1:8086"
		if l, lerr := net.Listen("tcp", addr); lerr == nil {
			l.Close()
		} else {
			addr = "" // 8086 taken: any free port
		}
		dir := filepath.Join(cfg.DataDir, "influxdb")
		log.Info("starting embedded InfluxDB 1.8 (the first run builds it with `go install`, about 90 s)", "dir", dir)
		in.influx, err = influxd.Start(ctx, influxd.Options{DataDir: dir, HTTPAddr: addr, LogFile: filepath.Join(dir, "influxd.log")})
		if err != nil {
			return nil, err
		}
		in.influxDB = in.influx.URL()
		if _, err = in.influx.Query(ctx, "", fmt.Sprintf("CREATE DATABASE %q", cfg.InfluxDB.Database)); err != nil {
			return nil, err
		}
		log.Info("embedded InfluxDB started", "url", in.influxDB, "database", cfg.InfluxDB.Database)
	}
	return in, nil
}

// metricsServer serves /metrics until ctx ends.
func (in *infra) metricsServer(listen string) component {
	return component{name: "metrics", run: func(ctx context.Context) error {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(in.reg, promhttp.HandlerOpts{Registry: in.reg}))
		srv := &http.Server{Addr: listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		l, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("metrics listen %s: %w (set collector.metrics_listen, or off)", listen, err)
		}
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		if err := srv.Serve(l); err != http.ErrServerClosed {
			return err
		}
		return nil
	}}
}

func (in *infra) close() {
	if in.nc != nil {
		// Components have stopped; send what is buffered, then close.
		in.nc.FlushTimeout(2 * time.Second)
		in.nc.Close()
	}
	if in.natsSrv != nil {
		in.natsSrv.Shutdown()
		in.natsSrv.WaitForShutdown()
	}
	if in.influx != nil {
		in.influx.Stop()
	}
}
