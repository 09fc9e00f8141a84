package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// pullExpiry bounds how long a pull request that got no answer holds up
// a consumer: nats.go (v1.55) passes over a 503 status on a pull (e.g.
// a consumer whose cluster leader is not elected yet) without asking
// again, so the consumer waits for two missed heartbeats (half the
// expiry each) before it pulls anew — 30 s by default, during which a
// line's findings are silently not applied. 5 s: the heartbeats also
// show a dead connection sooner; a handler that runs longer than this
// (the store failing over) costs one resume.
const pullExpiry = 5 * time.Second

// consumeDurable passes each message of the durable consumer cfg on
// stream to handle (which acks, naks or terminates it) until ctx ends. A
// consumer interrupted (NATS restarted, the consumer deleted) is made
// again and resumed.
func (s *Service) consumeDurable(ctx context.Context, stream string, cfg jetstream.ConsumerConfig, handle func(jetstream.Msg)) error {
	var cons jetstream.Consumer
	for attempt := 1; ; attempt++ {
		c, err := s.js.CreateOrUpdateConsumer(ctx, stream, cfg)
		if err == nil {
			cons = c
			break
		}
		// NATS not ready yet (a cluster starting, a leader election): wait.
		s.log.Warn("alerts: consumer not created yet; retrying", "consumer", cfg.Durable, "stream", stream, "attempt", attempt, "err", err)
		if werr := wait(ctx, retryDelay(attempt)); werr != nil {
			return nil
		}
	}
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.WithMessagesErrOnMissingHeartbeat(true), jetstream.PullExpiry(pullExpiry))
		if err != nil {
			return fmt.Errorf("alerts: consume %s: %w", cfg.Durable, err)
		}
		stop := context.AfterFunc(ctx, it.Stop)
		for {
			var msg jetstream.Msg
			if msg, err = it.Next(); err != nil {
				break
			}
			handle(msg)
		}
		stop()
		it.Stop()
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			s.log.Warn("alerts: consumer interrupted; resuming", "consumer", cfg.Durable, "stream", stream, "err", err)
		}
		// The consumer may have been deleted: make sure it exists again.
		// On failure the old handle is kept and pulled from again (a nil
		// one would crash the loop).
		if c, err := s.js.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
			s.log.Error("alerts: consumer", "consumer", cfg.Durable, "stream", stream, "err", err)
			if wait(ctx, time.Second) != nil {
				return nil
			}
		} else {
			cons = c
		}
	}
	return nil
}
