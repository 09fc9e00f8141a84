package telemetry

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/internal/unencodable"
)

// metrics are the publisher's self-metrics. Their names keep the
// linewatch_collector_ prefix they had when the collector published
// itself: metric names are a contract (dashboards, alert rules,
// collector_metrics in InfluxDB).
type metrics struct {
	errors         prometheus.Counter
	publishFailing prometheus.Gauge
	dropped        prometheus.Counter
	spoolMessages  prometheus.Gauge
	spoolBytes     prometheus.Gauge
	spooled        prometheus.Counter
	spoolDropped   prometheus.Counter
	unencodable    *prometheus.CounterVec // sink=nats, reason (shared with the store)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "linewatch", "collector"
	m := &metrics{
		publishFailing: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_publish_failing", Help: "1 while telemetry publishes to JetStream fail (system alarm \"NATS publish failing\")."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_publish_errors_total", Help: "JetStream publishes that failed or timed out (each is retried)."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_dropped_total", Help: "Telemetry messages left out of NATS: dropped from a full spool, refused by JetStream ~30 times, or still spooled at shutdown (InfluxDB still has them)."}),
		spoolMessages: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_spool_messages", Help: "Telemetry messages held in memory until JetStream stores them (in flight included)."}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_spool_bytes", Help: "Approximate bytes of those messages (bounded by nats.spool_memory_mb)."}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_spooled_total", Help: "Telemetry messages that could not be published at once (a failed attempt, or queued behind their subject's earlier messages)."}),
		spoolDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "nats_spool_dropped_total", Help: "Oldest telemetry messages dropped from the full spool (also in nats_dropped_total)."}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.publishFailing, m.errors, m.dropped, m.spoolMessages, m.spoolBytes, m.spooled, m.spoolDropped} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	if m.unencodable, err = unencodable.Counter(reg); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
