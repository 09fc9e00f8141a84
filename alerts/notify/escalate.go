package notify

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
)

// Escalations of urgent alarms outlive the worker that armed them: each
// pending one is a record in the dedupe bucket (key escalation.<hash of
// alarm and route>: the activation, the route and when it is due), and
// every worker arms a timer for each record it finds at start and every
// escalationScanEvery after. When several workers' timers fire for one
// record, the dedupe claim sends the escalation once; the record is
// deleted once it is sent or no longer needed.

// escalationScanEvery is how often a worker looks for escalations it
// has no timer for (another worker's, after that worker died).
const escalationScanEvery = 10 * time.Second

const escalationPrefix = "escalation."

type pendingEscalation struct {
	Transition alerts.Transition `json:"transition"`
	Route      string            `json:"route"`
	Due        time.Time         `json:"due"`
}

func escalationKey(alarm, route string) string { return escalationPrefix + dedupeKey(alarm, route) }

// armEscalation (re)starts the escalation timer of an urgent activation
// and records it for the other workers. On expiry the current state is
// re-read from the alarm bucket, so an ack handled by any worker cancels
// it.
func (n *Notifier) armEscalation(ctx context.Context, tr alerts.Transition, r *route) {
	pe := pendingEscalation{Transition: tr, Route: r.cfg.Name, Due: n.clk.Now().Add(r.cfg.EscalateAfter)}
	key := escalationKey(tr.Alarm.ID, r.cfg.Name)
	if b, err := json.Marshal(pe); err == nil {
		if _, err := n.dedupe.kv.Put(ctx, key, b); err != nil {
			n.log.Warn("notify: escalation not recorded for other workers; only this worker's timer holds it", "alarm", tr.Alarm.ID, "route", r.cfg.Name, "err", err)
		}
	}
	n.armLocal(key, pe, r)
}

// armLocal starts this worker's timer for a pending escalation.
func (n *Notifier) armLocal(key string, pe pendingEscalation, r *route) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old := n.timers[key]; old != nil {
		old.Stop()
	}
	e := escalation{tr: pe.Transition, route: r, key: key}
	d := pe.Due.Sub(n.clk.Now())
	if d <= 0 { // overdue (taken over late): now
		delete(n.timers, key)
		go func() {
			select {
			case n.escalations <- e:
			case <-n.done:
			}
		}()
		return
	}
	n.timers[key] = n.clk.AfterFunc(d, func() {
		n.mu.Lock()
		delete(n.timers, key)
		n.mu.Unlock()
		select {
		case n.escalations <- e:
		case <-n.done:
		}
	})
}

// scanEscalations arms a timer for every recorded escalation this worker
// has none for.
func (n *Notifier) scanEscalations(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kl, err := n.dedupe.kv.ListKeysFiltered(lctx, escalationPrefix+">")
	if err != nil {
		n.log.Warn("notify: cannot list pending escalations", "err", err)
		return
	}
	defer func() { _ = kl.Stop() }()
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		n.mu.Lock()
		armed := n.timers[k] != nil
		n.mu.Unlock()
		if armed {
			continue
		}
		e, err := n.dedupe.kv.Get(lctx, k)
		if err != nil {
			continue // sent and deleted meanwhile, or NATS trouble: the next scan
		}
		var pe pendingEscalation
		if err := json.Unmarshal(e.Value(), &pe); err != nil {
			n.log.Warn("notify: bad escalation record dropped", "key", k, "err", err)
			_ = n.dedupe.kv.Delete(lctx, k, jetstream.LastRevision(e.Revision()))
			continue
		}
		r := n.route(pe.Route)
		if r == nil || r.cfg.EscalateAfter <= 0 {
			n.log.Warn("notify: escalation of a route no longer configured (or without escalation) dropped", "alarm", pe.Transition.Alarm.ID, "route", pe.Route)
			_ = n.dedupe.kv.Delete(lctx, k, jetstream.LastRevision(e.Revision()))
			continue
		}
		n.armLocal(k, pe, r)
	}
}

func (n *Notifier) route(name string) *route {
	for _, r := range n.routes {
		if r.cfg.Name == name {
			return r
		}
	}
	return nil
}

// runScans looks for other workers' escalations now and then until ctx ends (real
// time: it polls a remote resource; tests do not steer it).
func (n *Notifier) runScans(ctx context.Context) {
	n.scanEscalations(ctx) // at start: what a dead worker left
	t := time.NewTicker(escalationScanEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.scanEscalations(ctx)
		}
	}
}

func (n *Notifier) runEscalations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-n.escalations:
			err := n.escalate(ctx, e)
			switch {
			case err == nil:
				n.forgetEscalation(ctx, e)
			case errors.Is(err, errBusy):
				// Another worker is sending it; the next scan finds it sent.
			case ctx.Err() == nil:
				n.log.Error("notify: escalation not sent; retried at the next scan", "alarm", e.tr.Alarm.ID, "route", e.route.cfg.Name, "err", err)
			}
		}
	}
}

// forgetEscalation deletes the record of a handled escalation, unless a
// newer activation of the alarm has replaced it.
func (n *Notifier) forgetEscalation(ctx context.Context, e escalation) {
	if e.key == "" {
		return
	}
	ent, err := n.dedupe.kv.Get(ctx, e.key)
	if err != nil {
		return
	}
	var pe pendingEscalation
	if json.Unmarshal(ent.Value(), &pe) == nil && pe.Transition.ID != e.tr.ID {
		return
	}
	_ = n.dedupe.kv.Delete(ctx, e.key, jetstream.LastRevision(ent.Revision()))
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
