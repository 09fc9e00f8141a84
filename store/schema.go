package store

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/sample"
)

// Measurements written by linewatch (see docs/storage.md).
const (
	MeasurementTelemetry = "telemetry"
	MeasurementAlarms    = "alarms"
	MeasurementBatches   = "batches"
	MeasurementSPC       = "spc"
	MeasurementStatus    = "collector_status"
	MeasurementMetrics   = "collector_metrics"
)

// Tag keys. "tag" and "name" are InfluxQL keywords, hence tag_name.
const (
	TagBatch   = "batch"
	TagLine    = "line"
	TagMachine = "machine"
	TagSite    = "site"
	TagName    = "tag_name"
	TagUnit    = "unit"
)

// Field keys of the telemetry measurement.
const (
	FieldValue   = "value"   // float
	FieldQuality = "quality" // integer: raw OPC UA status code
	FieldText    = "text"    // string: value of string tags
)

// Tag is one InfluxDB tag (indexed string).
type Tag struct{ Key, Value string }

// Field is one InfluxDB field. Value is float64, float32, int, int64,
// int32, uint32, uint64 (≤ MaxInt64), bool or string; unsigned values are
// stored as integers because InfluxDB 1.8 has no unsigned type by default.
type Field struct {
	Key   string
	Value any
}

// Point is one line of any measurement other than telemetry.
type Point struct {
	Measurement string
	Tags        []Tag // sorted by key by WritePoint when they are not
	Fields      []Field
	Time        time.Time
}

// MaxBatchTag is the longest batch tag value, in bytes: a longer escaped
// id is cut (sample.EscapeLimit) and the whole id is in field batch_raw.
// InfluxDB refuses a series key over 64 KiB.
const MaxBatchTag = 1024

// Telemetry fields for outside text (docs/storage.md, "Outside text").
const (
	FieldBatchRaw = "batch_raw" // the batch id when tag batch is not the id itself
	// FieldNonFinite replaces value for NaN and ±Inf: "NaN", "+Inf", "-Inf".
	FieldNonFinite = "nonfinite"
	// PctSuffix marks a string field holding sample.Escape of the value,
	// used when the value is not UTF-8 or holds NUL (line protocol strings
	// are UTF-8): "text_pct", "batch_raw_pct", "message_pct", …
	PctSuffix = "_pct"
)

// NonFinite is the nonfinite field of a NaN or infinite value.
func NonFinite(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return "NaN"
}

// ParseNonFinite reverses NonFinite; anything else reads as NaN.
func ParseNonFinite(s string) float64 {
	switch s {
	case "+Inf":
		return math.Inf(1)
	case "-Inf":
		return math.Inf(-1)
	}
	return math.NaN()
}

// BatchTag is the value of tag batch for a batch id: the id percent-encoded
// (sample.Escape) and cut to MaxBatchTag. Query with it, not with the id.
func BatchTag(id string) string { return sample.EscapeLimit(id, MaxBatchTag) }

// appendSample encodes s as one telemetry line with the strict Encoder;
// on error it leaves no partial line.
func appendSample(e *lineprotocol.Encoder, s *sample.Sample, now time.Time) error {
	lineStart := len(e.Bytes())
	var raw []string
	appendSeries(e, s)
	e.AddField(FieldQuality, lineprotocol.IntValue(int64(s.Status)))
	if s.Text != "" {
		if strings.IndexByte(s.Text, '\r') >= 0 {
			// InfluxDB's CSV answers (Client.Samples reads them with
			// encoding/csv) turn CR LF into LF: keep CR percent-encoded.
			e.AddField(FieldText+PctSuffix, mustString(sample.Escape(s.Text)))
		} else {
			addString(e, FieldText, s.Text, &raw)
		}
	} else if v, ok := lineprotocol.FloatValue(s.Value); ok {
		e.AddField(FieldValue, v)
	} else {
		// NaN and ±Inf have no line-protocol form: the sample is kept
		// with its quality and field nonfinite instead of value.
		e.AddField(FieldNonFinite, mustString(NonFinite(s.Value)))
	}
	if s.Batch != "" && BatchTag(s.Batch) != s.Batch {
		addString(e, FieldBatchRaw, s.Batch, &raw)
	}
	t := s.Time
	if t.IsZero() {
		// Never let InfluxDB stamp the point: a spooled point replayed
		// later would get the replay time.
		t = now
	}
	e.EndLine(t)
	if err := takeErr(e); err != nil {
		return err
	}
	patchRaw(e, lineStart, raw)
	return nil
}

// appendSeries starts a telemetry line: measurement and tags.
func appendSeries(e *lineprotocol.Encoder, s *sample.Sample) {
	e.StartLine(MeasurementTelemetry)
	if s.Batch != "" {
		e.AddTag(TagBatch, BatchTag(s.Batch))
	}
	e.AddTag(TagLine, s.Line)
	e.AddTag(TagMachine, s.Machine)
	e.AddTag(TagSite, s.Site)
	e.AddTag(TagName, s.Tag)
	if s.Unit != "" {
		e.AddTag(TagUnit, s.Unit)
	}
}

func takeErr(e *lineprotocol.Encoder) error {
	err := e.Err()
	if err != nil {
		e.ClearErr()
		// EndLine after an error leaves the encoder ready for the next line.
		return err
	}
	return nil
}

// addString adds a string field. A value that is not UTF-8 or holds NUL
// is stored percent-encoded under key+PctSuffix, so nothing is lost: line
// protocol strings are UTF-8, and NUL marks the placeholders below.
//
// The encoder escapes newline, CR and tab as \n, \r, \t, which InfluxDB
// 1.x and 2.x store literally (they unescape only \" and \\), so such
// strings are encoded as a placeholder and patched to the raw characters
// by patchRaw after the line is complete.
func addString(e *lineprotocol.Encoder, key, s string, raw *[]string) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		key, s = key+PctSuffix, sample.Escape(s)
	}
	if strings.ContainsAny(s, "\n\r\t") {
		e.AddField(key, mustString(placeholder(len(*raw))))
		*raw = append(*raw, s)
		return
	}
	e.AddField(key, mustString(s))
}

func mustString(s string) lineprotocol.Value {
	v, _ := lineprotocol.StringValue(s)
	return v
}

func placeholder(i int) string { return "\x00lw" + strconv.Itoa(i) + "\x00" }

// patchRaw replaces the placeholders of the line starting at lineStart by
// the strings, escaping only backslash and double quote.
func patchRaw(e *lineprotocol.Encoder, lineStart int, raw []string) {
	if len(raw) == 0 {
		return
	}
	buf := e.Bytes()
	line := slices.Clone(buf[lineStart:])
	buf = buf[:lineStart]
	for i, s := range raw {
		ph := `"` + placeholder(i) + `"`
		before, after, ok := bytes.Cut(line, []byte(ph))
		if !ok {
			continue
		}
		buf = append(buf, before...)
		buf = append(buf, '"')
		for j := 0; j < len(s); j++ {
			if s[j] == '\\' || s[j] == '"' {
				buf = append(buf, '\\')
			}
			buf = append(buf, s[j])
		}
		buf = append(buf, '"')
		line = after
	}
	buf = append(buf, line...)
	e.SetBuffer(buf)
}

func appendPoint(e *lineprotocol.Encoder, p *Point, now time.Time) error {
	if len(p.Fields) == 0 {
		return fmt.Errorf("point %q: no fields (InfluxDB needs at least one)", p.Measurement)
	}
	lineStart := len(e.Bytes())
	var raw []string
	tags := p.Tags
	if !slices.IsSortedFunc(tags, func(a, b Tag) int { return cmp.Compare(a.Key, b.Key) }) {
		tags = slices.Clone(tags)
		slices.SortFunc(tags, func(a, b Tag) int { return cmp.Compare(a.Key, b.Key) })
	}
	e.StartLine(p.Measurement)
	for _, t := range tags {
		if t.Value == "" {
			continue // line protocol has no empty tag values: absent means empty
		}
		e.AddTag(t.Key, t.Value)
	}
	n := 0
	for _, f := range p.Fields {
		v, ok, err := fieldValue(f.Value)
		if err != nil {
			abandonLine(e, lineStart)
			return fmt.Errorf("point %q field %q: %w", p.Measurement, f.Key, err)
		}
		if !ok {
			continue // NaN/Inf: omitted
		}
		if str, isStr := f.Value.(string); isStr {
			addString(e, f.Key, str, &raw)
		} else {
			e.AddField(f.Key, v)
		}
		n++
	}
	if n == 0 {
		abandonLine(e, lineStart)
		return fmt.Errorf("point %q: every field is NaN or infinite", p.Measurement)
	}
	t := p.Time
	if t.IsZero() {
		t = now
	}
	e.EndLine(t)
	if err := takeErr(e); err != nil {
		return fmt.Errorf("point %q: %w", p.Measurement, err)
	}
	patchRaw(e, lineStart, raw)
	return nil
}

// abandonLine drops the line being built from lineStart on. Ending it
// instead would leave a line without a timestamp once a field was added,
// which InfluxDB would stamp with its arrival time.
func abandonLine(e *lineprotocol.Encoder, lineStart int) {
	e.SetBuffer(e.Bytes()[:lineStart])
}

func fieldValue(x any) (lineprotocol.Value, bool, error) {
	switch v := x.(type) {
	case float64:
		fv, ok := lineprotocol.FloatValue(v)
		return fv, ok, nil
	case float32:
		fv, ok := lineprotocol.FloatValue(float64(v))
		return fv, ok, nil
	case int:
		return lineprotocol.IntValue(int64(v)), true, nil
	case int64:
		return lineprotocol.IntValue(v), true, nil
	case int32:
		return lineprotocol.IntValue(int64(v)), true, nil
	case uint32:
		return lineprotocol.IntValue(int64(v)), true, nil
	case uint64:
		if v > math.MaxInt64 {
			return lineprotocol.Value{}, false, fmt.Errorf("unsigned value %d does not fit an InfluxDB integer", v)
		}
		return lineprotocol.IntValue(int64(v)), true, nil
	case bool:
		return lineprotocol.BoolValue(v), true, nil
	case string:
		return lineprotocol.Value{}, true, nil // encoded by addString
	}
	return lineprotocol.Value{}, false, fmt.Errorf("unsupported field type %T (want float, int, bool or string)", x)
}
