package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Batch is one batch of one line as the batches measurement records it:
// its start and end events paired.
type Batch struct {
	ID      string
	Site    string
	Line    string
	Product string
	Start   time.Time
	End     time.Time // zero while the batch runs
}

// Batches returns the batches of site (of line, or of every line when
// line is "") that started at or after since (zero: all), paired from the
// start and end events of measurement batches, oldest first. An end seen
// without its start (older than since) is left out.
func (c *Client) Batches(ctx context.Context, site, line string, since time.Time) ([]Batch, error) {
	where := QuoteIdent(TagSite) + " = " + QuoteString(site)
	if line != "" {
		where += " AND " + QuoteIdent(TagLine) + " = " + QuoteString(line)
	}
	if !since.IsZero() {
		where += fmt.Sprintf(" AND time >= %d", since.UnixNano())
	}
	stmt := fmt.Sprintf(`SELECT %s,%s,%s,%s,%s,%s FROM %s WHERE %s`,
		QuoteIdent(FieldBatch), QuoteIdent(FieldEvent), QuoteIdent(FieldProduct),
		QuoteIdent(TagLine), QuoteIdent(FieldBatch+PctSuffix), QuoteIdent(FieldProduct+PctSuffix),
		QuoteIdent(MeasurementBatches), where)
	byKey := map[string]*Batch{}
	var order []string
	err := c.QueryEach(ctx, c.Database(), stmt, func(s Series) error {
		col := map[string]int{}
		for i, n := range s.Columns {
			col[n] = i
		}
		for _, row := range s.Values {
			tv, _ := cell(row, col, "time").(json.Number)
			ns, err := tv.Int64()
			if err != nil {
				return fmt.Errorf("InfluxDB batches row %v: time: %w", row, err)
			}
			t := time.Unix(0, ns).UTC()
			id, _ := cell(row, col, FieldBatch).(string)
			idPct, _ := cell(row, col, FieldBatch+PctSuffix).(string)
			id = TextField(id, idPct) // an id that is not UTF-8 is stored percent-encoded
			ln, _ := cell(row, col, TagLine).(string)
			if id == "" {
				continue
			}
			k := ln + "\x00" + id
			b := byKey[k]
			if b == nil {
				b = &Batch{ID: id, Site: site, Line: ln}
				byKey[k] = b
				order = append(order, k)
			}
			p, _ := cell(row, col, FieldProduct).(string)
			pPct, _ := cell(row, col, FieldProduct+PctSuffix).(string)
			if p = TextField(p, pPct); p != "" {
				b.Product = p
			}
			ev, _ := cell(row, col, FieldEvent).(string)
			switch ev {
			case "start":
				if b.Start.IsZero() || t.Before(b.Start) {
					b.Start = t
				}
			case "end":
				if t.After(b.End) {
					b.End = t
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("batches of site %s: %w", site, err)
	}
	out := make([]Batch, 0, len(order))
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

// cell is the value of column name in row, nil when absent or null.
func cell(row []any, col map[string]int, name string) any {
	if i, ok := col[name]; ok && i < len(row) {
		return row[i]
	}
	return nil
}
