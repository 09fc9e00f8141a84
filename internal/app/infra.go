package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
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
	"github.com/linewatch/linewatch/telemetry"
)

// infra is what every role needs: NATS (embedded or external), InfluxDB
// (embedded or external) and the metrics registry.
type infra struct {
	cfg     *config.Config
	log     *slog.Logger
	natsSrv *server.Server
	natsURL string
	// perRole: one connection per role with the role's credentials from
	// <data_dir>/nats-auth; otherwise every role shares shared (the
	// config's explicit credentials, or none).
	perRole  bool
	conns    map[bus.Role]roleConn
	shared   roleConn
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

	in.natsURL = cfg.NATS.URL
	if in.natsURL == "" {
		if err = in.startEmbeddedNATS(); err != nil {
			return nil, err
		}
	}
	if !bus.ExplicitAuth(cfg.NATS) {
		_, serr := os.Stat(bus.SeedFile(bus.CredentialsDir(cfg.DataDir), bus.RoleAdmin))
		in.perRole = serr == nil
	}
	// Streams are set up by the admin role, which no component keeps.
	_, js, err := in.conn(ctx, bus.RoleAdmin)
	if err != nil {
		return nil, err
	}
	// Every stream and bucket, once, with nats.replicas: waits for a
	// cluster that is still forming instead of exiting (roles started at
	// once on a fresh cluster).
	if err = Provision(ctx, js, Provisioned(cfg), ProvisionOptions{Logger: log}); err != nil {
		return nil, err
	}
	if in.perRole {
		in.closeConn(in.conns[bus.RoleAdmin])
		delete(in.conns, bus.RoleAdmin)
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
		// Where CLI commands with this config find it (EmbeddedInfluxURL).
		if err := os.WriteFile(EmbeddedInfluxURLFile(cfg.DataDir), []byte(in.influxDB+"\n"), 0o600); err != nil {
			log.Warn("cannot record the embedded InfluxDB's URL for CLI commands", "err", err)
		}
		if _, err = in.influx.Query(ctx, "", fmt.Sprintf("CREATE DATABASE %q", cfg.InfluxDB.Database)); err != nil {
			return nil, err
		}
		log.Info("embedded InfluxDB started", "url", in.influxDB, "database", cfg.InfluxDB.Database)
	}
	return in, nil
}

// startEmbeddedNATS starts the in-process server with the role
// credentials of <data_dir>/nats-auth (created on first start): no
// anonymous client, each role with its permission set.
func (in *infra) startEmbeddedNATS() error {
	cfg := in.cfg
	creds, err := bus.EnsureCredentials(bus.CredentialsDir(cfg.DataDir))
	if err != nil {
		return err
	}
	tlsCfg, err := embeddedTLS(cfg.NATS.Embedded.TLS)
	if err != nil {
		return err
	}
	in.natsSrv, err = bus.StartEmbedded(bus.EmbeddedOptions{Listen: cfg.NATS.Embedded.Listen, StoreDir: cfg.NATS.Embedded.StoreDir,
		Credentials: creds, TLS: tlsCfg})
	if err != nil {
		return fmt.Errorf("%w (set nats.embedded.listen to a free address, or nats.url to use an external server)", err)
	}
	in.natsURL = localURL(in.natsSrv.ClientURL())
	in.log.Info("embedded NATS server started", "url", in.natsURL, "store", cfg.NATS.Embedded.StoreDir, "credentials", creds.Dir)
	return nil
}

// localURL points a URL whose host is unspecified (0.0.0.0, ::, empty)
// at loopback: this process's own connections stay on the machine.
func localURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	if ip := net.ParseIP(p.Hostname()); p.Hostname() == "" || (ip != nil && ip.IsUnspecified()) {
		p.Host = net.JoinHostPort("127.0.0.1", p.Port())
	}
	return p.String()
}

// roleConn is a NATS connection and its JetStream context.
type roleConn struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// conn returns the connection of role r, opening it on first use.
func (in *infra) conn(ctx context.Context, r bus.Role) (*nats.Conn, jetstream.JetStream, error) {
	c, ok := in.conns[r]
	if !in.perRole {
		c, ok = in.shared, in.shared.nc != nil
	}
	if ok {
		return c.nc, c.js, nil
	}
	ncfg, err := bus.ForRole(in.cfg, r)
	if err != nil {
		return nil, nil, err
	}
	name := "linewatch"
	if in.perRole {
		name += "-" + string(r)
	}
	if c.nc, err = bus.Connect(ctx, ncfg, in.natsURL, name, in.log); err != nil {
		return nil, nil, err
	}
	// The telemetry publisher's options: a publish whose ack never comes
	// is forgotten by nats.go too (no other role publishes asynchronously).
	if c.js, err = jetstream.New(c.nc, telemetry.JetStreamOptions()...); err != nil {
		c.nc.Close()
		return nil, nil, fmt.Errorf("JetStream: %w", err)
	}
	if !in.perRole {
		in.shared = c
	} else {
		if in.conns == nil {
			in.conns = map[bus.Role]roleConn{}
		}
		in.conns[r] = c
	}
	return c.nc, c.js, nil
}

// connectedURL is where the first open connection is connected.
func (in *infra) connectedURL() string {
	if in.shared.nc != nil {
		return in.shared.nc.ConnectedUrl()
	}
	for _, c := range in.conns {
		return c.nc.ConnectedUrl()
	}
	return in.natsURL
}

func (in *infra) closeConn(c roleConn) {
	if c.nc != nil {
		// Components have stopped; send what is buffered, then close.
		c.nc.FlushTimeout(2 * time.Second)
		c.nc.Close()
	}
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
	in.closeConn(in.shared)
	for _, c := range in.conns {
		in.closeConn(c)
	}
	if in.natsSrv != nil {
		in.natsSrv.Shutdown()
		in.natsSrv.WaitForShutdown()
	}
	if in.influx != nil {
		os.Remove(EmbeddedInfluxURLFile(in.cfg.DataDir))
		in.influx.Stop()
	}
}

// EmbeddedInfluxURLFile holds the URL of the InfluxDB a process started
// for data_dir (influxdb.url empty) while it runs.
func EmbeddedInfluxURLFile(dataDir string) string {
	return filepath.Join(dataDir, "influxdb", "url")
}

// EmbeddedInfluxURL is the URL of the embedded InfluxDB running for
// dataDir, "" when none runs (or it did not stop cleanly: the URL then
// fails to connect, which the caller reports).
func EmbeddedInfluxURL(dataDir string) string {
	b, err := os.ReadFile(EmbeddedInfluxURLFile(dataDir))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
