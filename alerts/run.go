package alerts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/bus"
)

// Run serves operator commands, watches the bucket and runs the timers
// (shelve expiry, flood end, outbox replay) until ctx ends; then it drains
// in-flight commands within Options.ShutdownTimeout.
func (s *Service) Run(ctx context.Context) error {
	var (
		inflight sync.WaitGroup
		gate     sync.Mutex
		closed   bool
	)
	sub, err := s.nc.QueueSubscribe(bus.CmdAlarms+".*", s.opts.QueueGroup, func(m *nats.Msg) {
		gate.Lock()
		if closed {
			gate.Unlock()
			return // shutting down: the requester times out and retries with another worker
		}
		inflight.Add(1)
		gate.Unlock()
		defer inflight.Done()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.respond(cctx, m)
	})
	if err != nil {
		return fmt.Errorf("alerts: subscribe to commands: %w", err)
	}
	authSub, err := s.nc.QueueSubscribe(bus.CmdAuth+".*", s.opts.QueueGroup, func(m *nats.Msg) {
		gate.Lock()
		if closed {
			gate.Unlock()
			return
		}
		inflight.Add(1)
		gate.Unlock()
		defer inflight.Done()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s.authServer.Respond(cctx, m)
	})
	if err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("alerts: subscribe to auth requests: %w", err)
	}
	// The server has the subscriptions once a flush round trip returns.
	// Not connected now, the client sends them again on reconnecting:
	// ready all the same.
	if err := s.nc.FlushTimeout(10 * time.Second); err != nil {
		s.log.Warn("alerts: command subscriptions not confirmed by NATS yet", "err", err)
	}
	s.readyOnce.Do(func() { close(s.ready) })
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.watch(ctx)
	}()
	ticker := time.NewTicker(s.opts.TickEvery)
	defer ticker.Stop()
	if err := s.ReplayOutboxes(ctx); err != nil {
		s.log.Warn("alerts: outbox replay at start", "err", err)
	}
	s.reconcileSuppression(ctx)
	for {
		select {
		case <-ctx.Done():
			gate.Lock()
			closed = true
			gate.Unlock()
			if err := authSub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				s.log.Warn("alerts: unsubscribe auth requests", "err", err)
			}
			return s.shutdown(sub, &inflight, watchDone)
		case <-ticker.C:
			s.Tick(ctx)
		case <-s.wake:
			s.reconcileSuppression(ctx)
		}
	}
}

func (s *Service) shutdown(sub *nats.Subscription, inflight *sync.WaitGroup, watchDone <-chan struct{}) error {
	// Stop taking commands; those already received finish (their context is
	// cancelled, so they end quickly with a reply).
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.log.Warn("alerts: unsubscribe commands", "err", err)
	}
	done := make(chan struct{})
	go func() {
		inflight.Wait()
		<-watchDone
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(s.opts.ShutdownTimeout):
		return fmt.Errorf("alerts: shutdown: commands still running after %s", s.opts.ShutdownTimeout)
	}
}

// watch follows the bucket so that every worker knows all shelved alarms
