package notify

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
)

// AlarmsBucket is the KV bucket holding the current state of every alarm
// (written by the alarm service; read here to re-check before escalating).
const AlarmsBucket = "LINEWATCH_ALARMS"

// Retry bounds the in-process retries of one notification before the
// message is NAKed for a later JetStream redelivery.
type Retry struct {
	Attempts int           // default 5
	Base     time.Duration // first backoff, default 1s; doubles per attempt
	Max      time.Duration // backoff cap, default 30s
	NakDelay time.Duration // redelivery delay after the last attempt, default 1m
}

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
	Clock    Clock
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
	clk    Clock
	routes []*route
	cons   jetstream.Consumer
	dedupe *dedupe
	states jetstream.KeyValue // nil until the alarm service created it

	mu     sync.Mutex
	flood  *floodTracker
	timers map[string]Timer // escalation timers by alarm id + route

	escalations chan escalation
	done        chan struct{}
	running     atomic.Bool
}

type escalation struct {
	tr    alerts.Transition
	route *route
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
		o.DedupeWindow = 24 * time.Hour
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
		flood:       newFloodTracker(o.Alarms.Flood),
		timers:      map[string]Timer{},
		escalations: make(chan escalation, 64),
		done:        make(chan struct{}),
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	if n.clk == nil {
		n.clk = RealClock()
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
	kv, err := o.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: DedupeBucket, Description: "linewatch notifications already sent",
		TTL: o.DedupeWindow, History: 1, Replicas: o.Replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: dedupe bucket %s: %w", DedupeBucket, err)
	}
	// A claim is stale once JetStream would have redelivered the message anyway.
	ackWait := 2 * time.Minute
	n.dedupe = &dedupe{kv: kv, stale: ackWait}
	cons, err := o.JS.CreateOrUpdateConsumer(ctx, bus.StreamAlarms, jetstream.ConsumerConfig{
		Durable:       o.Durable,
		Description:   "linewatch notifications (shared by all alerts workers)",
		FilterSubject: o.Subject,
		// A new consumer must not notify a year of history.
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: 256,
	})
	if err != nil {
		return nil, fmt.Errorf("notify: consumer %s on stream %s: %w", o.Durable, bus.StreamAlarms, err)
	}
	n.cons = cons
	return n, nil
}

// Run consumes transitions until ctx is cancelled; call it once. Pending
// escalation timers are stopped on return (escalations are not persisted:
// see the package doc).
func (n *Notifier) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return errors.New("notify: Run called twice on one Notifier; create one Notifier per worker")
	}
	it, err := n.cons.Messages(jetstream.PullMaxMessages(16))
	if err != nil {
		return fmt.Errorf("notify: consume %s: %w", n.opts.Durable, err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		<-ctx.Done()
		it.Stop()
	})
	wg.Go(func() { n.runEscalations(ctx) })
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
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return nil
			}
			n.log.Warn("notify: next message", "err", err)
			if err := sleep(ctx, n.clk, time.Second); err != nil {
				return nil
			}
			continue
		}
		n.handle(ctx, msg)
	}
}

func (n *Notifier) handle(ctx context.Context, msg jetstream.Msg) {
	var tr alerts.Transition
	if err := json.Unmarshal(msg.Data(), &tr); err != nil || tr.ID == "" {
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
	n.mu.Lock()
	fd := n.flood.observe(tr)
	n.mu.Unlock()
	var errs []error
	for _, r := range n.routes {
		if !r.matchesLine(tr.Alarm.Line) {
			continue
		}
		if fd.end != nil {
			p := Payload{Kind: KindFloodEnd, Route: r.cfg.Name, Flood: fd.end}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "flood-end", fd.end.Site, fd.end.Line, fd.end.Since.String()))
		}
		if fd.start != nil {
			p := Payload{Kind: KindFloodStart, Route: r.cfg.Name, Flood: fd.start}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "flood-start", fd.start.Site, fd.start.Line, fd.start.Since.String()))
		}
		if !r.matchesPriority(tr.Alarm.Priority) {
			continue
		}
		if !fd.suppress {
			p := Payload{Transition: tr, Kind: KindTransition, Route: r.cfg.Name}
			errs = append(errs, n.deliver(ctx, msg, r, p, r.recipients(false), "transition", tr.ID))
		}
		if r.cfg.EscalateAfter > 0 && tr.Alarm.Priority == alerts.Urgent {
			n.armEscalation(*tr, r)
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
			return r.webhook.send(ctx, p)
		}))
	}
	if r.email != nil {
		subject, body := emailText(p)
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
			return n.dedupe.sent(ctx, key, rev)
		}
		if attempt >= n.opts.Retry.Attempts || ctx.Err() != nil {
			break
		}
		wait := backoff(n.opts.Retry.Base, n.opts.Retry.Max, attempt)
		n.log.Warn("notify: send failed; retrying", "id", id, "attempt", attempt, "in", wait, "err", err)
		if msg != nil {
			_ = msg.InProgress() // keep JetStream from redelivering while we retry
		}
		if sleep(ctx, n.clk, wait) != nil {
			break
		}
	}
	// context.WithoutCancel: the claim must be released even on shutdown.
	n.dedupe.release(context.WithoutCancel(ctx), key, rev)
	return fmt.Errorf("%v: %d attempts: %w", id, n.opts.Retry.Attempts, err)
}
