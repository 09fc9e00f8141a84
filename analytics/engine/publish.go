package engine

import (
	"context"
	"fmt"
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
// kept until the next Notify, which publishes them before the findings,
// in the order the engine saw them.
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

// Notify publishes the queued machine-state changes, then fs, each
// waiting for the stream's ack. On error the unpublished rest stays
// queued; the caller retries fs.
func (p *Publisher) Notify(ctx context.Context, fs []analytics.Finding) error {
	for {
		p.mu.Lock()
		if len(p.pending) == 0 {
			p.mu.Unlock()
			break
		}
		m := p.pending[0]
		p.mu.Unlock()
		data, err := analytics.EncodeMachineState(m)
		if err != nil {
			return fmt.Errorf("encode machine state of %s/%s: %w", m.Line, m.Machine, err)
		}
		if err := p.publish(ctx, bus.MachineStateSubject(m.Site, m.Line, m.Machine), m.ID(), data); err != nil {
			return err
		}
		p.mu.Lock()
		p.pending = p.pending[1:]
		p.mu.Unlock()
	}
	for _, f := range fs {
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
