package unencodable

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Name is the metric's name.
const Name = "linewatch_values_unencodable_total"

// Sinks.
const (
	SinkInfluxDB = "influxdb"
	SinkNATS     = "nats"
)

// Counter registers the counter on reg, or returns the one already there.
// A nil reg gives an unregistered counter.
func Counter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: Name,
		Help: "Values a sink could not carry whole, by sink (influxdb, nats) and reason; each is kept with what could be encoded (docs/storage.md, docs/schemas.md).",
	}, []string{"sink", "reason"})
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}
