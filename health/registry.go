package health

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// DefaultQueueMax bounds the changes kept while they cannot be published.
const DefaultQueueMax = 1024

// DefaultResync is how often active conditions are republished.
const DefaultResync = time.Minute

// Options of a Registry; all optional but Site.
type Options struct {
	Site       string
	Registerer prometheus.Registerer
	Clock      clock.Clock // timestamps and retry/resync timers; default clock.Real
	Logger     *slog.Logger
	// Process names this process when the roles run in several processes
	// that each report the site-wide conditions of source store (each
	// writes to InfluxDB and has its own spool): a store condition
	// without a machine gets machine "store@<Process>", so each process's
	// condition is an alarm of its own instead of one alarm that the
	// processes raise and clear in turn. Empty: one process reports them.
	Process string
	// QueueMax bounds the unpublished changes (default DefaultQueueMax);
	// past it the oldest change is dropped (the periodic republish still
	// carries the current state of every active condition).
	QueueMax int
}

// PublishFunc sends one change; JetStreamPublisher in production.
type PublishFunc func(ctx context.Context, c Condition) error

// Registry holds the current state of this process's conditions.
type Registry struct {
	o       Options
	log     *slog.Logger
	gauge   *prometheus.GaugeVec
	dropped prometheus.Counter

	mu    sync.Mutex
	cur   map[string]Condition
	queue []Condition
	wake  chan struct{}
}

// New makes a Registry and registers its metrics.
func New(o Options) (*Registry, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueMax <= 0 {
		o.QueueMax = DefaultQueueMax
	}
	r := &Registry{
		o: o, log: o.Logger.With("component", "health"), cur: map[string]Condition{}, wake: make(chan struct{}, 1),
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "linewatch_health_condition",
			Help: "1 while a system condition is active (source, condition, line, machine; empty line and machine: the whole site)."},
			[]string{"source", "condition", "line", "machine"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "linewatch_health_changes_dropped_total",
			Help: "Condition changes dropped unpublished because NATS was unreachable for longer than the queue holds."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{r.gauge, r.dropped} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("health metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Report records the state of a condition. The first report of a
// condition is always published (a clear after a restart must reach an
// alarm the previous process raised); later ones only when Active
// changes. A new Reason while active updates the gauge's condition but
// publishes nothing. Report never blocks.
func (r *Registry) Report(c Condition) {
	if r == nil {
		return
	}
	c.V, c.Site, c.Reason = SchemaVersion, r.o.Site, clip(c.Reason)
	if c.Source == SourceStore && c.Machine == "" && r.o.Process != "" {
		c.Machine = SourceStore + "@" + r.o.Process
	}
	if c.Since.IsZero() {
		c.Since = r.o.Clock.Now()
	}
	c.Since = c.Since.UTC()
	v := 0.0
	if c.Active {
		v = 1
	}
	r.mu.Lock()
	old, known := r.cur[c.Key()]
	if known && old.Active == c.Active {
		if c.Active {
			old.Reason = c.Reason
			r.cur[c.Key()] = old
		}
		r.mu.Unlock()
		return
	}
	r.cur[c.Key()] = c
	r.enqueueLocked(c)
	r.mu.Unlock()
	r.gauge.WithLabelValues(c.Source, c.Name, c.Line, c.Machine).Set(v)
	if c.Active {
		r.log.Warn("system condition raised", "condition", c.Name, "source", c.Source, "line", c.Line, "machine", c.Machine, "reason", c.Reason)
	} else if known {
		r.log.Info("system condition cleared", "condition", c.Name, "source", c.Source, "line", c.Line, "machine", c.Machine)
	}
}

// Reporter returns a func that reports conditions of one source, for a
// component's Options (nil-safe: a nil Registry gives a no-op).
func (r *Registry) Reporter(source string) func(Condition) {
	return func(c Condition) {
		c.Source = source
		r.Report(c)
	}
}

func (r *Registry) enqueueLocked(c Condition) {
	if len(r.queue) >= r.o.QueueMax {
		r.queue = r.queue[1:]
		r.dropped.Inc()
	}
	r.queue = append(r.queue, c)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Active lists the active conditions, sorted by key.
func (r *Registry) Active() []Condition {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Condition
	for _, c := range r.cur {
		if c.Active {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Resync queues the current state of every active condition again (at
// an interval, and after a NATS reconnect), so an alarm service that lost
// its state, or a stream that was recreated, learns it again.
func (r *Registry) Resync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	queued := map[string]bool{}
	for _, q := range r.queue {
		queued[q.MsgID()] = true
	}
	keys := make([]string, 0, len(r.cur))
	for k := range r.cur {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c := r.cur[k]; c.Active && !queued[c.MsgID()] {
			r.enqueueLocked(c)
		}
	}
}

// Pending is the number of changes not published yet.
func (r *Registry) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// publishRetry is the wait before the nth retry of a failed publish.
var publishRetry = backoff.Policy{Min: 500 * time.Millisecond, Max: 10 * time.Second, Linear: true}

// Run publishes changes in order until ctx ends, retrying with backoff
// while publish fails, and calls Resync every resync (DefaultResync when
// zero; negative: never).
func (r *Registry) Run(ctx context.Context, publish PublishFunc, resync time.Duration) error {
	if resync == 0 {
		resync = DefaultResync
	}
	clk := r.o.Clock
	var tick, retry <-chan time.Time
	stopTick, stopRetry := func() {}, func() {}
	defer func() { stopTick(); stopRetry() }()
	if resync > 0 {
		tick, stopTick = clk.After(resync)
	}
	failures := 0
	for {
		r.mu.Lock()
		var next *Condition
		if len(r.queue) > 0 && retry == nil {
			c := r.queue[0]
			next = &c
		}
		r.mu.Unlock()
		if next != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := publish(pctx, *next)
			cancel()
			if err == nil {
				r.mu.Lock()
				if len(r.queue) > 0 && r.queue[0].MsgID() == next.MsgID() {
					r.queue = r.queue[1:]
				}
				r.mu.Unlock()
				failures = 0
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			failures++
			if failures == 1 || failures%30 == 0 {
				r.log.Warn("health: cannot publish a condition change; kept and retried", "condition", next.Key(), "attempts", failures, "err", err)
			}
			retry, stopRetry = clk.After(publishRetry.Delay(failures))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-retry:
			retry = nil
		case <-tick:
			r.Resync()
			tick, stopTick = clk.After(resync)
		}
	}
}
