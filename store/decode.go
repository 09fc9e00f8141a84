package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/sample"
)

// columnIndex is where each telemetry column is in a result; tags is the
// CSV format's column of a GROUP BY series' tags (key=value,…).
type columnIndex struct {
	time, value, quality, text, site, line, machine, tag, unit, batch, tags int
	textPct, nonFinite, batchRaw, batchRawPct                               int
}

func sampleColumns(cols []string) (columnIndex, error) {
	ci := columnIndex{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	for i, c := range cols {
		switch c {
		case "tags":
			ci.tags = i
		case "time":
			ci.time = i
		case FieldValue:
			ci.value = i
		case FieldQuality:
			ci.quality = i
		case FieldText:
			ci.text = i
		case TagSite:
			ci.site = i
		case TagLine:
			ci.line = i
		case TagMachine:
			ci.machine = i
		case TagName:
			ci.tag = i
		case TagUnit:
			ci.unit = i
		case TagBatch:
			ci.batch = i
		case FieldText + PctSuffix:
			ci.textPct = i
		case FieldNonFinite:
			ci.nonFinite = i
		case FieldBatchRaw:
			ci.batchRaw = i
		case FieldBatchRaw + PctSuffix:
			ci.batchRawPct = i
		}
	}
	if ci.time < 0 {
		return ci, fmt.Errorf("telemetry query: no time column in %v", cols)
	}
	return ci, nil
}

func (ci columnIndex) decode(row []any) (sample.Sample, error) {
	var s sample.Sample
	n, err := num(row, ci.time)
	if err != nil || n == "" {
		return s, fmt.Errorf("telemetry row %v: no time (was the query sent with epoch=ns?)", row)
	}
	ns, err := n.Int64()
	if err != nil {
		return s, fmt.Errorf("telemetry row %v: time: %w", row, err)
	}
	s.Time = time.Unix(0, ns).UTC()
	if v, err := num(row, ci.value); err == nil && v != "" {
		if s.Value, err = v.Float64(); err != nil {
			return s, fmt.Errorf("telemetry row %v: value: %w", row, err)
		}
	}
	if q, err := num(row, ci.quality); err == nil && q != "" {
		n, err := q.Int64()
		if err != nil || n < 0 || n > 1<<32-1 {
			return s, fmt.Errorf("telemetry row %v: quality %q is not an OPC UA status code", row, q)
		}
		s.Status = uint32(n)
	}
	s.Text = str(row, ci.text)
	s.Site, s.Line, s.Machine = str(row, ci.site), str(row, ci.line), str(row, ci.machine)
	s.Tag, s.Unit = str(row, ci.tag), str(row, ci.unit)
	s.Batch = batchID(str(row, ci.batch), str(row, ci.batchRaw), str(row, ci.batchRawPct))
	hasValue := ci.value >= 0 && ci.value < len(row) && row[ci.value] != nil
	outsideText(&s, hasValue, str(row, ci.textPct), str(row, ci.nonFinite))
	return s, nil
}

// outsideText completes a decoded telemetry row (docs/storage.md, "Outside
// text"): a percent-encoded text, and NaN/±Inf for a row without value
// and text (rows written before field nonfinite existed read as NaN).
func outsideText(s *sample.Sample, hasValue bool, textPct, nonFinite string) {
	if textPct != "" {
		s.Text = TextField("", textPct)
	}
	if !hasValue && s.Text == "" {
		s.Value = ParseNonFinite(nonFinite)
	}
}

// TextField is the value of a string field written by the store: the
// field itself, or its key+PctSuffix twin decoded (a value that was not
// UTF-8 or held NUL). A twin that does not decode is returned as stored.
func TextField(plain, pct string) string {
	if pct == "" {
		return plain
	}
	if s, err := sample.Unescape(pct); err == nil {
		return s
	}
	return pct
}

// batchID is the batch id of a telemetry row: batch_raw when the tag is not
// the id itself, else the tag decoded.
func batchID(tag, raw, rawPct string) string {
	if raw != "" || rawPct != "" {
		return TextField(raw, rawPct)
	}
	if id, err := sample.Unescape(tag); err == nil {
		return id
	}
	return tag
}

// num returns the json.Number at i, "" for null or a missing column.
func num(row []any, i int) (json.Number, error) {
	if i < 0 || i >= len(row) || row[i] == nil {
		return "", nil
	}
	n, ok := row[i].(json.Number)
	if !ok {
		return "", fmt.Errorf("column %d is %T, not a number", i, row[i])
	}
	return n, nil
}

func str(row []any, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	s, _ := row[i].(string)
	return s
}
