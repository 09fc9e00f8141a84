package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/unencodable"
	"github.com/linewatch/linewatch/sample"
)

// Options of New. All are optional.
type Options struct {
	// MaxInflight bounds the messages waiting for their acknowledgement
	// (nats.max_inflight; 0: 256).
	MaxInflight int
	// SpoolBytes bounds the messages held while JetStream does not take
	// them (nats.spool_memory_mb; 0: 64 MiB). Beyond it the oldest go.
	SpoolBytes int
	Logger     *slog.Logger
	// Registerer takes the publisher's metrics (linewatch_collector_nats_*,
	// names kept from when the collector published itself).
	Registerer prometheus.Registerer
	Clock      clock.Clock
	// Health receives "NATS publish failing" and "NATS spool dropping"
	// (source collector: the collector role's connection publishes them).
	// It must not block.
	Health func(health.Condition)
}

// Publisher is the collector's JetStream output: it publishes each read's
// samples on stream TELEMETRY and its batch events on stream BATCHES (the
// streams must exist: bus.EnsureStreams). A read never waits for NATS:
// its messages go to a bounded in-memory spool, from which each subject's
// messages are published in order, one in flight per subject (at most
// MaxInflight in all), with a deterministic Nats-Msg-Id; a retry also
// expects the subject's last stream sequence
// (Nats-Expected-Last-Subject-Sequence), so a retry after a lost answer
// can neither duplicate nor reorder, even past the duplicate window. A message
// is retried with backoff until JetStream stores it; a permanent refusal
// (4xx, no stream) is given up after about 30 attempts; a full spool drops
// its oldest messages. Run drains the spool at shutdown.
type Publisher struct {
	js         jetstream.JetStream
	log        *slog.Logger
	m          *metrics
	clk        clock.Clock
	slots      chan struct{} // one per message waiting for its ack
	ackWait    time.Duration
	backoff    backoff.Policy
	refusals   int // permanent refusals of a message before it is given up
	drainBound time.Duration
	health     pubHealth

	unencodable atomic.Int64 // values not carried whole, for the log's rate limit
	retried     atomic.Int64 // publishes retried, for the log's rate limit

	mu      sync.Mutex // guards sp, the subjects, health, drops, closed
	sp      *spool
	drops   dropHealth
	closed  bool
	emptied chan struct{} // a token when the spool becomes empty
	wg      sync.WaitGroup
	wctx    context.Context // the workers'; ended drainBound after Run's
	wstop   context.CancelFunc

	done chan struct{}
}

// AckWait is how long a telemetry message waits for its acknowledgement
// before it is published again. The JetStream context given to New must
// drop its own record of an unanswered publish after it as well
// (jetstream.WithPublishAsyncTimeout(AckWait), see JetStreamOptions):
// otherwise every publish lost in a leader change stays pending in
// nats.go until its pending limit stalls every publish.
const AckWait = 5 * time.Second

// JetStreamOptions are the options the publisher's JetStream context needs.
func JetStreamOptions() []jetstream.JetStreamOpt {
	return []jetstream.JetStreamOpt{jetstream.WithPublishAsyncTimeout(AckWait)}
}

// New prepares a publisher on js and registers its metrics; Run starts it.
func New(js jetstream.JetStream, o Options) (*Publisher, error) {
	if o.MaxInflight <= 0 {
		o.MaxInflight = 256
	}
	if o.SpoolBytes <= 0 {
		o.SpoolBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("telemetry publisher metrics: %w", err)
	}
	wctx, wstop := context.WithCancel(context.Background())
	return &Publisher{
		js: js, log: o.Logger.With("component", "telemetry"), m: m, clk: o.Clock,
		slots: make(chan struct{}, o.MaxInflight),
		// Retries ride out a NATS restart or failover for as long as the
		// spool holds; the backoff stays short so the spool drains soon
		// after. drainBound leaves the collector, stopped first, its share
		// of the 5 s shutdown budget (app.DefaultShutdownTimeout).
		ackWait: AckWait, backoff: backoff.Policy{Min: 200 * time.Millisecond, Max: 2 * time.Second, Linear: true, Jitter: true},
		refusals: 30, drainBound: 3 * time.Second,
		health:  pubHealth{report: o.Health, gauge: m.publishFailing, now: o.Clock.Now},
		sp:      newSpool(o.SpoolBytes),
		drops:   dropHealth{report: o.Health, now: o.Clock.Now, limit: o.SpoolBytes},
		emptied: make(chan struct{}, 1), wctx: wctx, wstop: wstop,
		done: make(chan struct{}),
	}, nil
}

// Read publishes the read's batch events, then its samples as one
// telemetry message. It does not wait for NATS (the messages wait in the
// spool). It keeps nothing of r.
func (p *Publisher) Read(ctx context.Context, r *sample.Read) {
	for _, ev := range r.Batches {
		p.publishBatchEvent(ctx, ev)
	}
	p.publishSamples(ctx, r)
}

// Status does nothing: connection states are not on NATS (they are in
// InfluxDB measurement collector_status and, once a session stays down,
// the "OPC UA communication lost" system alarm).
func (p *Publisher) Status(context.Context, sample.MachineStatus) {}

// telemetryMsgID is deterministic per machine, group and tick so a retried
// publish (or a restarted collector re-reading the same tick) is deduped.
// The tick time is used rather than a value's source timestamp, which stays
// the same while a value does not change.
func telemetryMsgID(line, machine, group string, tick time.Time) string {
	return fmt.Sprintf("%s.%s.%s.%d", line, machine, group, tick.UnixNano())
}

func (p *Publisher) publishSamples(ctx context.Context, r *sample.Read) {
	ss := r.Samples
	if len(ss) == 0 {
		return
	}
	// Hand-written encoder (schema v2): NaN, ±Inf, non-UTF-8 text have a
	// form; a value that still cannot be carried whole costs itself only.
	data := sample.AppendTelemetry(make([]byte, 0, 64+80*len(ss)), ss, func(i int, reason string) {
		p.m.unencodable.WithLabelValues(unencodable.SinkNATS, reason).Inc()
		if n := p.unencodable.Add(1); bits.OnesCount64(uint64(n)) == 1 { // 1st, 2nd, 4th…: bounded
			p.log.Warn("telemetry value not carried whole on NATS", "tag", ss[i].Key(), "reason", reason, "count", n)
		}
	})
	msg := nats.NewMsg(bus.TelemetrySubject(r.Site, r.Line, r.Machine))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, telemetryMsgID(r.Line, r.Machine, r.Group, r.Tick))
	p.enqueue(msg, bus.StreamTelemetry)
}

// batchMsgID is deterministic per line, batch, event and time: a restarted
// collector emits "start" again for the batch it finds running, and the
// stream drops it within its duplicate window.
func batchMsgID(ev sample.BatchEvent) string {
	// The batch id is outside text: escaped, a header value holds no control characters.
	return fmt.Sprintf("%s.%s.%s.%s", ev.Line, sample.EscapeLimit(ev.Batch, 512), ev.Event, ev.Time.Format(time.RFC3339Nano))
}

func (p *Publisher) publishBatchEvent(ctx context.Context, ev sample.BatchEvent) {
	data, err := ev.Marshal()
	if err != nil {
		p.log.Error("encode batch event", "err", err)
		return
	}
	msg := nats.NewMsg(bus.BatchSubject(ev.Site, ev.Line))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, batchMsgID(ev))
	p.enqueue(msg, bus.StreamBatches)
}

// enqueue puts msg (for stream) in the spool and starts its subject's
// worker when the subject was idle: the normal path, one message in
// flight per subject, costs no wait.
func (p *Publisher) enqueue(msg *nats.Msg, stream string) {
	e := &entry{msg: msg, stream: stream, size: len(msg.Subject) + len(msg.Data) + entryOverhead}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.m.dropped.Inc()
		p.log.Warn("telemetry publisher stopped; message dropped from NATS", "subject", msg.Subject)
		return
	}
	dropped, ok := p.sp.add(e)
	n := 0
	for d := dropped; d != nil; d = d.next {
		d.subj = nil // take() ignores it if its worker settles it
		n++
	}
	if !ok {
		n++
	}
	if n > 0 {
		p.m.dropped.Add(float64(n))
		p.m.spoolDropped.Add(float64(n))
		p.drops.dropped(n)
	}
	var start *subject
	if ok {
		if s := e.subj; !s.active {
			s.active = true
			start = s
			p.wg.Add(1)
		} else {
			e.spooled = true // waits behind its subject's earlier messages
			p.m.spooled.Inc()
		}
	}
	p.spoolChanged()
	p.mu.Unlock()
	if start != nil {
		go p.work(start)
	}
}

// Run drains the spool once ctx is cancelled, giving up drainBound (3 s)
// after the cancel: what is still spooled then is dropped from NATS,
// counted and logged. Cancel it after the collector stopped, so the last
// reads are drained. Call it once.
func (p *Publisher) Run(ctx context.Context) error {
	defer close(p.done)
	<-ctx.Done()
	bound := time.NewTimer(p.drainBound) // real time: shutdown is bounded whatever the clock
	defer bound.Stop()
drain:
	for {
		p.mu.Lock()
		n := p.sp.msgs
		p.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-p.emptied:
		case <-bound.C:
			break drain
		}
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wstop()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if left := p.sp.msgs; left > 0 {
		for e := p.sp.oldest; e != nil; e = p.sp.oldest {
			p.take(e)
		}
		p.m.dropped.Add(float64(left))
		p.log.Error("telemetry publisher stopped with messages NATS did not take; dropped from NATS (InfluxDB has them)", "messages", left)
	}
	return nil
}
