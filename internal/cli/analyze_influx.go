package cli

import (
	"context"
	"errors"
	"iter"

	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/config"
)

// influxSamples streams an InfluxDB range in time order.
func influxSamples(ctx context.Context, cfg *config.Config, from, to string) (iter.Seq2[sample.Sample, error], func(), error) {
	return nil, nil, errors.New("replay from InfluxDB is not wired yet (tracked in issue #5); export a CSV and use --input")
}
