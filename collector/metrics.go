package collector

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collector's self-metrics (served by the lead on /metrics).
// The JetStream publisher's linewatch_collector_nats_* are in package
// telemetry.
type metrics struct {
	values      *prometheus.CounterVec   // line, machine
	bad         *prometheus.CounterVec   // line, machine, quality
	readLatency *prometheus.HistogramVec // line, machine
	readCalls   *prometheus.CounterVec   // line, machine
	skipped     *prometheus.CounterVec   // line, machine, group
	attempts    *prometheus.CounterVec   // endpoint, result
	reconnects  *prometheus.CounterVec   // endpoint
	connected   *prometheus.GaugeVec     // line, machine
	commLost    *prometheus.GaugeVec     // line, machine
	clockSteps  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "linewatch", "collector"
	m := &metrics{
		values: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "values_read_total", Help: "Values received from OPC UA servers (polls and subscriptions)."}, []string{"line", "machine"}),
		bad: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "values_not_good_total", Help: "Values received with a bad or uncertain status code (stored, not dropped)."}, []string{"line", "machine", "quality"}),
		readLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "read_duration_seconds", Help: "Duration of one poll group read (all chunks).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"line", "machine"}),
		readCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "read_requests_total", Help: "OPC UA Read requests sent (a poll is split into chunks of MaxNodesPerRead)."}, []string{"line", "machine"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "skipped_ticks_total", Help: "Poll ticks skipped because the previous read was still running."}, []string{"line", "machine", "group"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "session_attempts_total", Help: "OPC UA session attempts by result (ok, error)."}, []string{"endpoint", "result"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "reconnects_total", Help: "OPC UA sessions lost and re-established."}, []string{"endpoint"}),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "connected", Help: "1 while the machine's OPC UA session is up."}, []string{"line", "machine"}),
		commLost: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "comm_lost", Help: "1 while the system alarm \"OPC UA communication lost\" is raised for the machine (session down longer than collector.comm_loss_alarm_delay)."}, []string{"line", "machine"}),
		clockSteps: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "clock_steps_total", Help: "Steps of the wall clock (wall and monotonic elapsed time differ by more than 200 ms); poll schedules re-align."}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.values, m.bad, m.readLatency, m.readCalls, m.skipped, m.attempts, m.reconnects, m.connected, m.commLost, m.clockSteps} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
