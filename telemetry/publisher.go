package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/unencodable"
	"github.com/linewatch/linewatch/sample"
)

// Options of New. All are optional.
type Options struct {
	// MaxInflight bounds the messages waiting for their acknowledgement
	// (nats.max_inflight; 0: 256).
	MaxInflight int
	Logger      *slog.Logger
	// Registerer takes the publisher's metrics (linewatch_collector_nats_*,
	// names kept from when the collector published itself).
	Registerer prometheus.Registerer
	Clock      clock.Clock
	// Health receives "NATS publish failing" (source collector: the
	// collector role's connection publishes it). It must not block.
	Health func(health.Condition)
}

// Publisher is the collector's JetStream output: it publishes each read's
// samples on stream TELEMETRY and its batch events on stream BATCHES (the
// streams must exist: bus.EnsureStreams) with asynchronous
// acknowledgements. At most MaxInflight messages wait for their ack; a
// failed or timed-out publish is retried with the same Nats-Msg-Id, so the
// stream's duplicate window drops any double. Run settles the acks.
type Publisher struct {
	js         jetstream.JetStream
	log        *slog.Logger
	m          *metrics
	clk        clock.Clock
	slots      chan struct{} // one per message waiting for its ack
	inflight   chan *pending // those messages, in publish order
	ackWait    time.Duration
	maxBlock   time.Duration // longest a read waits for an in-flight slot
	retries    int
	retryGap   time.Duration // first retry delay, growing linearly
	drainBound time.Duration
	health     pubHealth

	unencodable atomic.Int64 // values not carried whole, for the log's rate limit
	retried     atomic.Int64 // publishes retried, for the log's rate limit

	done chan struct{}
}

type pending struct {
	msg   *nats.Msg
	fut   jetstream.PubAckFuture
	err   error
	sent  time.Time // its ack is given up ackWait after this
	tries int
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
	return &Publisher{
		js: js, log: o.Logger.With("component", "telemetry"), m: m, clk: o.Clock,
		slots:    make(chan struct{}, o.MaxInflight),
		inflight: make(chan *pending, o.MaxInflight),
		// Retries ride out a NATS restart or failover (tens of seconds) so that
		// analytics sees every sample; the window bounds memory meanwhile.
		// drainBound leaves the collector, stopped first, its share of the
		// 5 s shutdown budget (app.DefaultShutdownTimeout).
		ackWait: AckWait, maxBlock: time.Second, retries: 30, retryGap: 200 * time.Millisecond, drainBound: 3 * time.Second,
		health: pubHealth{report: o.Health, gauge: m.publishFailing, now: o.Clock.Now},
		done:   make(chan struct{}),
	}, nil
}

// Read publishes the read's batch events, then its samples as one
// telemetry message. It blocks at most about a second, when the in-flight
// window stays full (the message is then dropped from NATS and counted;
// InfluxDB remains the record). It keeps nothing of r.
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
	p.enqueue(ctx, msg)
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
	p.enqueue(ctx, msg)
}

func (p *Publisher) enqueue(ctx context.Context, msg *nats.Msg) {
	// Take an in-flight slot before publishing; when the window stays full,
	// give up on this message rather than stall polling (InfluxDB remains
	// the record).
	select {
	case p.slots <- struct{}{}:
	default:
		timer, stop := p.clk.After(p.maxBlock)
		select {
		case p.slots <- struct{}{}:
			stop()
		case <-ctx.Done():
			stop()
			p.m.dropped.Inc()
			return
		case <-timer:
			p.m.dropped.Inc()
			p.log.Warn("NATS in-flight window full; telemetry message dropped from NATS", "subject", msg.Subject)
			return
		}
	}
	pd := &pending{msg: msg, sent: p.clk.Now()}
	pd.fut, pd.err = p.js.PublishMsgAsync(msg)
	if pd.err != nil {
		p.m.errors.Inc()
	}
	p.inflight <- pd // never blocks: it has room for every slot
}

// Run waits for acknowledgements in publish order and retries failures
// until ctx is cancelled; then it settles what is still in flight, giving up
// drainBound (3 s) after the cancel. Cancel it after the collector stopped,
// so the last reads are drained. Call it once.
func (p *Publisher) Run(ctx context.Context) error {
	defer close(p.done)
	sctx, give := context.WithCancel(context.WithoutCancel(ctx))
	defer give()
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(p.drainBound, give) })
	defer stopAfter()
	for {
		select {
		case pd := <-p.inflight:
			p.settle(sctx, pd)
		case <-ctx.Done():
			for {
				select {
				case pd := <-p.inflight:
					p.settle(sctx, pd)
				default:
					return nil
				}
			}
		}
	}
}

func (p *Publisher) settle(ctx context.Context, pd *pending) {
	defer func() { <-p.slots }()
	for {
		err := pd.err
		failed := pd.sent // when it failed, at the latest
		if err == nil {
			// The ack wait counts from the publish, not from this message's
			// turn here: when a leader change loses the acks of a whole
			// window, they all time out together and are published again
			// together, instead of one ackWait after the other (256 × 5 s).
			timer, stop := p.clk.After(max(0, p.ackWait-p.clk.Now().Sub(pd.sent)))
			select {
			case <-pd.fut.Ok():
				stop()
				p.health.ok()
				return
			case err = <-pd.fut.Err():
			case <-timer:
				err = fmt.Errorf("no acknowledgement within %s", p.ackWait)
			case <-ctx.Done():
				stop()
				p.m.dropped.Inc()
				return
			}
			stop()
			p.m.errors.Inc()
			failed = minTime(p.clk.Now(), pd.sent.Add(p.ackWait))
		}
		pd.tries++
		p.health.failed(pd.tries, err)
		if pd.tries > p.retries {
			p.m.dropped.Inc()
			p.log.Error("NATS publish failed; giving up", "subject", pd.msg.Subject, "tries", pd.tries, "err", err)
			return
		}
		// A leader change fails a whole window at once: log the 1st, 2nd,
		// 4th… failure, not one line per message.
		if n := p.retried.Add(1); bits.OnesCount64(uint64(n)) == 1 {
			p.log.Warn("NATS publish failed; retrying", "subject", pd.msg.Subject, "try", pd.tries, "err", err, "failures", n)
		}
		// The gap too counts from the failure: the messages of a window that
		// failed together are published again together.
		gap := min(time.Duration(pd.tries)*p.retryGap, 2*time.Second)
		timer, stop := p.clk.After(max(0, gap-p.clk.Now().Sub(failed)))
		select {
		case <-timer:
		case <-ctx.Done():
			stop()
			p.m.dropped.Inc()
			return
		}
		stop()
		pd.sent = p.clk.Now()
		pd.fut, pd.err = p.js.PublishMsgAsync(pd.msg)
		if pd.err != nil {
			p.m.errors.Inc()
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
