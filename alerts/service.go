package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/display"
)

// Options of a Service; every field is optional.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	// ProcessClock is the machines' clock, the process time of person
	// actions and timers (nil: Clock). The demo passes the simulated
	// plant's clock, so an acknowledgement sits on the same time axis as
	// the alarm it acknowledges.
	ProcessClock func() time.Time
	Points       PointWriter
	// Audit receives every person-caused action; nil opens the AUDIT stream
	// on the service's connection.
	Audit Auditor
	// OnTransition is called after each transition is published (also for
	// flood summaries); it must not block.
	OnTransition func(Transition)
	// QueueGroup shares commands among workers (default "linewatch-alerts").
	QueueGroup string
	// TickEvery is how often Run checks shelve expiry, floods and the
	// outbox (default 1s).
	TickEvery time.Duration
	// ShutdownTimeout bounds Run's drain on cancel (default 10s).
	ShutdownTimeout time.Duration
	// SetupTimeout bounds creating streams and the bucket in New (default 15s).
	SetupTimeout time.Duration
	// Authority verifies who sends commands and issues tokens; nil makes
	// one from console.users_file, the key TokenKeyFile and the
	// LINEWATCH_AUTH bucket. Without a users file every command is
	// refused.
	Authority *identity.Authority
	// FindingsAckWait is the ack wait of the line consumers of FINDINGS
	// (default 5s): how long a line waits for a worker that died holding
	// its message. A live worker keeps it from expiring (InProgress).
	FindingsAckWait time.Duration
	// Registerer registers the alerts metrics
	// (linewatch_alerts_findings_total, linewatch_alerts_flood_summaries_total);
	// nil: not registered.
	Registerer prometheus.Registerer
}

// TokenKeyFile is where the alarm service keeps its token-signing key
// (made on first start, 0600 in a 0700 directory). Several alerts workers
// must share one key file.
func TokenKeyFile(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "keys", "auth-token.key")
}

// Service is an alerts worker: it turns findings into alarm transitions,
// serves operator commands and publishes everything on ALARMS. Several
// workers may run against the same NATS; the bucket keeps them consistent.
type Service struct {
	cfg   *config.Config
	nc    *nats.Conn
	js    jetstream.JetStream
	store *Store
	// shared is SharedBucket: machine states and flood counts.
	shared  jetstream.KeyValue
	metrics *metrics
	audit   Auditor
	auth    *identity.Authority
	opts    Options

	authServer *AuthServer
	log        *slog.Logger
	clock      clock.Clock
	flood      *floodTracker
	policy     Policy

	mu       sync.Mutex
	machines map[string]string   // line/machine → last reported machine state
	index    map[string]indexRec // alarm id → what the ticker needs
	audited  map[string]bool     // transition ids already audited by this process
	wake     chan struct{}
	// ready is closed once Run serves commands and logins (Ready).
	ready     chan struct{}
	readyOnce sync.Once

	// remoteStates: RunFindings runs, so machine states from other
	// processes are in SharedBucket.
	remoteStates atomic.Bool

	// machineAt: line/machine → time of that state (made on first use);
	// an older report than the one applied is ignored.
	machineAt map[string]time.Time
}

type indexRec struct {
	rev           uint64
	line, machine string
	shelvedUntil  time.Time // zero: not shelved
	pendingSince  time.Time // zero: outbox empty
	delayedDue    time.Time // zero: no delayed finding
	state         State     // for the alarm gauges (Metrics)
	priority      Priority
}

// New prepares a worker: streams (ALARMS, AUDIT) and the bucket are created
// or updated. Call Run to serve commands and run timers.
func New(cfg *config.Config, nc *nats.Conn, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.ProcessClock == nil {
		opts.ProcessClock = opts.Clock.Now
	}
	if opts.QueueGroup == "" {
		opts.QueueGroup = "linewatch-alerts"
	}
	if opts.TickEvery <= 0 {
		opts.TickEvery = time.Second
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.SetupTimeout <= 0 {
		opts.SetupTimeout = 15 * time.Second
	}
	if opts.FindingsAckWait <= 0 {
		opts.FindingsAckWait = 5 * time.Second
	}
	mx, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.SetupTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("alerts: JetStream: %w", err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{Replicas: cfg.NATS.Replicas, TelemetryMaxAge: cfg.NATS.Telemetry.MaxAge, AlarmsMaxAge: cfg.Alarms.Retention}); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	p := PolicyFrom(cfg.Alarms)
	p.Time = display.MustNew(cfg).Time
	st, err := OpenStore(ctx, js, cfg.NATS.Replicas, p)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	shared, err := OpenSharedBucket(ctx, js, cfg.NATS.Replicas)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if opts.Audit == nil {
		l, err := audit.Open(ctx, js, audit.Options{Replicas: cfg.NATS.Replicas, Logger: opts.Logger})
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		opts.Audit = l
	}
	if len(cfg.Alarms.Roles.Operators)+len(cfg.Alarms.Roles.Supervisors) > 0 {
		opts.Logger.Warn("alerts: alarms.roles is no longer used and is ignored: roles come from the users file (console.users_file), see docs/alarms.md")
	}
	if opts.Authority == nil {
		a, err := newAuthority(ctx, cfg, js, opts)
		if err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		opts.Authority = a
	}
	return &Service{
		cfg: cfg, nc: nc, js: js, store: st, shared: shared, metrics: mx, audit: opts.Audit, auth: opts.Authority, opts: opts, log: opts.Logger, clock: opts.Clock,
		flood:  newFloodTracker(shared, cfg.Alarms.Flood.Threshold, cfg.Alarms.Flood.EndBelow, cfg.Alarms.Flood.Window),
		policy: p, machines: map[string]string{}, index: map[string]indexRec{}, audited: map[string]bool{},
		wake:       make(chan struct{}, 1),
		ready:      make(chan struct{}),
		authServer: NewAuthServer(opts.Authority, opts.Audit, opts.Clock, opts.Logger),
	}, nil
}

// newAuthority opens what verifies commands; nil (commands refused, with
// a warning) when no users file is configured.
func newAuthority(ctx context.Context, cfg *config.Config, js jetstream.JetStream, opts Options) (*identity.Authority, error) {
	if cfg.Console.UsersFile == "" {
		opts.Logger.Warn("alerts: console.users_file is not set: every alarm command and login will be refused (add users with `linewatch console adduser`)")
		return nil, nil
	}
	users, err := identity.NewDirectory(cfg.Console.UsersFile, opts.Logger)
	if err != nil {
		return nil, err
	}
	signer, err := identity.LoadOrCreateSigner(TokenKeyFile(cfg))
	if err != nil {
		return nil, err
	}
	kv, err := identity.OpenAuthBucket(ctx, js, cfg.NATS.Replicas)
	if err != nil {
		return nil, err
	}
	return identity.NewAuthority(identity.AuthorityOptions{Users: users, Signer: signer, KV: kv, Now: opts.Clock.Now, Logger: opts.Logger})
}

// Authority verifies tokens for this service (nil without a users file);
// other request handlers in the alerts process may use it.
func (s *Service) Authority() *identity.Authority { return s.auth }

// Store is the alarm state (for listing).
func (s *Service) Store() *Store { return s.store }

// Flooding says whether line is in an alarm flood (for notifiers, which
// then send the flood summary instead of one notification per alarm).
func (s *Service) Flooding(line string) bool { return s.flood.Flooding(line) }

// Ready is closed once Run has subscribed to commands and logins and the
// NATS server has the subscriptions: a request sent after it finds a
// responder instead of failing with "no responders".
func (s *Service) Ready() <-chan struct{} { return s.ready }

// processNow is the machines' clock (Options.ProcessClock) in UTC.
func (s *Service) processNow() time.Time { return s.opts.ProcessClock().UTC() }
