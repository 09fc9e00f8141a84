package collector

import (
	"context"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/health"
)

// watchComm raises health.CommLost for every machine of a session once it
// has been down (or never up) for collector.comm_loss_alarm_delay, and
// clears it when the session is up again. The delay runs on the
// collector's clock. A session that comes up reports "clear" the first
// time too, so an alarm left active by a previous process is cleared.
func (c *Collector) watchComm(ctx context.Context, ec *endpointConn) {
	delay := c.cfg.Collector.CommLossAlarmDelay
	raised, reported := false, false
	for {
		c.mu.Lock()
		up, reason, changed, downSince := ec.up, ec.reason, ec.changed, ec.downAt
		c.mu.Unlock()
		switch {
		case up && (raised || !reported):
			c.reportComm(ec, false, "", c.clk.Now())
			raised, reported = false, true
		case !up && !raised && !downSince.IsZero():
			// Armed from the first failed attempt or the loss of the
			// session (a first dial is bounded by request_timeout), so
			// no timer waits while a session is being set up.
			due := downSince.Add(delay)
			fire, stop := c.clk.After(due.Sub(c.clk.Now()))
			select {
			case <-ctx.Done():
				stop()
				return
			case <-changed:
				stop()
				continue
			case <-fire:
			}
			if reason == "" {
				reason = "no session yet"
			}
			c.reportComm(ec, true, fmt.Sprintf("%s: down since %s: %s", ec.conn.Endpoint(), downSince.UTC().Format(time.RFC3339), reason), due)
			raised, reported = true, true
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
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
