package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/partition"
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

const (
	// StateBucket is the JetStream key-value bucket holding checkpoints,
	// one key per line: <analytics.consumer>.<line>.
	StateBucket = "LINEWATCH_ANALYTICS"
	// LeaseBucket holds the leases of the lines (partition package) and
	// the analytics workers' membership; its MaxAge is analytics.lease_ttl.
	LeaseBucket = "LINEWATCH_ANALYTICS_LEASES"
)

// StateBucketConfig is the checkpoint bucket (provisioned at start).
func StateBucketConfig(replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{Bucket: StateBucket, History: 1, Replicas: max(replicas, 1),
		Storage: jetstream.FileStorage, Description: "analytics detector checkpoints, one per line"}
}

// LeaseBucketConfig is the lease bucket (provisioned at start).
func LeaseBucketConfig(ttl time.Duration, replicas int) jetstream.KeyValueConfig {
	return partition.BucketConfig(LeaseBucket, ttl, replicas)
}

// Live runs the analytics of a site's lines on the TELEMETRY stream, one
// partition per line shared among any number of workers (processes) by
// leases (internal/partition): each held line gets its own Engine, its
// own consumer filtered to the line (made again when it stalls: consumer.go) and its own checkpoint.
//
// Exactly-once effect across restarts and takeovers: a line's detector
// state is checkpointed with the last stream sequence it includes, and a
// new owner restores it and consumes from that sequence + 1 (the checkpoint
// is authoritative; no consumer ack floor is involved). Findings made
// again after the checkpoint carry the same ids, and alerts drop the
// duplicates. Every checkpoint write is fenced: a compare-and-set on the
// checkpoint's revision while the lease is provably held, and the first
// write of a new owner (its claim, carrying its lease epoch) makes every
// later write of an earlier owner fail; a fenced-out worker stops the line
// at once and notifies nothing more.
type Live struct {
	JS    jetstream.JetStream
	Site  string
	Lines []string
	// Open builds the engine of one line (Options.Line) and the notifier
	// its findings go to: each line runs on its own goroutine, so a
	// notifier that queues (Publisher) must be the line's own.
	Open     func(line string) (*Engine, Notifier, error)
	Consumer string // analytics.consumer: names the checkpoints and the lease group
	// Worker names this worker among the analytics workers (default random).
	Worker          string
	Stats           StatsWriter // may be nil; safe for concurrent use
	CheckpointEvery time.Duration
	// LeaseTTL and LeaseRenew time the line leases (analytics.lease_ttl,
	// analytics.lease_renew); zero: partition defaults.
	LeaseTTL, LeaseRenew time.Duration
	Logger               *slog.Logger
	// Health receives health.AnalyticsLag when a line's engine processes
	// telemetry stored more than LagAlarm ago (analytics.lag_alarm); nil: not watched.
	Health   func(health.Condition)
	LagAlarm time.Duration
	// Now is the clock of the lag check (default time.Now).
	Now func() time.Time
	// Clock times the leases and the stall check (default the real clock).
	Clock clock.Clock
	// StallAfter: a line that received nothing for this long asks the
	// server about its consumer, and makes it again from the checkpoint
	// + 1 when it is gone, paused, unreachable or holds messages it does
	// not deliver (default DefaultStallAfter).
	StallAfter time.Duration
	// Registerer takes the per-line metrics (linewatch_analytics_partition_*).
	Registerer prometheus.Registerer
	// Replicas of the buckets when they must be created here (nats.replicas).
	Replicas int

	mgr atomic.Pointer[partition.Manager] // set by Run
	// onHandled sees each stream sequence a line's engine processes (tests).
	onHandled func(line string, seq uint64)
}

// Held lists the lines this worker analyses now.
func (l *Live) Held() []string {
	if m := l.mgr.Load(); m != nil {
		return m.Held()
	}
	return nil
}

// Run takes line leases and analyses the held lines until ctx is
// cancelled, then checkpoints them and releases the leases.
func (l *Live) Run(ctx context.Context) error {
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.CheckpointEvery <= 0 {
		l.CheckpointEvery = time.Second
	}
	if l.Clock == nil {
		l.Clock = clock.Real{}
	}
	if l.StallAfter <= 0 {
		l.StallAfter = DefaultStallAfter
	}
	state, err := bindBucket(ctx, l.JS, StateBucketConfig(l.Replicas))
	if err != nil {
		return fmt.Errorf("analytics state bucket: %w", err)
	}
	leases, err := bindBucket(ctx, l.JS, LeaseBucketConfig(l.LeaseTTL, l.Replicas))
	if err != nil {
		return fmt.Errorf("analytics lease bucket: %w", err)
	}
	met, err := newPartitionMetrics(l.Registerer)
	if err != nil {
		return err
	}
	for _, line := range l.Lines { // every line has its series from the start (0: not held)
		met.release(line)
		met.restarts.WithLabelValues(line)
	}
	lag := &lagAggregate{report: l.Health, raised: map[string]bool{}}
	mgr, err := partition.New(partition.Options{KV: leases, Group: l.Consumer, Worker: l.Worker, Partitions: l.Lines,
		TTL: l.LeaseTTL, Renew: l.LeaseRenew, Clock: l.Clock, Logger: l.Logger,
		Run: func(ctx context.Context, ls *partition.Lease) {
			p := &linePart{live: l, lease: ls, kv: state, met: met, line: ls.Partition,
				log: l.Logger.With("line", ls.Partition, "epoch", ls.Epoch)}
			p.lag.limit, p.lag.report = l.LagAlarm, lag.reporter(ls.Partition)
			met.held.WithLabelValues(p.line).Set(1)
			defer met.release(p.line)
			if err := p.run(ctx); err != nil {
				p.log.Error("analytics: line stopped", "err", err)
			}
			p.lag.clear(l.Now())
		}})
	if err != nil {
		return fmt.Errorf("analytics partitions: %w", err)
	}
	l.mgr.Store(mgr)
	return mgr.Run(ctx)
}

// bindBucket opens a bucket the provisioning step created, or creates it
// (a process started without provisioning: tests, tools).
func bindBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return js.CreateOrUpdateKeyValue(ctx, cfg)
	}
	return kv, err
}

// lagAggregate raises health.AnalyticsLag while any line lags (each
// line's lagWatch reports here) and clears it when none does.
type lagAggregate struct {
	mu     sync.Mutex
	report func(health.Condition)
	raised map[string]bool
	known  bool
	active bool
}

func (a *lagAggregate) reporter(line string) func(health.Condition) {
	if a.report == nil {
		return nil
	}
	return func(c health.Condition) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.raised[line] = c.Active
		any := false
		for _, r := range a.raised {
			any = any || r
		}
		if a.known && any == a.active {
			return
		}
		a.known, a.active = true, any
		if any && c.Active {
			c.Reason = "line " + line + ": " + c.Reason
		} else if any {
			return // another line still lags: keep the alarm
		}
		a.report(c)
	}
}
