package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
)

// Publisher is the Notifier of an analytics process whose alerts workers
// run elsewhere: it publishes findings, and the machine-state changes that
// suppress alarms by design, on stream FINDINGS (analytics.EncodeFinding,
// analytics.EncodeMachineState). Each message's id is its JetStream
// Nats-Msg-Id, so a republished message after a restart is dropped by the
// stream. Set Options.MachineState to its MachineState method: changes are
// kept until the next Notify, which publishes them with the findings in
// process-time order (analytics.ProcessOrder).
type Publisher struct {
	JS   jetstream.JetStream
	Site string
	// Health receives health.NATSPublish of source analytics; may be nil.
	Health func(health.Condition)

	mu      sync.Mutex
	pending []analytics.MachineState
	known   bool // a health state was reported
	fail    bool
}

// MachineState queues a machine-state change (the engine's callback).
func (p *Publisher) MachineState(m analytics.MachineState) {
	if m.Site == "" {
		m.Site = p.Site
	}
	p.mu.Lock()
	p.pending = append(p.pending, m)
	p.mu.Unlock()
}

// Pending reports queued machine-state changes: Live calls Notify after a
// telemetry message that left some, even without findings.
func (p *Publisher) Pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending) > 0
}

// Notify publishes the queued machine-state changes and fs, each waiting
// for the stream's ack, in process-time order (analytics.ProcessOrder): alerts
// apply a line's messages in stream order, so a finding of the sample
// before a machine went into CIP is not suppressed by it, and one of the
// poll that reported the change is. On error the unpublished states stay
// queued; the caller retries fs (a finding published before is dropped
// by the stream as a duplicate).
func (p *Publisher) Notify(ctx context.Context, fs []analytics.Finding) error {
	p.mu.Lock()
	states := slices.Clone(p.pending)
	p.mu.Unlock()
	for _, m := range analytics.ProcessOrder(states, fs) {
		if m.MachineState != nil {
			data, err := analytics.EncodeMachineState(*m.MachineState)
			if err != nil {
				return fmt.Errorf("encode machine state of %s/%s: %w", m.MachineState.Line, m.MachineState.Machine, err)
			}
			if err := p.publish(ctx, bus.MachineStateSubject(m.MachineState.Site, m.MachineState.Line, m.MachineState.Machine), m.MachineState.ID(), data); err != nil {
				return err
			}
			p.mu.Lock()
			p.pending = p.pending[1:]
			p.mu.Unlock()
			continue
		}
		f := *m.Finding
		if f.Site == "" {
			f.Site = p.Site
		}
		if f.ID == "" {
			f.ID = analytics.MakeID(f)
		}
		data, err := analytics.EncodeFinding(f)
		if err != nil {
			return fmt.Errorf("encode finding %s: %w", f.ID, err)
		}
		if err := p.publish(ctx, bus.FindingSubject(p.Site, f.Line), f.ID, data); err != nil {
			return err
		}
	}
	p.report(nil)
	return nil
}

func (p *Publisher) publish(ctx context.Context, subject, id string, data []byte) error {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := p.JS.PublishMsg(ctx, msg, jetstream.WithExpectStream(bus.StreamFindings)); err != nil {
		err = fmt.Errorf("publish %s on %s: %w", id, subject, err)
		p.report(err)
		return err
	}
	return nil
}

// report raises or clears "NATS publish failing" for findings (the
// engine retries; the first failure is already worth an alarm: findings
// are what alarms are made of).
func (p *Publisher) report(err error) {
	failing := err != nil
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Health == nil || (p.known && failing == p.fail) {
		return
	}
	p.known, p.fail = true, failing
	c := health.Condition{Source: health.SourceAnalytics, Name: health.NATSPublish, Active: failing, Priority: health.High}
	if failing {
		c.Reason = "findings publish to JetStream failing: " + err.Error()
	}
	p.Health(c)
}
