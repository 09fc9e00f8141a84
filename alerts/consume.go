package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

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
		it, err := cons.Messages(jetstream.WithMessagesErrOnMissingHeartbeat(true))
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
