package reports

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/config"
)

// Influx reads telemetry and batch events with InfluxQL over the v1
// /query endpoint (InfluxDB 1.8, 2.x with DBRP, 3.x). InfluxQL, not Flux:
// it measured about 20× faster on 1.8 (docs/reports.md, performance), and
// the CSV response is decoded row by row from chunked responses, so memory
// stays bounded whatever the batch size.
type Influx struct {
	URL      string
	Database string
	RP       string
	// Token: "user:password" (1.x basic auth) or a 2.x token.
	Token     string
	Client    *http.Client
	ChunkSize int
	// Window is the time span read per query (default 10 min).
	Window time.Duration
}

// NewInflux builds the reader from the config.
func NewInflux(cfg config.InfluxDB) (*Influx, error) {
	if cfg.URL == "" {
		return nil, errors.New("influxdb.url is empty: reports read an existing InfluxDB; set influxdb.url to the InfluxDB linewatch writes to")
	}
	db, rp := cfg.Database, cfg.RetentionPolicy
	if cfg.Bucket != "" {
		db, rp, _ = strings.Cut(cfg.Bucket, "/")
	}
	tok, err := cfg.Token().Resolve()
	if err != nil {
		return nil, fmt.Errorf("influxdb token: %w", err)
	}
	return &Influx{URL: strings.TrimRight(cfg.URL, "/"), Database: db, RP: rp, Token: tok}, nil
}

// quoteString quotes an InfluxQL string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (c *Influx) from(measurement string) string {
	if c.RP != "" {
		return strconv.Quote(c.RP) + "." + strconv.Quote(measurement)
	}
	return strconv.Quote(measurement)
}

// query runs q and calls row for every data row with the column index of
// each column name. The response is CSV (Accept: application/csv), chunked.
func (c *Influx) query(ctx context.Context, q string, row func(col map[string]int, rec []string) error) error {
	form := url.Values{"q": {q}, "db": {c.Database}, "epoch": {"ns"}, "chunked": {"true"}}
	if c.RP != "" {
		form.Set("rp", c.RP)
	}
	form.Set("chunk_size", strconv.Itoa(max(c.ChunkSize, 20000)))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("InfluxDB query: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/csv")
	if u, p, ok := strings.Cut(c.Token, ":"); ok {
		req.SetBasicAuth(u, p)
	} else if c.Token != "" {
		req.Header.Set("Authorization", "Token "+c.Token)
	}
	hc := c.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("InfluxDB query at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("InfluxDB query at %s: %s: %s", c.URL, resp.Status, strings.TrimSpace(string(body)))
	}
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	var col map[string]int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("InfluxDB query response: %w", err)
		}
		if len(rec) >= 2 && rec[0] == "name" && rec[1] == "tags" {
			col = make(map[string]int, len(rec))
			for i, n := range rec {
				col[n] = i
			}
			continue
		}
		if len(rec) == 1 && strings.Contains(rec[0], "error") {
			return fmt.Errorf("InfluxDB query: %s", rec[0])
		}
		if col == nil {
			continue
		}
		if i, ok := col["error"]; ok && i < len(rec) && rec[i] != "" {
			return fmt.Errorf("InfluxDB query: %s", rec[i])
		}
		if err := row(col, rec); err != nil {
			return err
		}
	}
}

func field(col map[string]int, rec []string, name string) string {
	if i, ok := col[name]; ok && i < len(rec) {
		return rec[i]
	}
	return ""
}

// Samples implements SampleSource. The range is read in windows of
// Window (default 10 min), up to two queried concurrently ahead of the
// consumer (InfluxDB answers one query on one core). Each window is grouped
// by series (cheap for InfluxDB: tags once per series, not per row) and
// merged into time order in memory, so memory is bounded by two windows,
// not by the batch. Unit and batch tags are not read: the report takes
// units from the config and stamps the batch itself.
func (c *Influx) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		win := c.Window
		if win <= 0 {
			win = 10 * time.Minute
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var sizeHint atomic.Int64 // samples in the last window: preallocate the next
		type result struct {
			samples []sample.Sample
			err     error
		}
		// futures carries, in window order, the channel each window's
		// result arrives on; its capacity bounds the windows in flight.
		futures := make(chan chan result, 2)
		go func() {
			defer close(futures)
			for from := q.From; !from.After(q.To); from = from.Add(win) {
				to, last := from.Add(win), false
				if !to.Before(q.To) {
					to, last = q.To, true
				}
				ch := make(chan result, 1)
				select {
				case futures <- ch:
				case <-ctx.Done():
					return
				}
				go func(from, to time.Time, last bool) {
					ss, err := c.window(ctx, q, from, to, last, int(sizeHint.Load()))
					sizeHint.Store(int64(len(ss)))
					ch <- result{ss, err}
				}(from, to, last)
				if last {
					return
				}
			}
		}()
		defer func() {
			cancel()
			for ch := range futures { // let every started query finish
				<-ch
			}
		}()
		for ch := range futures {
			res := <-ch
			if res.err != nil {
				yield(sample.Sample{}, res.err)
				return
			}
			for _, s := range res.samples {
				if !yield(s, nil) {
					return
				}
			}
		}
	}
}

// window reads [from, to) (or [from, to] for the last window) in time order.
func (c *Influx) window(ctx context.Context, q SampleQuery, from, to time.Time, last bool, hint int) ([]sample.Sample, error) {
	op := "<"
	if last {
		op = "<="
	}
	stmt := fmt.Sprintf(`SELECT "value","quality","text" FROM %s WHERE "site"=%s AND "line"=%s AND time >= %d AND time %s %d GROUP BY "machine","tag_name"`,
		c.from("telemetry"), quoteString(q.Site), quoteString(q.Line), from.UnixNano(), op, to.UnixNano())
	type series struct{ machine, tag string }
	seriesOf := map[string]series{}
	out := make([]sample.Sample, 0, hint+hint/8)
	err := c.query(ctx, stmt, func(col map[string]int, rec []string) error {
		tags := field(col, rec, "tags")
		sr, ok := seriesOf[tags]
		if !ok {
			// "machine=m0,tag_name=t0": both are config ids without ',' or '='.
			m, t, _ := strings.Cut(tags, ",tag_name=")
			sr = series{strings.TrimPrefix(m, "machine="), t}
			seriesOf[strings.Clone(tags)] = sr
		}
		ns, err := strconv.ParseInt(field(col, rec, "time"), 10, 64)
		if err != nil {
			return fmt.Errorf("InfluxDB telemetry row: time %q: %w", field(col, rec, "time"), err)
		}
		s := sample.Sample{Time: time.Unix(0, ns).UTC(), Site: q.Site, Line: q.Line, Machine: sr.machine, Tag: sr.tag}
		if v := field(col, rec, "value"); v != "" {
			if s.Value, err = strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("InfluxDB telemetry row %s: value %q: %w", s.Key(), v, err)
			}
		}
		if v := field(col, rec, "quality"); v != "" {
			st, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("InfluxDB telemetry row %s: quality %q: %w", s.Key(), v, err)
			}
			s.Status = uint32(st)
		}
		if t := field(col, rec, "text"); t != "" {
			s.Text = strings.Clone(t)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Series come one after another; the engine needs all tags of the line
	// in time order (p-chart counters, multivariate models). Stable: equal
	// timestamps keep series order.
	slices.SortStableFunc(out, func(a, b sample.Sample) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Batches implements BatchSource: start and end events of the batches
// measurement paired per line and batch id, oldest first. line "" lists
// every line of the site.
func (c *Influx) Batches(ctx context.Context, site, line string, since time.Time) ([]BatchRecord, error) {
	where := `"site"=` + quoteString(site)
	if line != "" {
		where += ` AND "line"=` + quoteString(line)
	}
	if !since.IsZero() {
		where += fmt.Sprintf(" AND time >= %d", since.UnixNano())
	}
	stmt := fmt.Sprintf(`SELECT "batch","event","product","line" FROM %s WHERE %s`, c.from("batches"), where)
	byKey := map[string]*BatchRecord{}
	var order []string
	err := c.query(ctx, stmt, func(col map[string]int, rec []string) error {
		ns, err := strconv.ParseInt(field(col, rec, "time"), 10, 64)
		if err != nil {
			return fmt.Errorf("InfluxDB batches row: time: %w", err)
		}
		t := time.Unix(0, ns).UTC()
		id, ln := field(col, rec, "batch"), field(col, rec, "line")
		if id == "" {
			return nil
		}
		k := ln + "\x00" + id
		b := byKey[k]
		if b == nil {
			b = &BatchRecord{ID: id, Site: site, Line: ln}
			byKey[k] = b
			order = append(order, k)
		}
		if p := field(col, rec, "product"); p != "" {
			b.Product = p
		}
		switch field(col, rec, "event") {
		case "start":
			if b.Start.IsZero() || t.Before(b.Start) {
				b.Start = t
			}
		case "end":
			if t.After(b.End) {
				b.End = t
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]BatchRecord, 0, len(order))
	for _, k := range order {
		b := *byKey[k]
		if b.Start.IsZero() {
			continue // end seen without its start (older than since)
		}
		out = append(out, b)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
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
		if b.ID == id {
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
