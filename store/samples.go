package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/linewatch/linewatch/sample"
)

// SampleQuery selects telemetry. Empty Site, Line or Machine match any;
// empty Tags match every tag. The range is [From, To).
type SampleQuery struct {
	Site, Line, Machine string
	Tags                []string
	Batch               string // optional: only samples of this batch
	From, To            time.Time

	// ValuesOnly leaves Unit and Batch out of the read (Batch is still
	// the query's): the batch report takes units from the config and
	// stamps the batch itself, and every CSV row is shorter.
	ValuesOnly bool
	// Window is the time span read per query (default 10 min).
	Window time.Duration
	// Ahead is the number of windows queried concurrently ahead of the
	// consumer (default 2: InfluxDB answers one query on one core).
	Ahead int
}

// writeWhere writes the conditions of q for the time range [from, to).
func (q SampleQuery) writeWhere(b *strings.Builder, from, to time.Time) {
	fmt.Fprintf(b, "time >= %d AND time < %d", from.UnixNano(), to.UnixNano())
	batch := q.Batch
	if batch != "" {
		batch = BatchTag(batch)
	}
	for _, c := range []struct{ k, v string }{{TagSite, q.Site}, {TagLine, q.Line}, {TagMachine, q.Machine}, {TagBatch, batch}} {
		if c.v != "" {
			fmt.Fprintf(b, " AND %s = %s", QuoteIdent(c.k), QuoteString(c.v))
		}
	}
	if len(q.Tags) > 0 {
		b.WriteString(" AND (")
		for i, t := range q.Tags {
			if i > 0 {
				b.WriteString(" OR ")
			}
			fmt.Fprintf(b, "%s = %s", QuoteIdent(TagName), QuoteString(t))
		}
		b.WriteString(")")
	}
}

// Samples streams the samples of q in time order: the one reader of
// measurement telemetry (replay, analysis, reports, tests). [From, To) is
// read in windows of q.Window, each grouped by series (about half the
// server time of selecting the tags as columns) and decoded from CSV (no
// allocation per value but the text of string tags), then merged into
// time order in memory. Memory is bounded by q.Ahead+1 windows, not by
// the range. Equal timestamps keep series order. Stop the iteration early
// to cancel the queries in flight.
func (c *Client) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		if !q.From.Before(q.To) {
			yield(sample.Sample{}, fmt.Errorf("sample query: from %s is not before to %s", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano)))
			return
		}
		win, ahead := q.Window, q.Ahead
		if win <= 0 {
			win = 10 * time.Minute
		}
		if ahead <= 0 {
			ahead = 2
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
		futures := make(chan chan result, ahead)
		var skipTo atomic.Int64 // ns: no sample of q before it (found after an empty window)
		go func() {
			defer close(futures)
			for from := q.From; from.Before(q.To); {
				// Jump a gap an empty window found instead of querying it
				// window by window (a range of years around a day of data).
				if ns := skipTo.Load(); ns > from.UnixNano() {
					if from = time.Unix(0, ns).UTC(); !from.Before(q.To) {
						return
					}
				}
				to := from.Add(win)
				if to.After(q.To) {
					to = q.To
				}
				ch := make(chan result, 1)
				select {
				case futures <- ch:
				case <-ctx.Done():
					return
				}
				go func(from, to time.Time) { // from changes below
					ss, err := c.sampleWindow(ctx, q, from, to, int(sizeHint.Load()))
					sizeHint.Store(int64(len(ss)))
					if err == nil && len(ss) == 0 && to.Before(q.To) {
						var next time.Time
						if next, err = c.nextSampleTime(ctx, q, to); err == nil {
							for cur := skipTo.Load(); next.UnixNano() > cur && !skipTo.CompareAndSwap(cur, next.UnixNano()); cur = skipTo.Load() {
							}
						}
					}
					ch <- result{ss, err}
				}(from, to)
				from = to
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

// nextSampleTime is the time of the first sample of q at or after from
// (q.To when there is none).
func (c *Client) nextSampleTime(ctx context.Context, q SampleQuery, from time.Time) (time.Time, error) {
	var b strings.Builder
	b.WriteString("SELECT first(" + QuoteIdent(FieldQuality) + ") FROM " + QuoteIdent(MeasurementTelemetry) + " WHERE ")
	q.writeWhere(&b, from, q.To)
	res, err := c.QueryInfluxQL(ctx, c.ep.db, b.String())
	if err != nil {
		return time.Time{}, err
	}
	for _, sr := range res.Series {
		for _, row := range sr.Values {
			if len(row) == 0 {
				continue
			}
			n, _ := row[0].(json.Number)
			ns, err := n.Int64()
			if err != nil {
				return time.Time{}, fmt.Errorf("telemetry: first sample after %s: time %v: %w", from.Format(time.RFC3339Nano), row[0], err)
			}
			return time.Unix(0, ns).UTC(), nil
		}
	}
	return q.To, nil
}

// sampleWindow reads [from, to) of q in time order.
func (c *Client) sampleWindow(ctx context.Context, q SampleQuery, from, to time.Time, hint int) ([]sample.Sample, error) {
	// The batch of each row is read only when the query leaves it open.
	readBatch := !q.ValuesOnly && q.Batch == ""
	fields := []string{FieldValue, FieldQuality, FieldText, FieldText + PctSuffix, FieldNonFinite}
	if readBatch {
		fields = append(fields, FieldBatchRaw, FieldBatchRaw+PctSuffix)
	}
	for i, f := range fields {
		fields[i] = QuoteIdent(f)
	}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(fields, ",") + " FROM " + QuoteIdent(MeasurementTelemetry) + " WHERE ")
	q.writeWhere(&b, from, to)
	// Group only by the tags the query leaves open: fewer series for
	// InfluxDB and a shorter tags column per row.
	group := []string{QuoteIdent(TagMachine), QuoteIdent(TagName)}
	if q.Line == "" {
		group = append(group, QuoteIdent(TagLine))
	}
	if q.Site == "" {
		group = append(group, QuoteIdent(TagSite))
	}
	if !q.ValuesOnly {
		group = append(group, QuoteIdent(TagUnit))
	}
	if readBatch {
		group = append(group, QuoteIdent(TagBatch))
	}
	b.WriteString(" GROUP BY " + strings.Join(group, ","))
	stmt := b.String()

	type series struct{ site, line, machine, tag, unit, batch string }
	seriesOf := map[string]series{}
	out := make([]sample.Sample, 0, hint+hint/8)
	var ix columnIndex
	err := c.streamCSV(ctx, c.ep.db, stmt, func(cols []string) error {
		var err error
		if ix, err = sampleColumns(cols); err != nil || ix.tags < 0 {
			return fmt.Errorf("InfluxQL %q: CSV header %v has no time or tags column", short(stmt), cols)
		}
		return nil
	}, func(rec []string) error {
		tags := at(rec, ix.tags)
		sr, ok := seriesOf[tags]
		if !ok {
			kv, err := parseTagsColumn(tags)
			if err != nil {
				return fmt.Errorf("InfluxQL %q: %w", short(stmt), err)
			}
			sr = series{cmp.Or(q.Site, kv[TagSite]), cmp.Or(q.Line, kv[TagLine]), kv[TagMachine], kv[TagName], kv[TagUnit], kv[TagBatch]}
			seriesOf[strings.Clone(tags)] = sr
		}
		ns, err := strconv.ParseInt(at(rec, ix.time), 10, 64)
		if err != nil {
			return fmt.Errorf("telemetry row of %s/%s/%s/%s: time %q: %w", sr.site, sr.line, sr.machine, sr.tag, at(rec, ix.time), err)
		}
		s := sample.Sample{Time: time.Unix(0, ns).UTC(), Site: sr.site, Line: sr.line, Machine: sr.machine, Tag: sr.tag, Unit: sr.unit, Batch: q.Batch}
		if readBatch {
			s.Batch = batchID(sr.batch, at(rec, ix.batchRaw), at(rec, ix.batchRawPct))
		}
		if v := at(rec, ix.value); v != "" {
			if s.Value, err = strconv.ParseFloat(v, 64); err != nil {
				return fmt.Errorf("telemetry row %s: value %q: %w", s.Key(), v, err)
			}
		}
		if v := at(rec, ix.quality); v != "" {
			st, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("telemetry row %s: quality %q is not an OPC UA status code: %w", s.Key(), v, err)
			}
			s.Status = uint32(st)
		}
		if t := at(rec, ix.text); t != "" {
			s.Text = strings.Clone(t) // rec is reused
		}
		outsideText(&s, at(rec, ix.value) != "", at(rec, ix.textPct), at(rec, ix.nonFinite))
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Series come one after another; consumers need all tags in time order.
	slices.SortStableFunc(out, func(a, b sample.Sample) int { return a.Time.Compare(b.Time) })
	return out, nil
}
