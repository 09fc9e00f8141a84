package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/partition"
	"github.com/linewatch/linewatch/sample"
)

// checkpoint is the saved analysis of one line: detector state including
// every TELEMETRY message up to Seq. Line, Owner and Epoch (the lease
// revision of the worker that wrote it) fence the writes; a checkpoint of
// the release before partitions (one key per consumer, whole site) has
// none of them.
type checkpoint struct {
	Seq   uint64 `json:"seq"`
	State []byte `json:"state"`
	Line  string `json:"line,omitempty"`
	Owner string `json:"owner,omitempty"`
	Epoch uint64 `json:"epoch,omitempty"`
}

// errFenced: the checkpoint belongs to a newer owner or the lease is no
// longer provably held; the line stops here.
var errFenced = errors.New("ownership of the line lost (lease or checkpoint fenced)")

// checkpointKey is the key of a line's checkpoint.
func checkpointKey(consumer, line string) string { return consumer + "." + line }

// linePart is the analysis of one held line.
type linePart struct {
	live  *Live
	lease *partition.Lease
	kv    jetstream.KeyValue
	met   *partitionMetrics
	line  string
	log   *slog.Logger
	lag   lagWatch

	eng      *Engine
	notifier Notifier
	rev      uint64 // revision of the checkpoint this worker wrote last
	cpSeq    uint64 // its sequence
	last     uint64 // sequence of the last message handled
	// aborted: a message was processed but its findings not delivered;
	// the engine is ahead of last, so no final checkpoint may be taken.
	aborted bool
	// scratch buffers reused for every message
	dec      sample.Decoder // one per partition: not safe for concurrent use
	samples  []sample.Sample
	findings []analytics.Finding
	stats    []StatPoint
}

// run claims the line's checkpoint, then consumes from its sequence + 1
// until ctx ends or ownership is lost.
func (p *linePart) run(ctx context.Context) error {
	var err error
	retry := backoff.Policy{Min: 100 * time.Millisecond, Max: 2 * time.Second, Jitter: true}
	for n := 1; ; n++ {
		// A fresh engine each attempt: a restore is not undone.
		if p.eng, p.notifier, err = p.live.Open(p.line); err != nil {
			return err
		}
		err = p.claim(ctx)
		if err == nil || errors.Is(err, errFenced) || ctx.Err() != nil {
			break
		}
		p.log.Warn("analytics: checkpoint not claimed; retrying", "err", err)
		if retry.Wait(ctx, clock.Real{}, n) != nil {
			return nil
		}
	}
	if err != nil {
		if errors.Is(err, errFenced) {
			return err
		}
		return nil // ctx ended
	}
	p.log.Info("analytics: line taken", "from_stream_seq", p.cpSeq+1)
	err = p.consume(ctx)
	if errors.Is(err, errFenced) {
		return err // a newer owner: no final checkpoint
	}
	if p.aborted {
		return nil // the next owner starts from the last periodic checkpoint
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.commit(sctx, p.last); err != nil && !errors.Is(err, errNothing) {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}

// claim reads the line's checkpoint (or the whole-site one of the
// release before partitions), restores it and writes it back with this
// owner's epoch: from then on a write of an earlier owner fails.
func (p *linePart) claim(ctx context.Context) error {
	key := checkpointKey(p.live.Consumer, p.line)
	var (
		cp    checkpoint
		rev   uint64
		state []byte
	)
	e, err := p.kv.Get(ctx, key)
	switch {
	case err == nil:
		rev = e.Revision()
		if err := json.Unmarshal(e.Value(), &cp); err != nil {
			p.log.Warn("analytics checkpoint unreadable; the line starts fresh", "err", err)
			cp = checkpoint{}
		}
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if old, err := p.kv.Get(ctx, p.live.Consumer); err == nil {
			// Upgrade: the line's part of the whole-site checkpoint.
			if err := json.Unmarshal(old.Value(), &cp); err != nil {
				p.log.Warn("analytics: earlier checkpoint unreadable; the line starts fresh", "err", err)
				cp = checkpoint{}
			} else {
				p.log.Info("analytics: line migrated from the whole-site checkpoint", "stream_seq", cp.Seq)
			}
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("analytics checkpoint %s: %w", p.live.Consumer, err)
		}
	default:
		return fmt.Errorf("analytics checkpoint %s: %w", key, err)
	}
	if cp.Epoch > p.lease.Epoch {
		// Epochs only grow while the lease bucket lives; a larger one means
		// the bucket was recreated. The lease was just taken, so this worker
		// is the owner: the compare-and-set below still fences the claim.
		p.log.Warn("analytics: checkpoint written under a larger lease epoch (lease bucket recreated?)",
			"checkpoint_epoch", cp.Epoch, "checkpoint_owner", cp.Owner)
	}
	if cp.State != nil {
		if err := p.eng.Restore(cp.State); err != nil {
			p.log.Warn("analytics checkpoint not restored; the line starts fresh", "err", err)
			cp.Seq = 0
		}
	}
	if state, err = p.eng.Snapshot(); err != nil {
		return err
	}
	p.rev, p.cpSeq, p.last = rev, cp.Seq, cp.Seq
	err = p.write(ctx, cp.Seq, state)
	if errors.Is(err, errFenced) && p.lease.Held() {
		// An earlier owner wrote between the read and this write: read again.
		return fmt.Errorf("checkpoint %s changed while claimed", key)
	}
	return err
}

// errNothing: no message since the last checkpoint.
var errNothing = errors.New("nothing to checkpoint")

// commit checkpoints the engine at seq if it moved.
func (p *linePart) commit(ctx context.Context, seq uint64) error {
	if seq == p.cpSeq {
		return errNothing
	}
	st, err := p.eng.Snapshot()
	if err != nil {
		return err
	}
	return p.write(ctx, seq, st)
}

// write is the fenced checkpoint write: only while the lease is held,
// and only on the revision this worker wrote (or read) last.
func (p *linePart) write(ctx context.Context, seq uint64, state []byte) error {
	if !p.lease.Held() {
		return errFenced
	}
	b, err := json.Marshal(checkpoint{Seq: seq, State: state, Line: p.line, Owner: p.live.mgr.Load().Worker(), Epoch: p.lease.Epoch})
	if err != nil {
		return err
	}
	key := checkpointKey(p.live.Consumer, p.line)
	var rev uint64
	if p.rev == 0 {
		rev, err = p.kv.Create(ctx, key, b)
	} else {
		rev, err = p.kv.Update(ctx, key, b, p.rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("%w: checkpoint %s changed by another worker", errFenced, key)
	}
	if err != nil {
		return fmt.Errorf("analytics checkpoint %s: %w", key, err)
	}
	p.rev, p.cpSeq = rev, seq
	return nil
}

// consume analyses the line's telemetry from the checkpoint on.
func (p *linePart) consume(ctx context.Context) error {
	c := &lineConsumer{p: p}
	if err := c.open(ctx); err != nil {
		return nil // ctx ended
	}
	defer c.close(ctx)
	every := p.live.CheckpointEvery
	lastCP := time.Now()
	for ctx.Err() == nil {
		// A bounded wait so checkpoints happen while the line is idle too.
		wctx, cancel := context.WithTimeout(ctx, every)
		msg, err := c.next(ctx, wctx)
		cancel()
		if errors.Is(err, errFenced) {
			return err
		}
		if err == nil {
			seq, err := p.handle(ctx, msg, p.last)
			if errors.Is(err, errFenced) {
				return err
			}
			if err != nil {
				p.aborted = true // ctx cancelled while notifying: the next owner processes it again
				return nil
			}
			p.last = max(p.last, seq)
		} else if reason := c.stalled(ctx); reason != "" {
			if err := c.restart(ctx, reason); errors.Is(err, errFenced) {
				return err
			}
		}
		now := p.live.Now()
		p.lag.check(now, err != nil)
		p.met.observe(p.line, now, &p.lag, err != nil)
		if time.Since(lastCP) >= every {
			err := p.commit(ctx, p.last)
			switch {
			case err == nil || errors.Is(err, errNothing):
				lastCP = time.Now()
			case errors.Is(err, errFenced):
				return err
			case ctx.Err() == nil:
				p.log.Error("analytics checkpoint", "err", err)
			}
		}
	}
	return nil
}

// handle processes one telemetry message and returns its stream sequence
// (0 when it has no metadata); it returns an error when ctx ended before
// the findings were delivered, or errFenced when the lease is lost
// (nothing more is notified).
func (p *linePart) handle(ctx context.Context, msg jetstream.Msg, done uint64) (uint64, error) {
	md, err := msg.Metadata()
	if err != nil {
		return 0, nil
	}
	seq := md.Sequence.Stream
	p.lag.seen(md.Timestamp, md.NumPending)
	if seq <= done {
		return seq, nil // already in the engine's state
	}
	p.met.handled.WithLabelValues(p.line).Inc()
	if p.live.onHandled != nil {
		p.live.onHandled(p.line, seq)
	}
	b, err := p.dec.Decode(msg.Data())
	if err != nil {
		p.log.Warn("analytics: telemetry message skipped", "seq", seq, "err", err)
		return seq, nil
	}
	p.samples = b.Samples(p.samples[:0])
	p.findings = p.findings[:0]
	for _, s := range p.samples {
		p.findings = p.eng.Process(s, p.findings)
	}
	// Findings (and machine-state changes a Publisher queued) must reach
	// alerts before the checkpoint: retry with a delay, while the lease holds.
	for len(p.findings) > 0 || pending(p.notifier) {
		if !p.lease.Held() {
			return seq, errFenced
		}
		err := p.notifier.Notify(ctx, p.findings)
		if err == nil {
			break
		}
		p.log.Error("analytics: notify failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return seq, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if p.live.Stats != nil {
		if p.stats = p.eng.DrainStats(p.stats[:0]); len(p.stats) > 0 {
			p.live.Stats.WriteStats(p.stats)
		}
	}
	return seq, nil
}
