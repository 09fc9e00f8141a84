package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
)

// findingPublisher sends findings to alerts workers in other processes
// (stream FINDINGS). The finding id is the JetStream message id, so a
// republished finding after a restart is dropped by the stream.
type findingPublisher struct {
	js     jetstream.JetStream
	site   string
	health func(health.Condition) // health.NATSPublish of source analytics
	mu     sync.Mutex
	known  bool // a state was reported
	fail   bool
}

func (p *findingPublisher) Notify(ctx context.Context, fs []analytics.Finding) error {
	for _, f := range fs {
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		msg := &nats.Msg{Subject: bus.FindingSubject(p.site, f.Line), Data: data, Header: nats.Header{}}
		msg.Header.Set(jetstream.MsgIDHeader, f.ID)
		if _, err := p.js.PublishMsg(ctx, msg); err != nil {
			err = fmt.Errorf("publish finding %s: %w", f.ID, err)
			p.report(err)
			return err
		}
	}
	p.report(nil)
	return nil
}

// report raises or clears "NATS publish failing" for findings (the
// engine retries; the first failure is already worth an alarm: findings
// are what alarms are made of).
func (p *findingPublisher) report(err error) {
	failing := err != nil
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.health == nil || (p.known && failing == p.fail) {
		return
	}
	p.known, p.fail = true, failing
	c := health.Condition{Source: health.SourceAnalytics, Name: health.NATSPublish, Active: failing, Priority: health.High}
	if failing {
		c.Reason = "findings publish to JetStream failing: " + err.Error()
	}
	p.health(c)
}

// consumeFindings feeds findings from other processes' analytics to the
// local alerts service (durable consumer shared by all alerts workers).
func consumeFindings(js jetstream.JetStream, n engine.Notifier, log *slog.Logger) component {
	return component{name: "findings", run: func(ctx context.Context) error {
		cons, err := js.CreateOrUpdateConsumer(ctx, bus.StreamFindings, jetstream.ConsumerConfig{
			Durable: "alerts", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
		})
		if err != nil {
			return fmt.Errorf("findings consumer: %w", err)
		}
		it, err := cons.Messages()
		if err != nil {
			return err
		}
		defer it.Stop()
		go func() { <-ctx.Done(); it.Stop() }()
		for {
			msg, err := it.Next()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				log.Warn("findings: next", "err", err)
				continue
			}
			var f analytics.Finding
			if err := json.Unmarshal(msg.Data(), &f); err != nil {
				log.Error("findings: undecodable message dropped", "err", err)
				msg.Term()
				continue
			}
			if err := n.Notify(ctx, []analytics.Finding{f}); err != nil {
				log.Error("findings: alerts could not take a finding; redelivering", "id", f.ID, "err", err)
				msg.NakWithDelay(time.Second)
				continue
			}
			msg.Ack()
		}
	}}
}
