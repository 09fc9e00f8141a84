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
			Name: "nats_dropped_total", Help: "Telemetry messages given up on NATS after retries or a full in-flight window (InfluxDB still has them)."}),
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.publishFailing, m.errors, m.dropped} {
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
