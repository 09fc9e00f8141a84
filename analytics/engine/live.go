package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/sample"
)

// Notifier receives findings (implemented by alerts.Service).
type Notifier interface {
	Notify(ctx context.Context, fs []analytics.Finding) error
}

// pending reports whether n holds machine-state changes to deliver (a
// Publisher) even when a message gave no finding.
func pending(n Notifier) bool {
	p, ok := n.(interface{ Pending() bool })
	return ok && p.Pending()
}

// StatsWriter receives detector statistics (implemented by the store).
type StatsWriter interface {
	WriteStats(ps []StatPoint)
}

// StateBucket is the JetStream key-value bucket holding checkpoints.
const StateBucket = "LINEWATCH_ANALYTICS"

// Live runs an Engine on the TELEMETRY stream with a durable consumer.
//
// Exactly-once effect across restarts: detector state is checkpointed to a
// KV bucket together with the last stream sequence it includes, and only
// then are the messages acknowledged (AckAll). After a restart the state is
// restored and the redelivered messages up to the checkpoint are skipped;
// later ones are processed again from the restored state, so findings are
// the same as without the restart and carry the same ids (alerts drop the
// duplicates).
type Live struct {
	Engine          *Engine
	JS              jetstream.JetStream
	Consumer        string // durable name
	Notifier        Notifier
	Stats           StatsWriter // may be nil
	CheckpointEvery time.Duration
	Logger          *slog.Logger
	// Health receives health.AnalyticsLag when the engine processes
	// telemetry stored more than LagAlarm ago (analytics.lag_alarm); nil: not watched.
	Health   func(health.Condition)
	LagAlarm time.Duration
	// Now is the clock of the lag check (default time.Now).
	Now func() time.Time
	// Replicas of the checkpoint bucket (nats.replicas; 0 means 1).
	Replicas int

	lag lagWatch

	// scratch buffers reused for every message
	samples  []sample.Sample
	findings []analytics.Finding
	stats    []StatPoint
}

type checkpoint struct {
	Seq   uint64 `json:"seq"`
	State []byte `json:"state"`
}

// Run consumes until ctx is cancelled, then checkpoints and returns.
func (l *Live) Run(ctx context.Context) error {
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	log := l.Logger
	if l.Now == nil {
		l.Now = time.Now
	}
	l.lag.limit, l.lag.report = l.LagAlarm, l.Health
	every := l.CheckpointEvery
	if every <= 0 {
		every = time.Second
	}
	kv, err := l.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket, History: 1,
		Replicas: max(l.Replicas, 1), Storage: jetstream.FileStorage, Description: "analytics detector checkpoints"})
	if err != nil {
		return fmt.Errorf("analytics state bucket: %w", err)
	}
	var done uint64
	if e, err := kv.Get(ctx, l.Consumer); err == nil {
		var cp checkpoint
		if err := json.Unmarshal(e.Value(), &cp); err != nil {
			log.Warn("analytics checkpoint unreadable; starting fresh", "err", err)
		} else if err := l.Engine.Restore(cp.State); err != nil {
			log.Warn("analytics checkpoint not restored; starting fresh", "err", err)
		} else {
			done = cp.Seq
			log.Info("analytics resumed from checkpoint", "stream_seq", done)
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("analytics checkpoint: %w", err)
	}
	cons, err := l.JS.CreateOrUpdateConsumer(ctx, bus.StreamTelemetry, jetstream.ConsumerConfig{
		Durable: l.Consumer, AckPolicy: jetstream.AckAllPolicy, AckWait: time.Minute,
		MaxAckPending: 1 << 20, FilterSubject: bus.TelemetryAll, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("analytics consumer %s: %w", l.Consumer, err)
	}
	var (
		last    jetstream.Msg
		lastSeq uint64
		lastCP  = time.Now()
	)
	commit := func(ctx context.Context) error {
		if last == nil {
			return nil
		}
		st, err := l.Engine.Snapshot()
		if err != nil {
			return err
		}
		b, err := json.Marshal(checkpoint{Seq: lastSeq, State: st})
		if err != nil {
			return err
		}
		if _, err := kv.Put(ctx, l.Consumer, b); err != nil {
			return fmt.Errorf("analytics checkpoint: %w", err)
		}
		if err := last.Ack(); err != nil {
			return fmt.Errorf("analytics ack: %w", err)
		}
		last, lastCP = nil, time.Now()
		return nil
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := commit(sctx); err != nil {
			log.Error("analytics final checkpoint", "err", err)
		}
	}()
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return fmt.Errorf("analytics consumer %s: %w", l.Consumer, err)
	}
	defer it.Stop()
	for ctx.Err() == nil {
		// A bounded wait so checkpoints happen while the line is idle too.
		wctx, cancel := context.WithTimeout(ctx, every)
		msg, err := it.Next(jetstream.NextContext(wctx))
		cancel()
		if err == nil {
			seq, err := l.handle(ctx, msg, done)
			if err != nil {
				return nil // ctx cancelled while notifying; the message is redelivered
			}
			if seq > 0 {
				last, lastSeq = msg, seq
			}
		} else if !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			log.Warn("analytics: next message", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
		l.lag.check(l.Now(), err != nil)
		if time.Since(lastCP) >= every {
			if err := commit(ctx); err != nil && ctx.Err() == nil {
				log.Error("analytics checkpoint", "err", err)
			}
		}
	}
	return nil
}

// handle processes one telemetry message and returns its stream sequence
// (0 when it has no metadata); it returns an error only when ctx ended
// before the findings were delivered.
func (l *Live) handle(ctx context.Context, msg jetstream.Msg, done uint64) (uint64, error) {
	md, err := msg.Metadata()
	if err != nil {
		return 0, nil
	}
	seq := md.Sequence.Stream
	l.lag.seen(md.Timestamp, md.NumPending)
	if seq <= done {
		return seq, nil // already in the restored state
	}
	b, err := sample.Unmarshal(msg.Data())
	if err != nil {
		l.Logger.Warn("analytics: telemetry message skipped", "seq", seq, "err", err)
		return seq, nil
	}
	l.samples = b.Samples(l.samples[:0])
	l.findings = l.findings[:0]
	for _, s := range l.samples {
		l.findings = l.Engine.Process(s, l.findings)
	}
	// Findings (and machine-state changes a Publisher queued) must reach
	// alerts before the ack: retry with a delay.
	for len(l.findings) > 0 || pending(l.Notifier) {
		err := l.Notifier.Notify(ctx, l.findings)
		if err == nil {
			break
		}
		l.Logger.Error("analytics: notify failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return seq, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if l.Stats != nil {
		if l.stats = l.Engine.DrainStats(l.stats[:0]); len(l.stats) > 0 {
			l.Stats.WriteStats(l.stats)
		}
	}
	return seq, nil
}
