package engine

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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
	// read by the Prometheus collectors (Live.Metrics) on another goroutine
	lagNs, pendingA, handled atomic.Int64
}

// seen records the last handled message's stream time and backlog.
func (w *lagWatch) seen(stored time.Time, pending uint64) {
	w.stored, w.pending = stored, pending
	w.pendingA.Store(int64(pending))
	w.handled.Add(1)
}

// Metrics are the live engine's Prometheus collectors: lag (seconds
// between a message's storage and its processing, 0 when caught up),
// messages pending and messages handled (its rate is the throughput).
func (l *Live) Metrics() []prometheus.Collector {
	w := &l.lag
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "linewatch_analytics_lag_seconds",
			Help: "How long ago the telemetry analytics is processing was stored (0 when caught up)."},
			func() float64 { return time.Duration(w.lagNs.Load()).Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "linewatch_analytics_pending_messages",
			Help: "Telemetry messages stored but not yet processed by analytics."},
			func() float64 { return float64(w.pendingA.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "linewatch_analytics_messages_total",
			Help: "Telemetry messages processed by analytics (rate() is the throughput)."},
			func() float64 { return float64(w.handled.Load()) }),
	}
}

// check evaluates the lag at now; idle: no message arrived in the last wait.
func (w *lagWatch) check(now time.Time, idle bool) {
	// Idle with nothing pending is caught up; idle with a backlog is
	// stuck, and the lag keeps growing.
	var lag time.Duration
	if !w.stored.IsZero() && (!idle || w.pending > 0) {
		lag = now.Sub(w.stored)
	}
	w.lagNs.Store(int64(max(lag, 0)))
	if w.report == nil || w.limit <= 0 {
		return
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
