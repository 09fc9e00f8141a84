package notify

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
)

// armEscalation (re)starts the escalation timer of an urgent activation.
// The timer lives in this worker; on expiry the current state is re-read
// from the KV bucket, so an ack handled by any worker cancels it.
func (n *Notifier) armEscalation(tr alerts.Transition, r *route) {
	key := tr.Alarm.ID + "\x00" + r.cfg.Name
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.timers[key]; old != nil {
		old.Stop()
	}
	n.timers[key] = n.clk.AfterFunc(r.cfg.EscalateAfter, func() {
		n.mu.Lock()
		delete(n.timers, key)
		n.mu.Unlock()
		select {
		case n.escalations <- escalation{tr: tr, route: r}:
		case <-n.done:
		}
	})
}

func (n *Notifier) runEscalations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-n.escalations:
			if err := n.escalate(ctx, e); err != nil && ctx.Err() == nil {
				n.log.Error("notify: escalation not sent", "alarm", e.tr.Alarm.ID, "route", e.route.cfg.Name, "err", err)
			}
		}
	}
}

func (n *Notifier) escalate(ctx context.Context, e escalation) error {
	cur, err := n.currentAlarm(ctx, e.tr.Alarm.ID)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil // the alarm no longer exists
	case err != nil:
		// Unsure of the state: escalating wrongly beats staying silent.
		n.log.Warn("notify: cannot re-check alarm state; escalating anyway", "alarm", e.tr.Alarm.ID, "err", err)
		a := e.tr.Alarm
		cur = &a
	}
	if cur.State != alerts.Unacknowledged && cur.State != alerts.RTNUnack {
		return nil
	}
	if !cur.ActivatedAt.Equal(e.tr.Alarm.ActivatedAt) {
		return nil // re-activated since: that activation has its own timer
	}
	tr := e.tr
	tr.Alarm = *cur
	p := Payload{Transition: &tr, Kind: KindEscalation, Route: e.route.cfg.Name, Escalation: true}
	return n.deliver(ctx, nil, e.route, p, e.route.recipients(true), "escalation", e.tr.ID)
}

func (n *Notifier) currentAlarm(ctx context.Context, id string) (*alerts.Alarm, error) {
	a, _, err := alerts.NewReader(n.opts.JS).Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return &a, nil
}
