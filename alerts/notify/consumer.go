package notify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
)

// Self-healing of the ALARMS consumer. Anyone allowed to delete consumers
// (an admin, or a client with too broad rights) can remove the shared
// durable; without it no notification is sent. The notifier notices (the
// pull ends with "consumer deleted", or a consumer info says not found),
// recreates it starting right after the stream sequence every worker had
// acknowledged (its ack floor, tracked while it existed and kept in the
// dedupe bucket across restarts), and raises health.NotifierNoCons while
// it cannot. Messages between the recorded floor and the deletion are
// delivered again; the dedupe bucket keeps each notification to one send.

// floorEvery is how often the consumer's ack floor is read while messages
// flow, and how often its existence is checked when idle.
const floorEvery = 2 * time.Second

// floorEveryMsgs: the ack floor is also read after this many handled
// messages, so a burst does not leave it far behind.
const floorEveryMsgs = 8

// floorKeepAlive rewrites an unchanged floor so it outlives the dedupe
// bucket's TTL.
const floorKeepAlive = time.Hour

// floorKey is the dedupe-bucket key of the durable's recorded ack floor.
func floorKey(durable string) string { return "consumer-floor." + durable }

type floorTracker struct {
	mu      sync.Mutex
	floor   uint64    // highest ack floor seen (stream sequence)
	known   bool      // floor was read from a consumer or the bucket (0 is then a real floor: an empty stream)
	read    time.Time // last consumer info (real time: a rate limit)
	since   int       // messages handled since
	written time.Time // last write to the bucket
	stored  uint64
}

func (n *Notifier) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       n.opts.Durable,
		Description:   "linewatch notifications (shared by all alerts workers)",
		FilterSubject: n.opts.Subject,
		// A new consumer must not notify a year of history.
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       n.ackWait,
		MaxAckPending: 256,
	}
}

// ensureConsumer returns the durable, updating its settings, or creates
// it: after the recorded ack floor when there is one, else for new
// messages only (a first start must not notify a year of history).
func (n *Notifier) ensureConsumer(ctx context.Context) (jetstream.Consumer, bool, error) {
	cfg := n.consumerConfig()
	c, err := n.opts.JS.Consumer(ctx, bus.StreamAlarms, n.opts.Durable)
	switch {
	case err == nil:
		// Keep what cannot be changed on an existing consumer.
		cur := c.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = cur.DeliverPolicy, cur.OptStartSeq, cur.OptStartTime
		c, err = n.opts.JS.CreateOrUpdateConsumer(ctx, bus.StreamAlarms, cfg)
		if err != nil {
			return nil, false, fmt.Errorf("notify: update consumer %s on stream %s: %w", n.opts.Durable, bus.StreamAlarms, err)
		}
		return c, false, nil
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, false, fmt.Errorf("notify: consumer %s on stream %s: %w", n.opts.Durable, bus.StreamAlarms, err)
	}
	if floor, ok := n.recordedFloor(ctx); ok {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
	}
	for try := 0; ; try++ {
		c, err = n.opts.JS.CreateConsumer(ctx, bus.StreamAlarms, cfg)
		if !errors.Is(err, jetstream.ErrConsumerExists) {
			break
		}
		// Another worker recreated it first, or the deletion is still
		// being applied (then it is gone on the next look).
		c, err = n.opts.JS.Consumer(ctx, bus.StreamAlarms, n.opts.Durable)
		if err == nil || !errors.Is(err, jetstream.ErrConsumerNotFound) || try == 5 {
			if err != nil {
				err = fmt.Errorf("notify: consumer %s on stream %s: %w", n.opts.Durable, bus.StreamAlarms, err)
			}
			return c, false, err
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("notify: create consumer %s on stream %s: %w", n.opts.Durable, bus.StreamAlarms, err)
	}
	return c, true, nil
}

// recordedFloor is the highest ack floor known: in memory, or from the bucket.
func (n *Notifier) recordedFloor(ctx context.Context) (uint64, bool) {
	f := &n.floor
	f.mu.Lock()
	floor, known := f.floor, f.known
	f.mu.Unlock()
	if e, err := n.dedupe.kv.Get(ctx, floorKey(n.opts.Durable)); err == nil {
		if v, perr := strconv.ParseUint(string(e.Value()), 10, 64); perr == nil {
			floor, known = max(floor, v), true
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		n.log.Warn("notify: cannot read the recorded ack floor; using the one in memory", "floor", floor, "err", err)
	}
	return floor, known
}

// trackFloor reads the consumer's ack floor (at most every floorEvery)
// and records it. It reports whether the consumer still exists.
func (n *Notifier) trackFloor(ctx context.Context, cons jetstream.Consumer, force bool) (exists bool) {
	f := &n.floor
	f.mu.Lock()
	f.since++
	due := force || f.since > floorEveryMsgs || time.Since(f.read) >= floorEvery
	if due {
		f.read, f.since = time.Now(), 0
	}
	f.mu.Unlock()
	if !due {
		return true
	}
	info, err := cons.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return false
	}
	if err != nil {
		return true // NATS trouble: the pull loop reports it
	}
	f.mu.Lock()
	f.floor, f.known = max(f.floor, info.AckFloor.Stream), true
	floor := f.floor
	write := floor > f.stored || time.Since(f.written) >= floorKeepAlive
	f.mu.Unlock()
	if write {
		if _, err := n.dedupe.kv.Put(ctx, floorKey(n.opts.Durable), []byte(strconv.FormatUint(floor, 10))); err != nil {
			n.log.Warn("notify: cannot record the ack floor", "floor", floor, "err", err)
			return true
		}
		f.mu.Lock()
		f.stored, f.written = max(f.stored, floor), time.Now()
		f.mu.Unlock()
	}
	return true
}

// heal recreates the consumer until it succeeds or ctx ends, raising
// health.NotifierNoCons while it cannot.
func (n *Notifier) heal(ctx context.Context, why error) (jetstream.Consumer, error) {
	n.log.Error("notify: the ALARMS consumer is gone; recreating it from the last acknowledged sequence", "consumer", n.opts.Durable, "why", why)
	// A pull request the old iterator sent just before it stopped must
	// reach the server before the new consumer exists, or the new
	// consumer would deliver its first message to that dead inbox (and
	// redeliver it only after AckWait).
	if err := n.opts.JS.Conn().FlushTimeout(2 * time.Second); err != nil {
		n.log.Warn("notify: flush before recreating the consumer", "err", err)
	}
	for attempt := 1; ; attempt++ {
		cons, created, err := n.ensureConsumer(ctx)
		if err == nil {
			info := cons.CachedInfo()
			n.log.Warn("notify: ALARMS consumer restored", "consumer", n.opts.Durable, "created", created,
				"deliver_policy", info.Config.DeliverPolicy.String(), "start_sequence", info.Config.OptStartSeq)
			n.setConsumerHealth(false, "")
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n.log.Error("notify: cannot recreate the ALARMS consumer; no notification is sent meanwhile", "attempt", attempt, "err", err)
		n.setConsumerHealth(true, err.Error())
		if err := n.opts.Retry.policy().Wait(ctx, n.clk, attempt); err != nil {
			return nil, err
		}
	}
}

func (n *Notifier) setConsumerHealth(missing bool, reason string) {
	n.consumerMissing.Set(b2f(missing))
	if n.opts.Health != nil {
		n.opts.Health(health.Condition{Source: health.SourceNotify, Name: health.NotifierNoCons,
			Active: missing, Priority: health.High, Reason: reason, Since: n.clk.Now()})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
