package unencodable

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// values gathers the counter's series as "sink/reason" → value.
func values(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != Name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["sink"]+"/"+l["reason"]] = m.GetCounter().GetValue()
		}
	}
	return out
}

// The store and the collector register the same counter on one registry:
// the second gets the first's, so both sinks count into one metric.
func TestCounterSharedOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := Counter(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Counter(reg)
	if err != nil {
		t.Fatal(err)
	}
	a.WithLabelValues(SinkInfluxDB, "time_out_of_range").Inc()
	b.WithLabelValues(SinkNATS, "text_too_long").Add(2)
	got := values(t, reg)
	if len(got) != 2 || got["influxdb/time_out_of_range"] != 1 || got["nats/text_too_long"] != 2 {
		t.Errorf("series %v, want influxdb/time_out_of_range 1 and nats/text_too_long 2", got)
	}
	// A collector of another type under the name is an error, not a panic.
	other := prometheus.NewRegistry()
	other.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: Name, Help: "x"}))
	if _, err := Counter(other); err == nil {
		t.Error("want an error for a clashing metric")
	}
}
