package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/display"
)

// Retry bounds the in-process retries of one notification before the
// message is NAKed for a later JetStream redelivery.
type Retry struct {
	Attempts int           // default 5
	Base     time.Duration // first backoff, default 1s; doubles per attempt
	Max      time.Duration // backoff cap, default 30s
	NakDelay time.Duration // redelivery delay after the last attempt, default 1m
}

// policy is the wait before retry n: Base·2^(n-1), capped at Max.
func (r Retry) policy() backoff.Policy { return backoff.Policy{Min: r.Base, Max: r.Max} }

// Options configures a Notifier.
type Options struct {
	JS     jetstream.JetStream
	Alarms config.Alarms
	// Durable is the consumer name shared by all workers (default bus.ConsumerNotify,
	// which the operator role may not touch).
	Durable string
	// Subject filters the ALARMS stream (default all alarms).
	Subject string
	// Replicas of the dedupe bucket (match the cluster's stream replicas).
	Replicas int
	// DedupeWindow is how long a sent notification is remembered (default 24h).
	DedupeWindow time.Duration
	Retry        Retry
	HTTPClient   *http.Client
	// EmailTLS is the base TLS config for STARTTLS (e.g. the plant's CA).
	EmailTLS *tls.Config
	Logger   *slog.Logger
	Clock    clock.Clock
	// Health receives health.NotifierNoCons while the ALARMS consumer is
	// gone and cannot be recreated. It must not block.
	Health func(health.Condition)
	// Registerer registers linewatch_notify_consumer_missing and the
	// sent/failed counters; nil: not registered.
	Registerer prometheus.Registerer
	// Format writes values and times in e-mails and the webhook's text
	// (the tag's unit and decimals, the site zone); nil: UTC, no units.
	Format *display.Formatter
}

type route struct {
	cfg     config.Route
	webhook *webhookSender
	email   *emailSender
}

// Notifier consumes ALARMS and sends notifications.
type Notifier struct {
	opts   Options
	log    *slog.Logger
	clk    clock.Clock
	routes []*route
	cons   jetstream.Consumer
	dedupe *dedupe
	// ackWait of the consumer (a stale dedupe claim is older than this).
	ackWait         time.Duration
	floor           floorTracker
	consumerMissing prometheus.Gauge
	// sent and failed count notifications by channel (webhook, email):
	// failed once the retries are spent.
	sent, failed *prometheus.CounterVec

	mu     sync.Mutex
	flood  *floodTracker
	timers map[string]clock.Timer // escalation timers by escalation record key

	escalations chan escalation
	done        chan struct{}
	running     atomic.Bool
}

type escalation struct {
	tr    alerts.Transition
	route *route
	key   string // its record in the dedupe bucket
}

// New validates the routes and creates the shared durable consumer and the
// dedupe bucket. Run consumes.
func New(ctx context.Context, o Options) (*Notifier, error) {
	if o.JS == nil {
		return nil, errors.New("notify: Options.JS is required")
	}
	if o.Durable == "" {
		o.Durable = bus.ConsumerNotify
	}
	if o.Subject == "" {
		o.Subject = bus.AlarmsAll
	}
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = DefaultDedupeWindow
	}
	if o.Retry.Attempts <= 0 {
		o.Retry.Attempts = 5
	}
	if o.Retry.Base <= 0 {
		o.Retry.Base = time.Second
	}
	if o.Retry.Max <= 0 {
		o.Retry.Max = 30 * time.Second
	}
	if o.Retry.NakDelay <= 0 {
		o.Retry.NakDelay = time.Minute
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	n := &Notifier{
		opts: o, log: o.Logger, clk: o.Clock,
		timers:      map[string]clock.Timer{},
		escalations: make(chan escalation, 64),
		done:        make(chan struct{}),
		ackWait:     2 * time.Minute,
		consumerMissing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "linewatch_notify_consumer_missing",
			Help: "1 while the notifier's ALARMS consumer is gone and cannot be recreated (no notification is sent)."}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linewatch_notify_sent_total",
			Help: "Notifications delivered, by channel (webhook, email)."}, []string{"channel"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "linewatch_notify_failed_total",
			Help: "Notifications given up after every retry, by channel (webhook, email)."}, []string{"channel"}),
	}
	for _, ch := range []string{"webhook", "email"} { // scraped as 0 before the first
		n.sent.WithLabelValues(ch)
		n.failed.WithLabelValues(ch)
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{n.consumerMissing, n.sent, n.failed} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("notify metrics: %w", err)
			}
		}
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.clk == nil {
		n.clk = clock.Real{}
	}
	for i := range o.Alarms.Routes {
		rc := o.Alarms.Routes[i]
		r := &route{cfg: rc}
		if rc.Webhook != nil {
			ws, err := newWebhookSender(rc.Webhook, o.HTTPClient)
			if err != nil {
				return nil, fmt.Errorf("route %q: %w", rc.Name, err)
			}
			r.webhook = ws
		}
		if rc.Email != nil {
			r.email = &emailSender{cfg: rc.Email, tlsBase: o.EmailTLS}
		}
		n.routes = append(n.routes, r)
	}
	// All roles started at once on a cluster still forming: a request
	// that gets no answer (no responders, a timeout, no leader yet) is
	// retried until ctx ends, never a reason to exit.
	for attempt := 1; ; attempt++ {
		err := n.start(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("notify: not started before shutdown: %w", err)
		}
		if !bus.Unanswered(err) {
			n.setConsumerHealth(true, err.Error())
			return nil, err
		}
		n.log.Warn("notify: JetStream did not answer at start; retrying", "attempt", attempt, "err", err)
		if werr := startRetry.Wait(ctx, n.clk, attempt); werr != nil {
			return nil, fmt.Errorf("notify: not started before shutdown: %w", err)
		}
	}
	n.setConsumerHealth(false, "")  // clears an alarm a previous process left
	n.trackFloor(ctx, n.cons, true) // a deletion before the first message must not lose it
	return n, nil
}

// startRetry spaces the attempts of New.
var startRetry = backoff.Policy{Min: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: true}

// start opens the dedupe bucket and the shared consumer.
func (n *Notifier) start(ctx context.Context) error {
	kv, err := n.opts.JS.CreateOrUpdateKeyValue(ctx, DedupeBucketConfig(n.opts.DedupeWindow, n.opts.Replicas))
	if err != nil {
		return fmt.Errorf("notify: dedupe bucket %s: %w", DedupeBucket, err)
	}
	// A claim is stale once JetStream would have redelivered the message anyway.
	n.dedupe = &dedupe{kv: kv, stale: n.ackWait}
	n.flood = newFloodTracker(n.opts.Alarms.Flood, kv)
	cons, _, err := n.ensureConsumer(ctx)
	if err != nil {
		return err
	}
	n.cons = cons
	return nil
}

// Run consumes transitions until ctx is cancelled; call it once. Pending
// escalation timers are stopped on return; their records stay in the
// dedupe bucket for the other workers (and this one's next start).
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("notify: Run called twice on one Notifier; create one Notifier per worker")
	}
	var wg sync.WaitGroup
	wg.Go(func() { n.runEscalations(ctx) })
	// Escalations other workers armed (and left, dying) are taken over.
	wg.Go(func() { n.runScans(ctx) })
	defer func() {
		close(n.done)
		n.mu.Lock()
		for k, t := range n.timers {
			t.Stop()
			delete(n.timers, k)
		}
		n.mu.Unlock()
		wg.Wait()
	}()
	for ctx.Err() == nil {
		err := n.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		gone := errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, errConsumerGone) ||
			!n.trackFloor(ctx, n.cons, true)
		if !gone {
			n.log.Warn("notify: pulling from ALARMS interrupted; resuming", "err", err)
			if clock.Sleep(ctx, n.clk, time.Second) != nil {
				return nil
			}
			continue
		}
		cons, err := n.heal(ctx, err)
		if err != nil {
			return nil // ctx ended
		}
		n.cons = cons
		n.trackFloor(ctx, cons, true)
	}
	return nil
}

// stopAndWait stops a pull and waits (bounded) until its inbox is
// unsubscribed: a pull request left on the server would otherwise take
// the first message of a recreated consumer of the same name into a dead
// inbox, to be redelivered only after AckWait.
func stopAndWait(it jetstream.MessagesContext) {
	it.Stop()
	c, ok := it.(interface{ Closed() <-chan struct{} })
	if !ok {
		return
	}
	// nats.go (v1.55) closes a Messages iterator's Closed channel only in
	// a Closed call made once the inbox is gone, so one call would always
	// wait the full bound: ask again until it is (real time, bounded).
	deadline := time.Now().Add(2 * time.Second)
	for {
		select {
		case <-c.Closed():
			return
		default:
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pullExpiry bounds how long a pull request that got no answer holds up
// notifications. A pull lost on its way (a leader change, a route or
// connection that dropped it) gets no heartbeat; nats.go's default pull
// (30 s, heartbeats every 15 s) notices after two missed heartbeats, so
// an alarm waited 30 s for its notification. With 5 s the loss shows
// after 5 s and the pull is issued again.
const pullExpiry = 5 * time.Second

// errConsumerGone: the consumer was found missing while idle.
var errConsumerGone = errors.New("consumer not found")

// consume pulls and handles messages until the pull ends (consumer
// deleted, NATS trouble, or ctx).
func (n *Notifier) consume(ctx context.Context) error {
	it, err := n.cons.Messages(jetstream.PullMaxMessages(16), jetstream.PullExpiry(pullExpiry), jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("notify: consume %s: %w", n.opts.Durable, err)
	}
	defer stopAndWait(it)
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	// While idle, check now and then that the consumer still exists (a
	// deletion between pulls may end in a missing heartbeat only).
	idle := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(idle)
	wg.Go(func() {
		// Real time: this polls a remote resource; tests do not steer it.
		tick := time.NewTicker(floorEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-idle:
				return
			case <-tick.C:
			}
			if !n.trackFloor(ctx, n.cons, false) {
				n.log.Warn("notify: ALARMS consumer not found", "consumer", n.opts.Durable)
				it.Stop()
				return
			}
		}
	})
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() == nil {
				return errConsumerGone
			}
			return err
		}
		n.handle(ctx, msg)
		n.trackFloor(ctx, n.cons, false)
	}
}

func (n *Notifier) handle(ctx context.Context, msg jetstream.Msg) {
	tr, err := alerts.DecodeTransition(msg.Data())
	if errors.Is(err, alerts.ErrNewerSchema) {
		n.log.Error("notify: alarm transition of a newer schema; upgrade this worker", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Minute) // a newer worker may take it
		return
	}
	if err != nil {
		n.log.Error("notify: undecodable alarm transition; dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return
	}
	if tr.Event != alerts.EvActivate {
		_ = msg.Ack()
		return
	}
	if err := n.notifyActivation(ctx, msg, &tr); err != nil {
		if ctx.Err() != nil {
			_ = msg.Nak() // shutting down: let another worker take it now
			return
		}
		delay := n.opts.Retry.NakDelay
		if errors.Is(err, errBusy) {
			// Another worker holds the claim: look again soon to ack it as sent.
			delay = min(delay, n.opts.Retry.Base)
		}
		n.log.Warn("notify: will retry on redelivery", "transition", tr.ID, "in", delay, "err", err)
		_ = msg.NakWithDelay(delay)
		return
	}
	_ = msg.Ack()
}

func (n *Notifier) notifyActivation(ctx context.Context, msg jetstream.Msg, tr *alerts.Transition) error {
	fd, err := n.flood.observe(ctx, tr)
	if err != nil {
		return err // redelivered later: nothing was sent yet
	}
	var errs []error
	for _, r := range n.routes {
		if !r.matchesLine(tr.Alarm.Line) {
			continue
		}
		if fd.End != nil {
			p := Payload{Kind: KindFloodEnd, Route: r.cfg.Name, Flood: fd.End}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "flood-end", fd.End.Site, fd.End.Line, fd.End.Since.String()))
		}
		if fd.Start != nil {
			p := Payload{Kind: KindFloodStart, Route: r.cfg.Name, Flood: fd.Start}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "flood-start", fd.Start.Site, fd.Start.Line, fd.Start.Since.String()))
		}
		if !r.matchesPriority(tr.Alarm.Priority) {
			continue
		}
		if !fd.Suppress {
			p := Payload{Transition: tr, Kind: KindTransition, Route: r.cfg.Name}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "transition", tr.ID))
		}
		if r.cfg.EscalateAfter > 0 && tr.Alarm.Priority == alerts.Urgent {
			n.armEscalation(ctx, *tr, r)
		}
	}
	return errors.Join(errs...)
}

func (r *route) matchesLine(line string) bool {
	return len(r.cfg.Lines) == 0 || slices.Contains(r.cfg.Lines, line)
}

func (r *route) matchesPriority(p alerts.Priority) bool {
	return len(r.cfg.Priorities) == 0 || slices.Contains(r.cfg.Priorities, string(p))
}

func (r *route) recipients(escalation bool) []string {
	if r.email == nil {
		return nil
	}
	if escalation && len(r.cfg.Email.EscalateTo) > 0 {
		return r.cfg.Email.EscalateTo
	}
	return r.cfg.Email.To
}

// deliver sends p on every channel of r, each at most once (dedupe key =
// id parts + route + channel), retrying with capped exponential backoff.
func (n *Notifier) deliver(ctx context.Context, msg jetstream.Msg, r *route, p Payload, rcpts []string, id ...string) error {
	var errs []error
	if r.webhook != nil {
		errs = append(errs, n.once(ctx, msg, append(id, r.cfg.Name, "webhook"), func(ctx context.Context) error {
			return r.webhook.send(ctx, withText(p, n.opts.Format))
		}))
	}
	if r.email != nil {
		subject, body := emailText(p, n.opts.Format)
		errs = append(errs, n.once(ctx, msg, append(id, r.cfg.Name, "email"), func(ctx context.Context) error {
			return r.email.send(ctx, rcpts, subject, body, n.clk.Now())
		}))
	}
	return errors.Join(errs...)
}

func (n *Notifier) once(ctx context.Context, msg jetstream.Msg, id []string, send func(context.Context) error) error {
	key := dedupeKey(id...)
	rev, ok, err := n.dedupe.claim(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		n.log.Debug("notify: already sent", "id", id)
		return nil
	}
	for attempt := 1; ; attempt++ {
		err = send(ctx)
		if err == nil {
			n.sent.WithLabelValues(id[len(id)-1]).Inc()
			return n.dedupe.sent(ctx, key, rev)
		}
		if attempt >= n.opts.Retry.Attempts || ctx.Err() != nil {
			break
		}
		wait := n.opts.Retry.policy().Delay(attempt)
		n.log.Warn("notify: send failed; retrying", "id", id, "attempt", attempt, "in", wait, "err", err)
		if msg != nil {
			_ = msg.InProgress() // keep JetStream from redelivering while we retry
		}
		if clock.Sleep(ctx, n.clk, wait) != nil {
			break
		}
	}
	if ctx.Err() == nil {
		n.failed.WithLabelValues(id[len(id)-1]).Inc()
	}
	// context.WithoutCancel: the claim must be released even on shutdown.
	n.dedupe.release(context.WithoutCancel(ctx), key, rev)
	return fmt.Errorf("%v: %d attempts: %w", id, n.opts.Retry.Attempts, err)
}

// DefaultDedupeWindow is Options.DedupeWindow's default.
const DefaultDedupeWindow = 24 * time.Hour

// DedupeBucketConfig is the dedupe bucket as provisioned (window 0: the default).
func DedupeBucketConfig(window time.Duration, replicas int) jetstream.KeyValueConfig {
	if window <= 0 {
		window = DefaultDedupeWindow
	}
	return jetstream.KeyValueConfig{
		Bucket: DedupeBucket, Description: "linewatch notifications already sent",
		TTL: window, History: 1, Replicas: max(replicas, 1), Storage: jetstream.FileStorage,
	}
}
