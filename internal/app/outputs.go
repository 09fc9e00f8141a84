package app

import (
	"context"

	"github.com/linewatch/linewatch/collector"
	"github.com/linewatch/linewatch/sample"
)

// fanout hands every read and status change of the collector to each of
// its outputs in turn: the InfluxDB writer (the record) first, then the
// JetStream publisher (package telemetry). The collector sees one Output
// and knows neither (Prometheus' storage.NewFanout, Telegraf's
// accumulator). Outputs return no error and bound their own waiting (the
// writer never waits, the publisher at most about a second when its
// in-flight window stays full), so a failing one does not stop the
// others.
type fanout []collector.Output

func (f fanout) Read(ctx context.Context, r *sample.Read) {
	for _, o := range f {
		o.Read(ctx, r)
	}
}

func (f fanout) Status(ctx context.Context, st sample.MachineStatus) {
	for _, o := range f {
		o.Status(ctx, st)
	}
}
