package alerts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// PointWriter writes transitions to InfluxDB measurement "alarms"
// (implemented by store/; asynchronous, it spools while InfluxDB is down).
type PointWriter interface{ WriteAlarm(Transition) }

// Auditor appends to the audit trail (implemented by *audit.Log).
type Auditor interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Options of a Service; every field is optional.
type Options struct {
	Logger *slog.Logger
	Clock  clock.Clock
	Points PointWriter
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
	audit Auditor
	auth  *identity.Authority
	opts  Options

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
}

type indexRec struct {
	rev           uint64
	line, machine string
	shelvedUntil  time.Time // zero: not shelved
	pendingSince  time.Time // zero: outbox empty
	delayedDue    time.Time // zero: no delayed finding
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
	st, err := OpenStore(ctx, js, cfg.NATS.Replicas, p)
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
		cfg: cfg, nc: nc, js: js, store: st, audit: opts.Audit, auth: opts.Authority, opts: opts, log: opts.Logger, clock: opts.Clock,
		flood:  newFloodTracker(cfg.Alarms.Flood.Threshold, cfg.Alarms.Flood.EndBelow, cfg.Alarms.Flood.Window),
		policy: p, machines: map[string]string{}, index: map[string]indexRec{}, audited: map[string]bool{},
		wake:       make(chan struct{}, 1),
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

// Notify applies findings in order. Transient NATS errors are retried with
// a delay until ctx ends, so a finding is never half applied; duplicates
// and replays are ignored. It returns the errors of findings that could
// not be applied.
func (s *Service) Notify(ctx context.Context, fs []analytics.Finding) error {
	var errs []error
	for _, f := range fs {
		if err := s.notifyOne(ctx, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) notifyOne(ctx context.Context, f analytics.Finding) error {
	if f.ID == "" {
		f.ID = analytics.MakeID(f)
	}
	f.Time = f.Time.UTC()
	id := AlarmID(s.cfg.Site, f)
	init := func() Alarm { return NewAlarm(s.cfg, f) }
	var pre []Input
	if sup, known := s.machineSuppressed(f.Line, f.Machine); known {
		ev := EvUnsuppress
		if sup {
			ev = EvSuppress
		}
		pre = append(pre, Input{Event: ev, Role: RoleSystem})
	}
	delay := s.delayFor(f)
	for attempt := 1; ; attempt++ {
		_, rec, err := s.store.applyFinding(ctx, id, init, pre, f, delay, s.clock.Now())
		switch code := ErrorCode(err); {
		case err == nil:
			s.indexRecord(rec)
			s.publishOutbox(ctx, id, rec.Pending)
			return nil
		case code == CodeDuplicate || code == CodeNoChange:
			s.log.Debug("finding ignored", "finding", f.ID, "alarm", id, "why", err)
			return nil
		case code != CodeInternal:
			return fmt.Errorf("finding %s for alarm %s: %w", f.ID, id, err)
		}
		s.log.Warn("alarm store unavailable, retrying", "alarm", id, "finding", f.ID, "attempt", attempt, "err", err)
		if werr := wait(ctx, retryDelay(attempt)); werr != nil {
			return fmt.Errorf("finding %s for alarm %s not applied: %w (last error: %v)", f.ID, id, werr, err)
		}
	}
}

// delayFor is the ISA-18.2 on-delay (activation) or off-delay (clear) of
// a finding: the tag's alarm.on_delay / alarm.off_delay, else
// alarms.on_delay / alarms.off_delay.
func (s *Service) delayFor(f analytics.Finding) time.Duration {
	if f.Detector == SystemDetector {
		return 0 // the reporting component applies its own delay (e.g. collector.comm_loss_alarm_delay)
	}
	d, tagD := s.cfg.Alarms.OffDelay, (*time.Duration)(nil)
	ref, ok := s.cfg.Tag(f.Line, f.Machine, f.Tag)
	if f.Active {
		d = s.cfg.Alarms.OnDelay
		if ok {
			tagD = ref.Tag.Alarm.OnDelay
		}
	} else if ok {
		tagD = ref.Tag.Alarm.OffDelay
	}
	if tagD != nil {
		d = *tagD
	}
	return d
}

func retryDelay(attempt int) time.Duration {
	return backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second, Linear: true}.Delay(attempt)
}

func wait(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, clock.Real{}, d) }

// SetMachineState reports a machine's state (from its machine_state tag);
// states in alarms.suppress_when_state suppress its alarms by design. It
// does not block: Run applies the change.
func (s *Service) SetMachineState(line, machine, state string) {
	s.mu.Lock()
	s.machines[line+"/"+machine] = state
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) machineSuppressed(line, machine string) (suppressed, known bool) {
	s.mu.Lock()
	st, ok := s.machines[line+"/"+machine]
	s.mu.Unlock()
	return ok && slices.Contains(s.cfg.Alarms.SuppressWhenState, st), ok
}

// indexRecord keeps the ticker's index current, from this worker's own
// writes and from the bucket watch (other workers); older revisions than
// the one indexed are ignored.
func (s *Service) indexRecord(r record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.index[r.Alarm.ID]
	if r.rev != 0 && r.rev < x.rev {
		return
	}
	x.rev, x.line, x.machine = r.rev, r.Alarm.Line, r.Alarm.Machine
	x.shelvedUntil, x.pendingSince, x.delayedDue = time.Time{}, time.Time{}, r.DelayedDue
	if r.Alarm.State == Shelved {
		x.shelvedUntil = r.Alarm.ShelvedUntil
	}
	if len(r.Pending) > 0 {
		x.pendingSince = r.Pending[0].Time
	}
	s.index[r.Alarm.ID] = x
}

func (s *Service) setPending(id string, since time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.index[id]
	x.pendingSince = since
	s.index[id] = x
}

// Run serves operator commands, watches the bucket and runs the timers
// (shelve expiry, flood end, outbox replay) until ctx ends; then it drains
// in-flight commands within Options.ShutdownTimeout.
func (s *Service) Run(ctx context.Context) error {
	var (
		inflight sync.WaitGroup
		gate     sync.Mutex
		closed   bool
	)
	sub, err := s.nc.QueueSubscribe(bus.CmdAlarms+".*", s.opts.QueueGroup, func(m *nats.Msg) {
		gate.Lock()
		if closed {
			gate.Unlock()
			return // shutting down: the requester times out and retries with another worker
		}
		inflight.Add(1)
		gate.Unlock()
		defer inflight.Done()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.respond(cctx, m)
	})
	if err != nil {
		return fmt.Errorf("alerts: subscribe to commands: %w", err)
	}
	authSub, err := s.nc.QueueSubscribe(bus.CmdAuth+".*", s.opts.QueueGroup, func(m *nats.Msg) {
		gate.Lock()
		if closed {
			gate.Unlock()
			return
		}
		inflight.Add(1)
		gate.Unlock()
		defer inflight.Done()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.authServer.Respond(cctx, m)
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("alerts: subscribe to auth requests: %w", err)
	}
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.watch(ctx)
	}()
	ticker := time.NewTicker(s.opts.TickEvery)
	defer ticker.Stop()
	if err := s.ReplayOutboxes(ctx); err != nil {
		s.log.Warn("alerts: outbox replay at start", "err", err)
	}
	s.reconcileSuppression(ctx)
	for {
		select {
		case <-ctx.Done():
			gate.Lock()
			closed = true
			gate.Unlock()
			if err := authSub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				s.log.Warn("alerts: unsubscribe auth requests", "err", err)
			}
			return s.shutdown(sub, &inflight, watchDone)
		case <-ticker.C:
			s.Tick(ctx)
		case <-s.wake:
			s.reconcileSuppression(ctx)
		}
	}
}

func (s *Service) shutdown(sub *nats.Subscription, inflight *sync.WaitGroup, watchDone <-chan struct{}) error {
	// Stop taking commands; those already received finish (their context is
	// cancelled, so they end quickly with a reply).
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.log.Warn("alerts: unsubscribe commands", "err", err)
	}
	done := make(chan struct{})
	go func() {
		inflight.Wait()
		<-watchDone
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(s.opts.ShutdownTimeout):
		return fmt.Errorf("alerts: shutdown: commands still running after %s", s.opts.ShutdownTimeout)
	}
}

// watch follows the bucket so that every worker knows all shelved alarms
// and all non-empty outboxes, including those of other workers.
func (s *Service) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := s.store.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
		if err != nil {
			s.log.Warn("alerts: watch alarm bucket", "err", err)
			if wait(ctx, time.Second) != nil {
				return
			}
			continue
		}
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			r, err := decodeRecord(e.Value())
			if err != nil {
				s.log.Error("alerts: bad record in bucket", "key", e.Key(), "err", err)
				continue
			}
			r.rev = e.Revision()
			s.indexRecord(r)
		}
		w.Stop()
	}
}

// Tick runs the timers once at the clock's now: shelve expiry, flood end
// and replay of outboxes older than two seconds. Run calls it every
// Options.TickEvery; tests call it after advancing their clock.
func (s *Service) Tick(ctx context.Context) {
	now := s.clock.Now()
	type job struct {
		id   string
		kind int
	}
	const (
		expire = iota
		fire
		replay
	)
	var jobs []job
	s.mu.Lock()
	for id, r := range s.index {
		if !r.shelvedUntil.IsZero() && !now.Before(r.shelvedUntil) {
			jobs = append(jobs, job{id, expire})
		}
		if !r.delayedDue.IsZero() && !now.Before(r.delayedDue) {
			jobs = append(jobs, job{id, fire})
		}
		if !r.pendingSince.IsZero() && now.Sub(r.pendingSince) >= 2*time.Second {
			jobs = append(jobs, job{id, replay})
		}
	}
	s.mu.Unlock()
	for _, j := range jobs {
		if ctx.Err() != nil {
			return
		}
		switch j.kind {
		case expire:
			s.apply(ctx, j.id, Input{Event: EvShelveExpire, Role: RoleSystem}, now)
		case fire:
			s.settle(ctx, j.id, func() ([]Transition, record, error) { return s.store.fireDelayed(ctx, j.id, now) }, "delayed finding")
		case replay:
			r, _, err := s.store.get(ctx, j.id)
			if err != nil {
				s.log.Warn("alerts: outbox replay", "alarm", j.id, "err", err)
				continue
			}
			s.indexRecord(r)
			s.publishOutbox(ctx, j.id, r.Pending)
		}
	}
	for _, tr := range s.flood.expire(now) {
		s.publishFlood(ctx, tr)
	}
}

// ReplayOutboxes publishes every transition left unpublished in the bucket
// (by this or a crashed worker). Run calls it at start; Tick replays
// outboxes it learns of from the bucket watch.
func (s *Service) ReplayOutboxes(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 6*opTimeout)
	recs, err := s.store.records(lctx)
	cancel()
	if err != nil {
		return err
	}
	var failed int
	for _, r := range recs {
		s.indexRecord(r)
		if len(r.Pending) > 0 && !s.publishOutbox(ctx, r.Alarm.ID, r.Pending) {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d alarm(s) still have unpublished transitions; they are retried every %s", failed, s.opts.TickEvery)
	}
	return nil
}

// apply runs one system input.
func (s *Service) apply(ctx context.Context, id string, in Input, now time.Time) {
	s.settle(ctx, id, func() ([]Transition, record, error) { return s.store.apply(ctx, id, nil, []Input{in}, now) }, string(in.Event))
}

// settle runs a timer-driven store change and publishes its outcome; a
// refusal means another worker got there first or the alarm moved on, so
// the index is refreshed from the bucket.
func (s *Service) settle(ctx context.Context, id string, do func() ([]Transition, record, error), what string) {
	_, rec, err := do()
	switch ErrorCode(err) {
	case CodeOK:
		if rec.Alarm.ID != "" {
			s.indexRecord(rec)
			s.publishOutbox(ctx, id, rec.Pending)
		}
	case CodeNoChange, CodeNotShelved, CodeIllegal, CodeDuplicate:
		if r, _, gerr := s.store.get(ctx, id); gerr == nil {
			s.indexRecord(r)
		}
	default:
		s.log.Warn("alerts: system input not applied", "alarm", id, "input", what, "err", err)
	}
}

func (s *Service) reconcileSuppression(ctx context.Context) {
	s.mu.Lock()
	var ids []string
	var evs []Event
	for id, r := range s.index {
		st, ok := s.machines[r.line+"/"+r.machine]
		if !ok {
			continue
		}
		ev := EvUnsuppress
		if slices.Contains(s.cfg.Alarms.SuppressWhenState, st) {
			ev = EvSuppress
		}
		ids, evs = append(ids, id), append(evs, ev)
	}
	s.mu.Unlock()
	now := s.clock.Now()
	for i, id := range ids {
		s.apply(ctx, id, Input{Event: evs[i], Role: RoleSystem}, now)
	}
}
