package collector

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gopcua/opcua"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/sample"
)

// Options wire the collector to the rest of linewatch. All are optional.
type Options struct {
	// Output receives every read (samples and batch events) and every
	// change of a machine's connection state; internal/app fans it out
	// to InfluxDB and JetStream.
	Output     Output
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Clock      clock.Clock
	// Health receives system conditions: OPC UA communication lost per
	// machine (after collector.comm_loss_alarm_delay). It must not block
	// (health.Registry.Report).
	Health func(health.Condition)

	// dial replaces uaclient.Dial in tests that count session attempts.
	dial uaclient.DialFunc
}

// Collector reads all configured machines.
type Collector struct {
	cfg   *config.Config
	opts  Options
	log   *slog.Logger
	clk   clock.Clock
	steps *clock.Steps // wall-clock steps, seen once for every poller
	met   *metrics
	conns []*endpointConn
	runs  []*machineRun

	mu      sync.Mutex
	running bool
}

// endpointConn is one shared session and the machines using it.
type endpointConn struct {
	conn     *uaclient.Conn
	machines []*machineRun
	up       bool
	reason   string
	downAt   time.Time // when the session last went down
	upAt     time.Time // when it last came up
	// flaps is counted here, where every change is seen, not by the
	// watcher, which may see two changes as one.
	flaps   flapCount
	changed chan struct{} // closed and replaced at each change of up/reason
}

// New prepares the collector: loads (or creates once) the application
// instance certificate, resolves passwords, groups machines by endpoint.
// It connects nothing; Run does.
func New(cfg *config.Config, o Options) (*Collector, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	met, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("collector metrics: %w", err)
	}
	c := &Collector{cfg: cfg, opts: o, log: o.Logger.With("component", "collector"), clk: o.Clock, met: met}
	c.steps = clock.NewSteps(o.Clock, func(step time.Duration) {
		met.clockSteps.Inc()
		c.log.Warn("wall clock stepped; poll schedules re-aligned to the new time (they wait on the monotonic clock, so no poll was delayed)",
			"step", step.String(), "step_seconds", step.Seconds(), "now", o.Clock.Now().UTC().Format(time.RFC3339Nano))
	})
	store := pki.Open(cfg.Collector.PKIDir)
	appURI := pki.ApplicationURI()
	ownCert, ownKey, err := store.OwnCertificate(appURI)
	if err != nil {
		return nil, fmt.Errorf("application instance certificate in %s: %w", cfg.Collector.PKIDir, err)
	}
	byKey := map[string]*endpointConn{}
	dialLocks := map[string]chan struct{}{}
	var errs []error
	for li := range cfg.Lines {
		l := &cfg.Lines[li]
		var lb *lineBatch
		if l.BatchTag != "" {
			lb = newLineBatch(cfg.Site, l)
		}
		for mi := range l.Machines {
			m := &l.Machines[mi]
			ucfg, err := c.sessionConfig(m, store, appURI, ownCert, ownKey)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %s machine %s: %w", l.ID, m.ID, err))
				continue
			}
			key := sessionKey(m)
			ec := byKey[key]
			if ec == nil {
				ec = &endpointConn{changed: make(chan struct{})}
				ec.conn = uaclient.NewConn(ucfg, uaclient.ConnOptions{
					ReconnectMin: cfg.Collector.ReconnectMin, ReconnectMax: cfg.Collector.ReconnectMax,
					Clock: o.Clock, Logger: c.log, Dial: serialDial(dialLocks, m.Endpoint, o.dial), Hooks: c.hooks(ec, m.Endpoint),
				})
				byKey[key] = ec
				c.conns = append(c.conns, ec)
			}
			mr := c.newMachineRun(l, m, ec.conn, lb)
			ec.machines = append(ec.machines, mr)
			c.runs = append(c.runs, mr)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// serialDial lets at most one session be created per endpoint URL at a
// time, also across sessions with different security or users, so a
// restarting server is not hit by a burst of session attempts.
func serialDial(locks map[string]chan struct{}, endpoint string, dial uaclient.DialFunc) uaclient.DialFunc {
	if dial == nil {
		dial = uaclient.Dial
	}
	lock := locks[endpoint]
	if lock == nil {
		lock = make(chan struct{}, 1)
		locks[endpoint] = lock
	}
	return func(ctx context.Context, cfg uaclient.Config, onState func(opcua.ConnState)) (*opcua.Client, uaclient.Limits, error) {
		select {
		case lock <- struct{}{}:
		case <-ctx.Done():
			return nil, uaclient.Limits{}, ctx.Err()
		}
		defer func() { <-lock }()
		return dial(ctx, cfg, onState)
	}
}

// sessionKey groups machines that can share one session: same endpoint,
// security and identity.
func sessionKey(m *config.Machine) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", m.Endpoint, m.SecurityPolicy, m.SecurityMode,
		m.Auth.Type, m.Auth.Username, m.CertificateFile, m.Auth.CertificateFile)
}

func (c *Collector) sessionConfig(m *config.Machine, store *pki.Store, appURI string, ownCert []byte, ownKey *rsa.PrivateKey) (uaclient.Config, error) {
	u := uaclient.Config{
		Endpoint: m.Endpoint, Policy: m.SecurityPolicy, Mode: m.SecurityMode,
		Certificate: ownCert, PrivateKey: ownKey,
		AppURI: appURI, TrustDir: m.TrustedCertsDir, PKI: store,
		RequestTimeout: c.cfg.Collector.RequestTimeout, SessionName: "linewatch " + appURI,
		Now: c.clk.Now,
	}
	if m.CertificateFile != "" {
		der, key, err := pki.LoadPair(m.CertificateFile, m.PrivateKeyFile)
		if err != nil {
			return u, err
		}
		u.Certificate, u.PrivateKey = der, key
	}
	u.Auth.Type = m.Auth.Type
	switch m.Auth.Type {
	case "username":
		pw, err := m.Auth.Password().Resolve()
		if err != nil {
			return u, fmt.Errorf("OPC UA password of user %q: %w", m.Auth.Username, err)
		}
		u.Auth.Username, u.Auth.Password = m.Auth.Username, pw
	case "certificate":
		der, key, err := pki.LoadPair(m.Auth.CertificateFile, m.Auth.PrivateKeyFile)
		if err != nil {
			return u, fmt.Errorf("user certificate: %w", err)
		}
		u.Auth.Certificate, u.Auth.PrivateKey = der, key
	}
	return u, nil
}

// hooks turn session events into metrics and per-machine status.
func (c *Collector) hooks(ec *endpointConn, endpoint string) uaclient.Hooks {
	okAttempts := c.met.attempts.WithLabelValues(endpoint, "ok")
	errAttempts := c.met.attempts.WithLabelValues(endpoint, "error")
	reconnects := c.met.reconnects.WithLabelValues(endpoint)
	everUp := false
	return uaclient.Hooks{
		Attempt: func(err error) {
			if err != nil {
				errAttempts.Inc()
				return
			}
			okAttempts.Inc()
			if everUp {
				reconnects.Inc()
			}
			everUp = true
		},
		Up:   func(at time.Time) { c.setStatus(ec, at, true, "") },
		Down: func(at time.Time, reason error) { c.setStatus(ec, at, false, reason.Error()) },
	}
}

// setStatus reports a change of connection state (or of the reason) for
// every machine on the session.
func (c *Collector) setStatus(ec *endpointConn, at time.Time, up bool, reason string) {
	c.mu.Lock()
	changed := ec.up != up || ec.reason != reason
	if !up && (ec.up || ec.downAt.IsZero()) {
		ec.downAt = at
	}
	if !up && ec.up {
		ec.flaps.lost(ec.upAt, at, c.cfg.Collector.CommLossAlarmDelay)
	}
	if up && !ec.up {
		ec.upAt = at
	}
	ec.up, ec.reason = up, reason
	if changed {
		close(ec.changed)
		ec.changed = make(chan struct{})
	}
	c.mu.Unlock()
	if !changed {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	for _, mr := range ec.machines {
		c.met.connected.WithLabelValues(mr.line.ID, mr.m.ID).Set(v)
		if c.opts.Output != nil {
			c.opts.Output.Status(context.Background(), sample.MachineStatus{
				Time: at, Site: c.cfg.Site, Line: mr.line.ID, Machine: mr.m.ID,
				Endpoint: mr.m.Endpoint, Connected: up, Reason: reason,
			})
		}
	}
}

// Run connects every endpoint and polls and subscribes until ctx is
// cancelled; then it closes the sessions (each within a bound) and returns.
// No read reaches the Output after Run returned.
func (c *Collector) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("collector: Run called twice")
	}
	c.running = true
	c.mu.Unlock()

	var wg sync.WaitGroup
	for _, ec := range c.conns {
		wg.Go(func() { ec.conn.Run(ctx) })
		wg.Go(func() { c.watchComm(ctx, ec) })
	}
	for _, mr := range c.runs {
		for _, g := range mr.m.PollGroups {
			p := mr.newPoller(g)
			wg.Go(func() { p.run(ctx) })
		}
		for _, s := range mr.m.Subscriptions {
			sb := mr.newSubscriber(s)
			wg.Go(func() { sb.run(ctx) })
		}
	}
	wg.Wait()
	return nil
}
