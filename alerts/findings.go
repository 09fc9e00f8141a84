package alerts

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
)

// FindingsConsumer is the durable consumer of stream FINDINGS shared by
// all alerts workers (analytics in other processes publishes there).
const FindingsConsumer = "alerts"

// RunFindings applies what analytics processes publish on stream FINDINGS
// until ctx ends: findings, and machine-state changes in order with them
// (a durable consumer shared by all workers, so nothing published while
// every worker was down is lost). Besides, each worker follows the last
// state of every machine of its site, so that it knows them all at start
// and whichever worker the shared consumer hands a change to.
func (s *Service) RunFindings(ctx context.Context) error {
	fctx, stop := context.WithCancel(ctx)
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		s.followMachineStates(fctx)
	}()
	defer func() { stop(); <-followDone }()
	return s.consumeDurable(ctx, bus.StreamFindings, jetstream.ConsumerConfig{
		Durable: FindingsConsumer, Description: "analytics findings and machine states → alarms",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	}, func(msg jetstream.Msg) { s.applyFindingsMsg(ctx, msg) })
}

func (s *Service) applyFindingsMsg(ctx context.Context, msg jetstream.Msg) {
	m, err := analytics.DecodeMessage(msg.Data())
	switch {
	case errors.Is(err, analytics.ErrNewerVersion):
		// A newer worker may read it: leave it for redelivery.
		s.log.Error("alerts: findings message of a newer schema; upgrade this worker", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(30 * time.Second)
	case err != nil:
		s.log.Error("alerts: undecodable findings message dropped", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
	case m.MachineState != nil:
		s.ApplyMachineState(*m.MachineState)
		_ = msg.Ack()
	default:
		if err := s.Notify(ctx, []analytics.Finding{*m.Finding}); err != nil {
			s.log.Error("alerts: finding not applied; redelivering", "finding", m.Finding.ID, "err", err)
			_ = msg.NakWithDelay(time.Second)
			return
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
