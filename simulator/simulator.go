package simulator

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultStart is the simulated start time when Options.Start is zero, so
// test runs are repeatable to the timestamp.
var DefaultStart = time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)

// Options configure a simulator. The zero value is a manual-clock simulator
// of the default plant on a free loopback port, anonymous access off.
type Options struct {
	Listen          string            // host:port, default "127.0.0.1:0" (free port)
	ControlListen   string            // HTTP control endpoint, "" = disabled, "127.0.0.1:0" = free port
	ControlToken    string            // bearer token required by the control endpoint ("" = none; loopback only)
	Seed            int64             // physics seed: same seed and plant, same values
	Speed           float64           // simulated seconds per real second; 0 = manual clock (Advance only)
	Start           time.Time         // simulated start time (UTC); zero = DefaultStart
	Plant           *Plant            // nil = DefaultPlant()
	PKIDir          string            // server cert+key persisted here (created once, reused); "" = in-memory cert
	Users           map[string]string // username -> password; empty = no user tokens accepted
	AllowAnonymous  bool
	ExtraTags       int // synthetic tags for load tests, up to 50 000
	MaxNodesPerRead int // advertised and enforced server limit (0 = gopcua default, 32)
	// TrustedClientCerts (DER) plus the certificates in PKIDir/trusted form
	// the client trust list. When it is empty any client certificate is
	// accepted; otherwise sessions presenting another certificate get
	// BadCertificateUntrusted.
	TrustedClientCerts [][]byte
	Logger             *slog.Logger
	// BehindWall keeps the real-time clock (Speed > 0) from passing the
	// wall clock: simulated time started in the past runs at Speed until
	// it reaches the present, then at real time. Dashboards of "the last
	// N hours" then always show the newest data (the demo).
	BehindWall bool
}

// gopcuaDefaultMaxNodesPerRead is what gopcua v0.9.0 advertises.
const gopcuaDefaultMaxNodesPerRead = 32

// Simulator is a running simulated plant behind an OPC UA server.
type Simulator struct {
	opts  Options
	log   *slog.Logger
	e     *engine
	plant *Plant
	host  string
	port  int
	cert  []byte
	key   *rsa.PrivateKey

	trusted map[[32]byte]bool // sha256 of trusted client certificates

	srvMu  sync.Mutex
	srv    *opcServer    // nil while the server is down
	upCh   chan struct{} // closed when the server is up
	closed bool          // Close ran: a late restart must not bring the server back

	ctl *control

	stopLoop  context.CancelFunc
	loopDone  chan struct{}
	closeOnce sync.Once
}

// Start builds the plant, starts the OPC UA server (and the control
// endpoint when configured) and, when Speed > 0, the real-time clock.
// Cancelling ctx stops the clock; call Close to release everything.
func Start(ctx context.Context, opts Options) (*Simulator, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Speed < 0 {
		return nil, fmt.Errorf("speed %v must be >= 0 (0 = manual clock)", opts.Speed)
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	opts.Start = opts.Start.UTC().Truncate(time.Second)
	if opts.MaxNodesPerRead < 0 {
		return nil, fmt.Errorf("MaxNodesPerRead %d must be >= 0", opts.MaxNodesPerRead)
	}
	if opts.MaxNodesPerRead == 0 {
		opts.MaxNodesPerRead = gopcuaDefaultMaxNodesPerRead
	}
	if !opts.AllowAnonymous && len(opts.Users) == 0 {
		return nil, errors.New("no way to log in: set AllowAnonymous or give at least one user")
	}
	for u, p := range opts.Users {
		if u == "" || p == "" {
			return nil, fmt.Errorf("user %q: empty user names and passwords are not allowed", u)
		}
	}
	plant := opts.Plant
	if plant == nil {
		plant = DefaultPlant()
	}
	if err := plant.Validate(); err != nil {
		return nil, fmt.Errorf("plant: %w", err)
	}
	host, port, err := resolveListen(opts.Listen)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Warn("simulator listens beyond loopback", "listen", opts.Listen)
	}
	cert, key, err := loadOrCreateCert(opts.PKIDir)
	if err != nil {
		return nil, err
	}
	trusted, err := loadTrusted(opts.PKIDir, opts.TrustedClientCerts)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(plant, opts.Seed, opts.Start, opts.ExtraTags)
	if err != nil {
		return nil, err
	}
	s := &Simulator{opts: opts, log: log, e: e, plant: plant, host: host, port: port, cert: cert, key: key, trusted: trusted}
	for i, fs := range plant.Faults {
		f := fs.Fault
		abs, off, _ := parseAt(fs.AtRaw)
		if abs.IsZero() {
			abs = opts.Start.Add(off)
		}
		f.At = abs
		rec, _, err := e.inject(f)
		if err != nil {
			return nil, fmt.Errorf("plant fault %d (%s): %w", i, f.Kind, err)
		}
		log.Info("fault scheduled", "id", rec.Fault.ID, "kind", f.Kind, "target", f.Target, "at", f.At.Format(time.RFC3339))
	}
	if err := s.bringUp(); err != nil {
		return nil, err
	}
	if opts.ControlListen != "" {
		ctl, err := startControl(s, opts.ControlListen, opts.ControlToken)
		if err != nil {
			s.bringDown()
			return nil, err
		}
		s.ctl = ctl
	}
	loopCtx, cancel := context.WithCancel(ctx)
	s.stopLoop = cancel
	s.loopDone = make(chan struct{})
	if opts.Speed > 0 {
		go s.run(loopCtx)
	} else {
		close(s.loopDone)
	}
	log.Info("simulator started", "endpoint", s.Endpoint(), "control", s.ControlURL(), "start", opts.Start.Format(time.RFC3339),
		"speed", opts.Speed, "seed", opts.Seed, "lines", len(plant.Lines), "extra_tags", e.extra.n)
	return s, nil
}

// resolveListen picks a concrete port so the endpoint URL the server
// advertises is the one clients dial, and restarts reuse it.
func resolveListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: want host:port, e.g. 127.0.0.1:4840: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	if port != 0 {
		return host, port, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return host, port, nil
}

func (s *Simulator) bringUp() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil || s.closed {
		return nil
	}
	o, err := startServer(serverConfig{
		host: s.host, port: s.port, cert: s.cert, key: s.key, users: s.opts.Users, anon: s.opts.AllowAnonymous,
		maxRead: s.opts.MaxNodesPerRead, engine: s.e, log: s.log, trusted: s.trusted,
	})
	if err != nil {
		return err
	}
	s.srv = o
	if s.upCh == nil {
		s.upCh = make(chan struct{})
	}
	close(s.upCh)
	return nil
}

func (s *Simulator) bringDown() {
	s.srvMu.Lock()
	o := s.srv
	s.srv = nil
	s.upCh = make(chan struct{})
	s.srvMu.Unlock()
	if o != nil {
		o.close()
	}
}

func (s *Simulator) server() *opcServer {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.srv
}

// apply carries out the server-side consequences of faults, in order.
func (s *Simulator) apply(acts []action) {
	for _, a := range acts {
		switch a.kind {
		case actDown:
			s.log.Info("simulated server restart: going down", "sim_time", s.Now().Format(time.RFC3339))
			s.bringDown()
		case actUp:
			if err := s.bringUp(); err != nil {
				s.log.Error("simulated server restart: could not come back", "err", err)
			} else {
				s.log.Info("simulated server restart: back up", "endpoint", s.Endpoint())
			}
		case actStarted:
			s.log.Info("fault started", "id", a.rec.Fault.ID, "kind", a.rec.Fault.Kind, "target", a.rec.Fault.Target,
				"sim_time", a.rec.Fault.At.Format(time.RFC3339))
		case actEnded:
			s.log.Info("fault ended", "id", a.rec.Fault.ID, "kind", a.rec.Fault.Kind, "target", a.rec.Fault.Target,
				"sim_time", a.rec.End.Format(time.RFC3339))
		case actDrop:
			if o := s.server(); o != nil {
				n := o.dropConnections()
				s.log.Info("dropped client connections", "count", n)
			}
		}
	}
}

func (s *Simulator) notify() {
	if o := s.server(); o != nil {
		o.notify()
	}
}

// run is the real-time clock: simulated time moves Speed times faster than
// the wall clock, always in whole physics steps.
func (s *Simulator) run(ctx context.Context) {
	defer close(s.loopDone)
	interval := min(100*time.Millisecond, max(10*time.Millisecond, time.Duration(float64(time.Second)/s.opts.Speed)))
	tk := time.NewTicker(interval)
	defer tk.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-tk.C:
			real := t.Sub(last)
			last = t
			d := time.Duration(float64(real) * s.opts.Speed)
			if s.opts.BehindWall {
				d = capAtWall(s.e.now(), d, time.Now())
			}
			s.advance(d)
		}
	}
}

// capAtWall shortens a step of d from now so that it ends no later than
// wall (Options.BehindWall).
func capAtWall(now time.Time, d time.Duration, wall time.Time) time.Duration {
	return max(min(d, wall.Sub(now)), 0)
}

func (s *Simulator) advance(d time.Duration) {
	if d <= 0 {
		return
	}
	acts := s.e.advanceTo(s.e.now().Add(d))
	s.apply(acts)
	s.notify()
}

// Endpoint is the OPC UA endpoint URL, e.g. "opc.tcp://127.0.0.1:4840".
func (s *Simulator) Endpoint() string {
	return "opc.tcp://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// ControlURL is the base URL of the HTTP control endpoint, "" when disabled.
func (s *Simulator) ControlURL() string {
	if s.ctl == nil {
		return ""
	}
	return s.ctl.url
}

// Now is the simulated time.
func (s *Simulator) Now() time.Time { return s.e.now() }

// Plant is the plant being simulated.
func (s *Simulator) Plant() *Plant { return s.plant }

// Advance moves simulated time forward by d in 1 s physics steps, applies
// every fault scheduled on the way, then notifies subscribers. With Speed 0
// it is the only way time moves.
func (s *Simulator) Advance(d time.Duration) { s.advance(d) }

// Inject validates f and starts it now (f.At zero or past) or schedules it.
func (s *Simulator) Inject(f Fault) error {
	_, err := s.InjectFault(f)
	return err
}

// InjectFault is Inject returning the fault record (with its id).
func (s *Simulator) InjectFault(f Fault) (FaultRecord, error) {
	rec, acts, err := s.e.inject(f)
	if err != nil {
		return FaultRecord{}, err
	}
	s.log.Info("fault injected", "id", rec.Fault.ID, "kind", rec.Fault.Kind, "target", rec.Fault.Target,
		"at", rec.Fault.At.Format(time.RFC3339), "active", rec.Active())
	s.apply(acts)
	s.notify()
	return rec, nil
}

// ClearFault ends an active (or cancels a scheduled) fault.
func (s *Simulator) ClearFault(id string) (FaultRecord, error) {
	rec, ok := s.e.clear(id)
	if !ok {
		return FaultRecord{}, fmt.Errorf("no fault with id %q: list them with GET /faults", id)
	}
	s.log.Info("fault cleared", "id", id, "kind", rec.Fault.Kind, "target", rec.Fault.Target)
	s.notify()
	return rec, nil
}

// Restart stops the server, keeping the plant state, and brings it back on
// the same port with the same certificate after downtime of simulated time.
// With Speed > 0 it returns once the server is back (or ctx ends); with
// Speed 0 and downtime > 0 it returns at once and the server comes back when
// Advance passes the downtime.
func (s *Simulator) Restart(ctx context.Context, downtime time.Duration) error {
	if downtime < 0 {
		return fmt.Errorf("restart downtime %v must not be negative", downtime)
	}
	if _, err := s.InjectFault(Fault{Kind: FaultRestart, Downtime: Duration(downtime)}); err != nil {
		return err
	}
	if s.opts.Speed == 0 {
		return nil
	}
	s.srvMu.Lock()
	up := s.upCh
	s.srvMu.Unlock()
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the simulator to come back: %w", ctx.Err())
	}
}

// DropConnections closes every client socket; the server keeps running.
func (s *Simulator) DropConnections() {
	_, _ = s.InjectFault(Fault{Kind: FaultDropConnections})
}

// FaultLog lists every fault with its simulated start and end, by At.
func (s *Simulator) FaultLog() []FaultRecord { return s.e.faultLog() }

// ServerCertificate is the server's DER certificate.
func (s *Simulator) ServerCertificate() []byte { return slices.Clone(s.cert) }

// Close stops the clock, the control endpoint and the server.
func (s *Simulator) Close() error {
	s.closeOnce.Do(func() {
		s.stopLoop()
		<-s.loopDone
		if s.ctl != nil {
			s.ctl.close()
		}
		s.srvMu.Lock()
		s.closed = true
		s.srvMu.Unlock()
		s.bringDown()
		s.log.Info("simulator stopped", "sim_time", s.Now().Format(time.RFC3339))
	})
	return nil
}
