package collector

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/unencodable"
	"github.com/linewatch/linewatch/sample"
)

// natsPublisher publishes telemetry and batch events to JetStream with
// asynchronous acknowledgements. At most maxInflight messages wait for
// their ack; a failed or timed-out publish is retried with the same
// Nats-Msg-Id, so the stream's duplicate window drops any double.
type natsPublisher struct {
	js         jetstream.JetStream
	log        *slog.Logger
	m          *metrics
	clk        clock.Clock
	slots      chan struct{} // one per message waiting for its ack
	inflight   chan *pending // those messages, in publish order
	ackWait    time.Duration
	maxBlock   time.Duration // longest a poll waits for an in-flight slot
	retries    int
	retryGap   time.Duration // first retry delay, growing linearly
	drainBound time.Duration
	health     pubHealth

	unencodable atomic.Int64 // values not carried whole, for the log's rate limit

	done chan struct{}
}

type pending struct {
	msg   *nats.Msg
	fut   jetstream.PubAckFuture
	err   error
	tries int
}

func newNATSPublisher(js jetstream.JetStream, maxInflight int, log *slog.Logger, m *metrics, clk clock.Clock) *natsPublisher {
	if maxInflight <= 0 {
		maxInflight = 256
	}
	return &natsPublisher{
		js: js, log: log, m: m, clk: clk,
		slots:    make(chan struct{}, maxInflight),
		inflight: make(chan *pending, maxInflight),
		// Retries ride out a NATS restart or failover (tens of seconds) so that
		// analytics sees every sample; the window bounds memory meanwhile.
		ackWait: 5 * time.Second, maxBlock: time.Second, retries: 30, retryGap: 200 * time.Millisecond, drainBound: 5 * time.Second,
		done: make(chan struct{}),
	}
}

// telemetryMsgID is deterministic per machine, group and tick so a retried
// publish (or a restarted collector re-reading the same tick) is deduped.
// The tick time is used rather than a value's source timestamp, which stays
// the same while a value does not change.
func telemetryMsgID(line, machine, group string, tick time.Time) string {
	return fmt.Sprintf("%s.%s.%s.%d", line, machine, group, tick.UnixNano())
}

func (p *natsPublisher) publishSamples(ctx context.Context, ss []sample.Sample, group string, tick time.Time) {
	if len(ss) == 0 {
		return
	}
	s := ss[0]
	// Hand-written encoder (schema v2): NaN, ±Inf, non-UTF-8 text have a
	// form; a value that still cannot be carried whole costs itself only.
	data := sample.AppendTelemetry(make([]byte, 0, 64+80*len(ss)), ss, func(i int, reason string) {
		p.m.unencodable.WithLabelValues(unencodable.SinkNATS, reason).Inc()
		if n := p.unencodable.Add(1); bits.OnesCount64(uint64(n)) == 1 { // 1st, 2nd, 4th…: bounded
			p.log.Warn("telemetry value not carried whole on NATS", "tag", ss[i].Key(), "reason", reason, "count", n)
		}
	})
	msg := nats.NewMsg(bus.TelemetrySubject(s.Site, s.Line, s.Machine))
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, telemetryMsgID(s.Line, s.Machine, group, tick))
	p.enqueue(ctx, msg)
}

func (p *natsPublisher) publishBatchEvent(ctx context.Context, ev sample.BatchEvent) {
	data, err := ev.Marshal()
	if err != nil {
		p.log.Error("encode batch event", "err", err)
		return
	}
	msg := nats.NewMsg(bus.BatchSubject(ev.Site, ev.Line))
	msg.Data = data
	// The batch id is outside text: escaped, a header value holds no control characters.
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("%s.%s.%s.%s", ev.Line, sample.EscapeLimit(ev.Batch, 512), ev.Event, ev.Time.Format(time.RFC3339Nano)))
	p.enqueue(ctx, msg)
}

func (p *natsPublisher) enqueue(ctx context.Context, msg *nats.Msg) {
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
			p.m.natsDropped.Inc()
			return
		case <-timer:
			p.m.natsDropped.Inc()
			p.log.Warn("NATS in-flight window full; telemetry message dropped from NATS", "subject", msg.Subject)
			return
		}
	}
	pd := &pending{msg: msg}
	pd.fut, pd.err = p.js.PublishMsgAsync(msg)
	if pd.err != nil {
		p.m.natsErrors.Inc()
	}
	p.inflight <- pd // never blocks: it has room for every slot
}

// run waits for acknowledgements in publish order and retries failures
// until ctx is cancelled; then it settles what is still in flight, giving up
// drainBound after the cancel.
func (p *natsPublisher) run(ctx context.Context) {
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
					return
				}
			}
		}
	}
}

func (p *natsPublisher) settle(ctx context.Context, pd *pending) {
	defer func() { <-p.slots }()
	for {
		err := pd.err
		if err == nil {
			timer, stop := p.clk.After(p.ackWait)
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
				p.m.natsDropped.Inc()
				return
			}
			stop()
			p.m.natsErrors.Inc()
		}
		pd.tries++
		p.health.failed(pd.tries, err)
		if pd.tries > p.retries {
			p.m.natsDropped.Inc()
			p.log.Error("NATS publish failed; giving up", "subject", pd.msg.Subject, "tries", pd.tries, "err", err)
			return
		}
		p.log.Warn("NATS publish failed; retrying", "subject", pd.msg.Subject, "try", pd.tries, "err", err)
		timer, stop := p.clk.After(min(time.Duration(pd.tries)*p.retryGap, 2*time.Second))
		select {
		case <-timer:
		case <-ctx.Done():
			stop()
			p.m.natsDropped.Inc()
			return
		}
		stop()
		pd.fut, pd.err = p.js.PublishMsgAsync(pd.msg)
		if pd.err != nil {
			p.m.natsErrors.Inc()
		}
	}
}
