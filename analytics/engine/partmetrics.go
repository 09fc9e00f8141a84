package engine

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// partitionMetrics are the per-line self-metrics of the live analytics.
type partitionMetrics struct {
	pending *prometheus.GaugeVec // line
	behind  *prometheus.GaugeVec // line
	held    *prometheus.GaugeVec // line
	// handled counts the messages analysed: its rate is the throughput.
	handled *prometheus.CounterVec // line
	// restarts counts the line consumers made again (lost, paused, stuck).
	restarts *prometheus.CounterVec // line
}

func newPartitionMetrics(reg prometheus.Registerer) (*partitionMetrics, error) {
	const ns, sub = "linewatch", "analytics"
	m := &partitionMetrics{
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "partition_pending_messages",
			Help: "TELEMETRY messages of the line not yet analysed by this worker (0 on lines it does not hold)."}, []string{"line"}),
		behind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "partition_lag_seconds",
			Help: "How long ago the telemetry the line's engine processes was stored (0 when caught up)."}, []string{"line"}),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "partition_held",
			Help: "1 while this worker holds the line's lease and analyses it."}, []string{"line"}),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_total",
			Help: "TELEMETRY messages this worker analysed, by line (rate() is the throughput)."}, []string{"line"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "consumer_restarts_total",
			Help: "Line consumers this worker made again from the checkpoint + 1 (gone, paused, unreachable or not delivering), by line."}, []string{"line"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.pending, m.behind, m.held, m.handled, m.restarts} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return m, errors.Join(errs...)
}

// observe sets the line's lag from its last handled message.
func (m *partitionMetrics) observe(line string, now time.Time, w *lagWatch, idle bool) {
	var behind time.Duration
	if !w.stored.IsZero() && (!idle || w.pending > 0) {
		behind = now.Sub(w.stored)
	}
	m.pending.WithLabelValues(line).Set(float64(w.pending))
	m.behind.WithLabelValues(line).Set(max(behind, 0).Seconds())
}

// release zeroes the line's series: the worker does not hold it (yet, or
// any more), so it has nothing pending and no lag of its own.
func (m *partitionMetrics) release(line string) {
	m.held.WithLabelValues(line).Set(0)
	m.pending.WithLabelValues(line).Set(0)
	m.behind.WithLabelValues(line).Set(0)
}
