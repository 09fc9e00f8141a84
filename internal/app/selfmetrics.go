package app

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/linewatch/linewatch/store"
)

// selfMetricsEvery is how often the collector-health figures are written
// to InfluxDB for the Grafana collector dashboard.
const selfMetricsEvery = 10 * time.Second

// selfMetrics copies the process's own Prometheus figures into InfluxDB
// measurement collector_metrics, so plants without a Prometheus server
// still see collector health next to their data in Grafana.
func selfMetrics(site string, g prometheus.Gatherer, w *store.Writer) component {
	return component{name: "self-metrics", run: func(ctx context.Context) error {
		t := time.NewTicker(selfMetricsEvery)
		defer t.Stop()
		var lastSum, lastCount float64
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				mfs, err := g.Gather()
				if err != nil {
					continue
				}
				v := func(name string) float64 { return sumMetric(mfs, name) }
				sum, count := histogram(mfs, "linewatch_collector_read_duration_seconds")
				latency := 0.0
				if count > lastCount {
					latency = 1000 * (sum - lastSum) / (count - lastCount)
				}
				lastSum, lastCount = sum, count
				w.WritePoint(store.Point{
					Measurement: store.MeasurementMetrics,
					Tags:        []store.Tag{{Key: store.TagSite, Value: site}},
					Fields: []store.Field{
						{Key: store.FieldValuesRead, Value: int64(v("linewatch_collector_values_read_total"))},
						{Key: store.FieldBadValues, Value: int64(v("linewatch_collector_values_not_good_total"))},
						{Key: store.FieldReconnects, Value: int64(v("linewatch_collector_reconnects_total"))},
						{Key: store.FieldSkippedTicks, Value: int64(v("linewatch_collector_skipped_ticks_total"))},
						{Key: store.FieldReadLatencyMS, Value: latency},
						{Key: store.FieldSpoolBytes, Value: int64(v("linewatch_store_spool_bytes"))},
						{Key: store.FieldPublishErrors, Value: int64(v("linewatch_collector_nats_publish_errors_total"))},
					},
					Time: now.UTC(),
				})
			}
		}
	}}
}

func sumMetric(mfs []*dto.MetricFamily, name string) float64 {
	var s float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				s += m.Counter.GetValue()
			case m.Gauge != nil:
				s += m.Gauge.GetValue()
			}
		}
	}
	return s
}

func histogram(mfs []*dto.MetricFamily, name string) (sum, count float64) {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if h := m.Histogram; h != nil {
				sum += h.GetSampleSum()
				count += float64(h.GetSampleCount())
			}
		}
	}
	return sum, count
}
