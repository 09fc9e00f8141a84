package engine

import (
	"fmt"
	"time"

	"github.com/linewatch/linewatch/health"
)

// lagWatch raises health.AnalyticsLag while the live engine processes
// telemetry stored more than limit ago, and clears it once it is within
// half the limit again (or idle with nothing pending): hysteresis, so a
// lag hovering at the limit raises one alarm, not a chatter.
type lagWatch struct {
	limit  time.Duration
	report func(health.Condition)
	known  bool
	raised bool
	// of the last message handled
	stored  time.Time
	pending uint64
}

// seen records the last handled message's stream time and backlog.
func (w *lagWatch) seen(stored time.Time, pending uint64) {
	w.stored, w.pending = stored, pending
}

// check evaluates the lag at now; idle: no message arrived in the last wait.
func (w *lagWatch) check(now time.Time, idle bool) {
	if w.report == nil || w.limit <= 0 {
		return
	}
	// Idle with nothing pending is caught up; idle with a backlog is
	// stuck, and the lag keeps growing.
	var lag time.Duration
	if !w.stored.IsZero() && (!idle || w.pending > 0) {
		lag = now.Sub(w.stored)
	}
	raise := lag > w.limit
	clear := lag <= w.limit/2
	switch {
	case raise && (!w.raised || !w.known):
		w.raised, w.known = true, true
		w.report(health.Condition{Source: health.SourceAnalytics, Name: health.AnalyticsLag, Active: true, Priority: health.Medium,
			Reason: fmt.Sprintf("processing telemetry stored %s ago (analytics.lag_alarm %s), %d messages pending", lag.Round(time.Second), w.limit, w.pending),
			Since:  now})
	case clear && (w.raised || !w.known):
		w.raised, w.known = false, true
		w.report(health.Condition{Source: health.SourceAnalytics, Name: health.AnalyticsLag, Since: now})
	}
}

// clear withdraws the lag when the line stops on this worker (lease lost
// or released): its new owner reports its own.
func (w *lagWatch) clear(now time.Time) {
	if w.report != nil && w.raised {
		w.raised = false
		w.report(health.Condition{Source: health.SourceAnalytics, Name: health.AnalyticsLag, Since: now})
	}
}
