package reports

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

// minChunkSize is the smallest chunk asked of InfluxDB: fewer, larger
// chunks cost the server less for the millions of rows of a batch.
const minChunkSize = 20_000

// Influx reads telemetry and batch events from InfluxDB through
// store.Client: InfluxQL over the v1 /query endpoint (InfluxDB 1.8, 2.x
// with DBRP, 3.x). InfluxQL, not Flux: it measured about 20× faster on 1.8
// (docs/reports.md, performance). Samples are read in windows, streamed
// from chunked responses, so memory stays bounded whatever the batch size.
//
// NewInflux builds it from the config (token and TLS as for the writer).
// A literal Influx{URL: …, Database: …} also works: the fields are read
// at the first query.
type Influx struct {
	URL      string
	Database string
	RP       string
	// Token: "user:password" (1.x basic auth) or a 2.x token.
	Token string
	// Client replaces the HTTP client built from the config.
	Client    *http.Client
	ChunkSize int
	// Window is the time span read per query (default 10 min).
	Window time.Duration

	once sync.Once
	sc   *store.Client
	err  error
}

// NewInflux builds the reader from the config.
func NewInflux(cfg config.InfluxDB) (*Influx, error) {
	if cfg.URL == "" {
		return nil, errors.New("influxdb.url is empty: reports read an existing InfluxDB; set influxdb.url to the InfluxDB linewatch writes to")
	}
	sc, err := store.NewClient(cfg, store.ClientOptions{ChunkSize: minChunkSize})
	if err != nil {
		return nil, err
	}
	db, rp := cfg.Database, cfg.RetentionPolicy
	if cfg.Bucket != "" {
		db, rp, _ = strings.Cut(cfg.Bucket, "/")
	}
	return &Influx{URL: strings.TrimRight(cfg.URL, "/"), Database: db, RP: rp, sc: sc}, nil
}

// client returns the store client, built from the fields on first use
// when the Influx was not made by NewInflux.
func (c *Influx) client() (*store.Client, error) {
	c.once.Do(func() {
		if c.sc != nil {
			return // made by NewInflux, from the whole config (TLS included)
		}
		if c.URL == "" {
			c.err = errors.New("reports.Influx: URL is empty: set it to the InfluxDB linewatch writes to")
			return
		}
		c.sc, c.err = store.NewClient(config.InfluxDB{URL: c.URL, Database: c.Database, RetentionPolicy: c.RP},
			store.ClientOptions{ChunkSize: max(c.ChunkSize, minChunkSize), Token: c.Token, HTTPClient: c.Client})
	})
	return c.sc, c.err
}

// Samples implements SampleSource with store.Client.Samples: the range
// is read in windows of Window (default 10 min), up to two queried
// concurrently ahead of the consumer (InfluxDB answers one query on one
// core), each merged into time order, so memory is bounded by a few
// windows, not by the batch. Unit and batch are not read (ValuesOnly): the
// report takes units from the config and stamps the batch itself.
func (c *Influx) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		if q.To.Before(q.From) {
			return
		}
		sc, err := c.client()
		if err != nil {
			yield(sample.Sample{}, err)
			return
		}
		// SampleQuery includes To; store's range excludes it.
		sq := store.SampleQuery{Site: q.Site, Line: q.Line, From: q.From, To: q.To.Add(time.Nanosecond), ValuesOnly: true, Window: c.Window}
		for s, err := range sc.Samples(ctx, sq) {
			if !yield(s, err) || err != nil {
				return
			}
		}
	}
}

// Batches implements BatchSource with store.Client.Batches, which owns
// the batches measurement's schema.
func (c *Influx) Batches(ctx context.Context, site, line string, since time.Time) ([]BatchRecord, error) {
	sc, err := c.client()
	if err != nil {
		return nil, err
	}
	bs, err := sc.Batches(ctx, site, line, since)
	if err != nil {
		return nil, err
	}
	out := make([]BatchRecord, len(bs))
	for i, b := range bs {
		out[i] = BatchRecord(b)
	}
	return out, nil
}

// FindBatch returns the batch with id (on line, or on any line when line
// is "").
func FindBatch(ctx context.Context, src BatchSource, site, line, id string) (BatchRecord, error) {
	all, err := src.Batches(ctx, site, line, time.Time{})
	if err != nil {
		return BatchRecord{}, err
	}
	var found []BatchRecord
	for _, b := range all {
		// An id with control characters is listed percent-encoded
		// (`linewatch batches list`): that form finds it too.
		if b.ID == id || sample.Escape(b.ID) == id {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 0:
		return BatchRecord{}, fmt.Errorf("batch %q not found in InfluxDB measurement batches of site %s: run `linewatch batches list` to see the recorded batches", id, site)
	case 1:
		return found[0], nil
	default:
		return BatchRecord{}, fmt.Errorf("batch id %q exists on %d lines: pass --line", id, len(found))
	}
}
