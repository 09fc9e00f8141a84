package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
)

// LegacyFindingsConsumer is the durable all workers shared before findings
// were partitioned by line. It is no longer consumed; a new line consumer
// starts right after its ack floor, so an upgrade neither loses nor
// replays findings.
const LegacyFindingsConsumer = "alerts"

// FindingsConsumer is the durable consumer of stream FINDINGS for one
// line, shared by all alerts workers: its findings and machine states in
// stream order, one message in flight at a time (MaxAckPending 1), so no
// finding of the line overtakes another, whichever worker takes it.
func FindingsConsumer(line string) string { return "alerts-line-" + line }

// findingsConsumerConfig is the line consumer's settings. AckWait is
// short: a worker that dies holding the line's message (it keeps the ack
// wait alive with InProgress while it works) delays the line by at most
// this much, and the message comes back before any newer one.
func (s *Service) findingsConsumerConfig(line string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:     FindingsConsumer(line),
		Description: "analytics findings and machine states of line " + line + " → alarms, in order",
		FilterSubjects: []string{bus.FindingSubject(s.cfg.Site, line),
			bus.MachineStateSubject(s.cfg.Site, line, "*")},
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.opts.FindingsAckWait,
		MaxDeliver: -1, MaxAckPending: 1, DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// RunFindings applies what analytics processes publish on stream FINDINGS
// until ctx ends: per line, findings and machine-state changes in stream
// order (a durable consumer per line shared by all workers, so nothing
// published while every worker was down is lost, and nothing of a line
// is applied out of order). Each message's stream sequence is recorded
// with the alarm it changed, so a redelivery is recognised as applied.
func (s *Service) RunFindings(ctx context.Context) error {
	s.remoteStates.Store(true)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	if len(s.cfg.Lines) == 0 {
		<-ctx.Done()
		return nil
	}
	for _, l := range s.cfg.Lines {
		cfg, err := s.lineConsumerStart(ctx, l.ID)
		if err != nil {
			return err
		}
		wg.Go(func() {
			err := s.consumeDurable(ctx, bus.StreamFindings, cfg, func(msg jetstream.Msg) { s.applyFindingsMsg(ctx, msg) })
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lineConsumerStart completes a line consumer's settings with where it
// starts: as it is when it exists (that cannot change), else after the
// legacy shared consumer's ack floor when there is one, else at the
// start of the stream.
func (s *Service) lineConsumerStart(ctx context.Context, line string) (jetstream.ConsumerConfig, error) {
	cfg := s.findingsConsumerConfig(line)
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		c, err := s.js.Consumer(cctx, bus.StreamFindings, cfg.Durable)
		cancel()
		if err == nil {
			cur := c.CachedInfo().Config
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = cur.DeliverPolicy, cur.OptStartSeq, cur.OptStartTime
			return cfg, nil
		}
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			break
		}
		// NATS not ready yet (a cluster starting, a leader election): wait.
		s.log.Warn("alerts: line findings consumer not readable yet; retrying", "consumer", cfg.Durable, "attempt", attempt, "err", err)
		if werr := wait(ctx, retryDelay(attempt)); werr != nil {
			return cfg, fmt.Errorf("alerts: consumer %s on stream %s: %w", cfg.Durable, bus.StreamFindings, err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	legacy, err := s.js.Consumer(cctx, bus.StreamFindings, LegacyFindingsConsumer)
	if err == nil {
		floor := legacy.CachedInfo().AckFloor.Stream
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
		s.log.Info("alerts: line findings consumer starts after the legacy shared consumer's ack floor; the legacy consumer is no longer used (delete it once no older worker runs)",
			"consumer", cfg.Durable, "start_sequence", floor+1, "legacy", LegacyFindingsConsumer)
	}
	return cfg, nil
}

func (s *Service) applyFindingsMsg(ctx context.Context, msg jetstream.Msg) {
	// Keep the ack wait from running out while the store is slow: the
	// line waits for this message, and a dead worker's comes back soon.
	stop := s.keepInProgress(ctx, msg)
	defer stop()
	var seq uint64
	if md, err := msg.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	m, err := analytics.DecodeMessage(msg.Data())
	switch {
	case errors.Is(err, analytics.ErrNewerVersion):
		// A newer worker may read it: leave it for redelivery (the line waits).
		s.log.Error("alerts: findings message of a newer schema; upgrade this worker", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(30 * time.Second)
	case err != nil:
		s.count(outcomeUndecodable)
		s.log.Error("alerts: undecodable findings message dropped", "subject", msg.Subject(), "seq", seq, "err", err)
		_ = msg.Term()
	case m.MachineState != nil:
		if err := s.applyRemoteMachineState(ctx, *m.MachineState, seq); err != nil {
			s.log.Error("alerts: machine state not applied; redelivering", "line", m.MachineState.Line, "machine", m.MachineState.Machine, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		_ = msg.Ack()
	default:
		err := s.notifyOne(ctx, *m.Finding, seq)
		if err != nil && ErrorCode(err) != CodeInternal {
			// The state machine refuses it for good: redelivering it
			// would hold up the line forever.
			s.count(outcomeRefused)
			s.log.Error("alerts: finding refused by the alarm state machine; dropped", "finding", m.Finding.ID, "seq", seq, "err", err)
			_ = msg.Term()
			return
		}
		if err != nil {
			s.log.Error("alerts: finding not applied; redelivering", "finding", m.Finding.ID, "seq", seq, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
		}
		_ = msg.Ack()
	}
}

// keepInProgress tells JetStream every third of the ack wait that msg is
// still being worked on, until the returned stop is called. From the
// second time on it logs that the line is held up (the line's later
// messages wait for this one).
func (s *Service) keepInProgress(ctx context.Context, msg jetstream.Msg) (stop func()) {
	every := s.opts.FindingsAckWait / 3
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every) // real time: it races the server's ack wait
		defer t.Stop()
		start := time.Now()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				_ = msg.InProgress()
				if n >= 2 {
					var seq uint64
					if md, err := msg.Metadata(); err == nil {
						seq = md.Sequence.Stream
					}
					s.log.Warn("alerts: findings message still being applied; its line waits", "subject", msg.Subject(), "seq", seq, "for", time.Since(start).Round(time.Millisecond))
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
