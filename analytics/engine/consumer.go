package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
)

// DefaultStallAfter is Live.StallAfter when unset.
const DefaultStallAfter = 3 * time.Second

// lineConsumer is the JetStream consumer of one held line: an ephemeral
// pull consumer (R1, memory, no acks) filtered to the line and started
// at the line's last processed sequence + 1. It is made again, from the
// checkpoint + 1, whenever it breaks: an iterator error, a gap in its
// delivery sequence, or a stall — nothing received for StallAfter while
// the server says the consumer is gone, paused, unreachable, or holds
// messages of the line it does not deliver. A consumer lives on one
// node, so a node kill or a leader change can leave it lost or stuck;
// without this the line stops until the process restarts.
type lineConsumer struct {
	p    *linePart
	name string
	it   jetstream.MessagesContext
	dseq uint64 // consumer sequence of the last message it delivered
	// quiet is when (Live.Clock monotonic) the line last received a
	// message, or was last checked for a stall.
	quiet time.Duration
}

// createRetry paces consumer creation: never given up (the line would
// stop), only ended with the line's context.
var createRetry = backoff.Policy{Min: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: true}

// open creates the consumer from the line's last processed sequence + 1,
// retrying until it is made or ctx ends (then it returns ctx's error).
func (c *lineConsumer) open(ctx context.Context) error {
	p := c.p
	from := p.last + 1
	name := consumerName(p.live.Consumer, p.line)
	cfg := jetstream.ConsumerConfig{Name: name, FilterSubject: bus.TelemetrySubject(p.live.Site, p.line, ">"),
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
		AckPolicy: jetstream.AckNonePolicy, Replicas: 1, MemoryStorage: true,
		// A consumer left by a killed worker, or on a node that was down
		// when it was replaced, goes by itself.
		InactiveThreshold: 5 * time.Minute}
	for n := 1; ; n++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := p.live.JS.CreateConsumer(cctx, bus.StreamTelemetry, cfg)
		cancel()
		if err == nil {
			it, err := cons.Messages(jetstream.PullMaxMessages(1024), jetstream.WithMessagesErrOnMissingHeartbeat(true))
			if err == nil {
				c.name, c.it, c.dseq = name, it, 0
				c.quiet = p.live.Clock.Monotonic()
				return nil
			}
			c.delete(ctx, name)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n == 1 || n%10 == 0 {
			p.log.Warn("analytics: line consumer not created; retrying", "from_stream_seq", from, "attempt", n, "err", err)
		}
		if err := createRetry.Wait(ctx, p.live.Clock, n); err != nil {
			return err
		}
	}
}

// consumerName is unique per consumer made: the consumer of an earlier
// owner (or an earlier attempt) is never taken over by accident.
func consumerName(group, line string) string {
	r := strings.NewReplacer(".", "_", "*", "_", ">", "_", " ", "_")
	return fmt.Sprintf("%s_%s_%s", r.Replace(group), r.Replace(line), rand.Text()[:10])
}

// next returns the line's next message, waiting at most until wctx ends.
// A broken consumer is made again (restart) and next returns its
// timeout-like error so the caller keeps its rhythm; errFenced and ctx's
// end are returned as they are.
func (c *lineConsumer) next(ctx, wctx context.Context) (jetstream.Msg, error) {
	msg, err := c.it.Next(jetstream.NextContext(wctx))
	if err != nil {
		if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || ctx.Err() != nil {
			return nil, err
		}
		if rerr := c.restart(ctx, "next message: "+err.Error()); rerr != nil {
			return nil, rerr
		}
		return nil, jetstream.ErrNoMessages
	}
	c.quiet = c.p.live.Clock.Monotonic()
	if md, merr := msg.Metadata(); merr == nil {
		if md.Sequence.Consumer != c.dseq+1 && md.Sequence.Stream > c.p.last {
			// A message skipped in delivery: start again after the last processed.
			reason := fmt.Sprintf("delivery gap (consumer sequence %d after %d)", md.Sequence.Consumer, c.dseq)
			if rerr := c.restart(ctx, reason); rerr != nil {
				return nil, rerr
			}
			return nil, jetstream.ErrNoMessages
		}
		c.dseq = md.Sequence.Consumer
	}
	return msg, nil
}

// stalled asks the server about the consumer once the line has received
// nothing for StallAfter, and returns why it must be made again ("" when
// it is fine: the line is idle).
func (c *lineConsumer) stalled(ctx context.Context) string {
	p := c.p
	now := p.live.Clock.Monotonic()
	idle := now - c.quiet
	if idle < p.live.StallAfter {
		return ""
	}
	c.quiet = now // at most one question per StallAfter
	ictx, cancel := context.WithTimeout(ctx, min(p.live.StallAfter, 5*time.Second))
	defer cancel()
	cons, err := p.live.JS.Consumer(ictx, bus.StreamTelemetry, c.name) // asks the server for its info
	if err == nil {
		return stallReason(cons.CachedInfo(), p.last, idle)
	}
	if ctx.Err() != nil {
		return ""
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return "consumer gone"
	}
	return "consumer info unavailable: " + err.Error()
}

// stallReason judges the info of a consumer that delivered nothing for
// idle; last is the line's last processed stream sequence.
func stallReason(ci *jetstream.ConsumerInfo, last uint64, idle time.Duration) string {
	switch {
	case ci.Paused:
		return "consumer paused"
	case ci.NumPending > 0:
		return fmt.Sprintf("%d messages pending, none delivered for %s", ci.NumPending, idle.Round(time.Millisecond))
	case ci.Delivered.Stream > last:
		// Delivered but never received (lost in flight).
		return fmt.Sprintf("delivered up to stream sequence %d, received up to %d", ci.Delivered.Stream, last)
	}
	return ""
}

// restart checkpoints the line, deletes the consumer and makes a new one
// from the checkpoint + 1 (the line's last processed sequence + 1).
func (c *lineConsumer) restart(ctx context.Context, reason string) error {
	p := c.p
	p.met.restarts.WithLabelValues(p.line).Inc()
	p.log.Warn("analytics: line consumer made again", "reason", reason, "consumer", c.name, "from_stream_seq", p.last+1)
	c.close(ctx)
	// The new consumer starts where the checkpoint is, when it can be
	// written; the engine holds everything up to p.last either way.
	if err := p.commit(ctx, p.last); errors.Is(err, errFenced) {
		return err
	} else if err != nil && !errors.Is(err, errNothing) && ctx.Err() == nil {
		p.log.Warn("analytics: checkpoint before the consumer is made again", "err", err)
	}
	return c.open(ctx)
}

// close stops the iterator and deletes the consumer (best effort: one on
// a dead node goes by its inactive threshold).
func (c *lineConsumer) close(ctx context.Context) {
	if c.it != nil {
		c.it.Stop()
		c.it = nil
	}
	if c.name != "" {
		c.delete(ctx, c.name)
		c.name = ""
	}
}

func (c *lineConsumer) delete(ctx context.Context, name string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = c.p.live.JS.DeleteConsumer(dctx, bus.StreamTelemetry, name)
}
