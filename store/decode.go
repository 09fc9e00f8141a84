package store

import (
	"fmt"

	"github.com/linewatch/linewatch/sample"
)

// columnIndex is where each telemetry field is in a CSV result; tags is
// the column of a GROUP BY series' tags (key=value,…), which carries the
// tag keys.
type columnIndex struct {
	time, value, quality, text, tags          int
	textPct, nonFinite, batchRaw, batchRawPct int
}

func sampleColumns(cols []string) (columnIndex, error) {
	ci := columnIndex{-1, -1, -1, -1, -1, -1, -1, -1, -1}
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

// batchID is the batch id of a telemetry row: the tag decoded, unless it
// was cut (MaxBatchTag) and batch_raw holds the id. The tag comes first:
// its escaping keeps CR, which a CSV answer turns from CR LF into LF in
// batch_raw. Rows written before the tag was escaped have no batch_raw
// and read as before.
func batchID(tag, raw, rawPct string) string {
	if id, err := sample.Unescape(tag); err == nil {
		return id
	}
	if raw != "" || rawPct != "" {
		return TextField(raw, rawPct)
	}
	return tag
}
