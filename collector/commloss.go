package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/display/text"
)

// flapLosses is how many session losses without the session staying up
// for comm_loss_alarm_delay in between raise "OPC UA communication lost"
// even though no single loss lasted the delay: a connection that drops
// every few seconds loses most reads and must not stay silent.
const flapLosses = 3

// watchComm raises health.CommLost for every machine of a session once it
// has been down (or never up) for collector.comm_loss_alarm_delay, or has
// been lost flapLosses times without staying up for that delay in between,
// and clears it once the session has stayed up for the delay (so a
// flapping session is not reported restored at each reconnect). Times run
// on the collector's clock. A session that comes up reports "clear" the
// first time at once, so an alarm left active by a previous process is
// cleared.
func (c *Collector) watchComm(ctx context.Context, ec *endpointConn) {
	loc, _ := c.cfg.Location() // validated by config.Load
	w := commWatch{hold: c.cfg.Collector.CommLossAlarmDelay, endpoint: ec.conn.Endpoint(), loc: loc}
	for {
		c.mu.Lock()
		v := commView{up: ec.up, reason: ec.reason, downAt: ec.downAt, upAt: ec.upAt, flaps: ec.flaps}
		changed := ec.changed
		c.mu.Unlock()
		rep, wake := w.step(c.clk.Now(), v)
		if rep != nil {
			c.reportComm(ec, rep.active, rep.reason, rep.at)
		}
		var fire <-chan time.Time
		stop := func() {}
		if !wake.IsZero() {
			fire, stop = c.clk.After(wake.Sub(c.clk.Now()))
		}
		select {
		case <-ctx.Done():
			stop()
			return
		case <-changed:
		case <-fire:
		}
		stop()
	}
}

// commView is the session state the watcher reads.
type commView struct {
	up           bool
	reason       string
	downAt, upAt time.Time
	flaps        flapCount
}

// flapCount counts a session's losses since it last stayed up for
// comm_loss_alarm_delay; the first of them was at since.
type flapCount struct {
	n     int
	since time.Time
}

// lost counts a loss at at of a session that came up at upAt.
func (f *flapCount) lost(upAt, at time.Time, hold time.Duration) {
	if at.Sub(upAt) >= hold {
		f.n = 0
	}
	if f.n++; f.n == 1 {
		f.since = at
	}
}

type commReport struct {
	active bool
	reason string
	at     time.Time
}

// commWatch decides the comm-loss alarm of one session from what it sees
// at each change of the session and at the times it asks to look again.
type commWatch struct {
	hold     time.Duration // collector.comm_loss_alarm_delay
	endpoint string
	loc      *time.Location // site zone, for the reason text

	raised, reported bool
}

// step returns the report to make now (nil: none) and when to look again
// without a change (zero: only at a change).
func (w *commWatch) step(now time.Time, v commView) (*commReport, time.Time) {
	if v.up {
		switch {
		case !w.reported:
			// First session: clear at once what a previous process left.
			w.reported = true
			return &commReport{active: false, at: now}, time.Time{}
		case !w.raised:
			// No timer while all is well: the poller's tick is then the
			// only one armed.
			return nil, time.Time{}
		case now.Sub(v.upAt) >= w.hold:
			w.raised = false
			return &commReport{active: false, at: now}, time.Time{}
		}
		return nil, v.upAt.Add(w.hold)
	}
	if v.downAt.IsZero() || w.raised {
		return nil, time.Time{}
	}
	reason := v.reason
	if reason == "" {
		reason = "no session yet"
	}
	if v.flaps.n >= flapLosses {
		w.raised, w.reported = true, true
		return &commReport{active: true, at: now, reason: fmt.Sprintf("%s: session lost %d times since %s without staying up for %s: %s",
			w.endpoint, v.flaps.n, text.Time(v.flaps.since, w.loc), w.hold, reason)}, time.Time{}
	}
	due := v.downAt.Add(w.hold)
	if now.Before(due) {
		return nil, due
	}
	w.raised, w.reported = true, true
	return &commReport{active: true, at: due, reason: fmt.Sprintf("%s: down since %s: %s",
		w.endpoint, text.Time(v.downAt, w.loc), reason)}, time.Time{}
}

func (c *Collector) reportComm(ec *endpointConn, active bool, reason string, at time.Time) {
	for _, mr := range ec.machines {
		c.met.commLost.WithLabelValues(mr.line.ID, mr.m.ID).Set(b2f(active))
		if c.opts.Health == nil {
			continue
		}
		c.opts.Health(health.Condition{
			Source: health.SourceCollector, Name: health.CommLost, Line: mr.line.ID, Machine: mr.m.ID,
			Active: active, Priority: health.High, Reason: reason, Since: at,
		})
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
