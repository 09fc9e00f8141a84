package alerts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
)

// FindingsConsumer is the durable consumer of stream FINDINGS shared by
// all alerts workers (analytics in other processes publishes there).
const FindingsConsumer = "alerts"

func findingsConsumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: FindingsConsumer, Description: "analytics findings and machine states → alarms",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	}
}

// RunFindings applies what analytics processes publish on stream FINDINGS
// until ctx ends: findings, and machine-state changes in order with them
// (a durable consumer shared by all workers, so nothing published while
// every worker was down is lost). Besides, each worker follows the last
// state of every machine of its site, so that it knows them all at start
// and whichever worker the shared consumer hands a change to.
func (s *Service) RunFindings(ctx context.Context) error {
	cons, err := s.js.CreateOrUpdateConsumer(ctx, bus.StreamFindings, findingsConsumerConfig())
	if err != nil {
		return fmt.Errorf("alerts: consumer %s on stream %s: %w", FindingsConsumer, bus.StreamFindings, err)
	}
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		s.followMachineStates(ctx)
	}()
	defer func() { <-followDone }()
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.WithMessagesErrOnMissingHeartbeat(true))
		if err != nil {
			return fmt.Errorf("alerts: consume %s: %w", FindingsConsumer, err)
		}
		stop := context.AfterFunc(ctx, it.Stop)
		err = s.consumeFindings(ctx, it)
		stop()
		it.Stop()
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("alerts: findings consumer interrupted; resuming", "err", err)
		// The consumer may have been deleted: make sure it exists again.
		if cons, err = s.js.CreateOrUpdateConsumer(ctx, bus.StreamFindings, findingsConsumerConfig()); err != nil {
			s.log.Error("alerts: findings consumer", "err", err)
			if wait(ctx, time.Second) != nil {
				return nil
			}
		}
	}
	return nil
}

func (s *Service) consumeFindings(ctx context.Context, it jetstream.MessagesContext) error {
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		m, err := analytics.DecodeMessage(msg.Data())
		switch {
		case errors.Is(err, analytics.ErrNewerVersion):
			// A newer worker may read it: leave it for redelivery.
			s.log.Error("alerts: findings message of a newer schema; upgrade this worker", "subject", msg.Subject(), "err", err)
			_ = msg.NakWithDelay(30 * time.Second)
			continue
		case err != nil:
			s.log.Error("alerts: undecodable findings message dropped", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			continue
		case m.MachineState != nil:
			s.ApplyMachineState(*m.MachineState)
			_ = msg.Ack()
			continue
		}
		if err := s.Notify(ctx, []analytics.Finding{*m.Finding}); err != nil {
			s.log.Error("alerts: finding not applied; redelivering", "finding", m.Finding.ID, "err", err)
			_ = msg.NakWithDelay(time.Second)
			continue
		}
		_ = msg.Ack()
	}
}

// followMachineStates feeds this worker the last state of every machine
// of the site and every change after it, from an ordered consumer of its
// own, until ctx ends.
func (s *Service) followMachineStates(ctx context.Context) {
	filter := bus.MachineStateSubject(s.cfg.Site, "*", "*")
	for attempt := 1; ctx.Err() == nil; attempt++ {
		cons, err := s.js.OrderedConsumer(ctx, bus.StreamFindings, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		})
		if err != nil {
			s.log.Warn("alerts: follow machine states", "err", err)
			if wait(ctx, retryDelay(attempt)) != nil {
				return
			}
			continue
		}
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			m, err := analytics.DecodeMessage(msg.Data())
			if err != nil || m.MachineState == nil {
				s.log.Warn("alerts: machine state message skipped", "subject", msg.Subject(), "err", err)
				return
			}
			s.ApplyMachineState(*m.MachineState)
		})
		if err != nil {
			s.log.Warn("alerts: follow machine states", "err", err)
			if wait(ctx, retryDelay(attempt)) != nil {
				return
			}
			continue
		}
		<-ctx.Done()
		cc.Stop()
		return
	}
}
