package cli

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

// influxSamples streams an InfluxDB range in time order (chunked InfluxQL,
// bounded memory) for `analyze replay --from/--to`; with key
// (line, machine, tag) only that tag's.
func influxSamples(ctx context.Context, cfg *config.Config, from, to string, key ...string) (iter.Seq2[sample.Sample, error], func(), error) {
	if cfg.InfluxDB.URL == "" {
		return nil, nil, fmt.Errorf("influxdb.url is empty in the config: replay needs the InfluxDB that holds the data")
	}
	f, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return nil, nil, fmt.Errorf("--from %q: want an RFC 3339 time, e.g. 2026-11-23T06:00:00Z", from)
	}
	t := time.Now().UTC()
	if to != "" {
		if t, err = time.Parse(time.RFC3339, to); err != nil {
			return nil, nil, fmt.Errorf("--to %q: want an RFC 3339 time", to)
		}
	}
	if !t.After(f) {
		return nil, nil, fmt.Errorf("--to %s is not after --from %s", t.Format(time.RFC3339), f.Format(time.RFC3339))
	}
	c, err := store.NewClient(cfg.InfluxDB, store.ClientOptions{})
	if err != nil {
		return nil, nil, err
	}
	q := store.SampleQuery{Site: cfg.Site, From: f.UTC(), To: t.UTC()}
	if len(key) == 3 {
		q.Line, q.Machine, q.Tags = key[0], key[1], []string{key[2]}
	}
	return c.Samples(ctx, q), c.Close, nil
}
