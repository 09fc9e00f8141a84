package sample

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// SchemaVersion is the version of the telemetry message schema on NATS.
// Bump it on any incompatible change and keep decoding the old one.
// Version 2 (docs/schemas.md) carries a NaN or infinite value as "nf":
// "NaN", "+Inf" or "-Inf" instead of "v", a percent-encoded "s_pct" /
// "batch_pct" instead of "s" / "batch" for text that is not UTF-8, and
// "cut" on a text cut to MaxWireText. Version 1 bodies are still decoded.
const SchemaVersion = 2

// MaxWireText is the longest text value carried on NATS, in bytes of its
// wire form: a longer one is cut (and "cut" gives its length) so one huge
// string cannot push a machine's message over the server's max_payload.
const MaxWireText = 64 << 10

// Batch is the telemetry message published on
// linewatch.telemetry.<site>.<line>.<machine>: all values of one machine
// read together. Batching per machine keeps the message rate at one per
// machine per poll rather than one per tag.
type Batch struct {
	V       int
	Site    string
	Line    string
	Machine string
	Batch   string
	Values  []Value
}

// Value is one tag value inside a Batch.
type Value struct {
	Time   time.Time
	Tag    string
	Unit   string
	Value  float64 // NaN and ±Inf travel (as strings on the wire)
	Text   string
	Status uint32
	Cut    int // length in bytes of Text before it was cut to MaxWireText; 0 when whole
}

// NewBatch groups samples of one machine. All samples must share
// site, line and machine.
func NewBatch(samples []Sample) Batch {
	b := Batch{V: SchemaVersion, Values: make([]Value, len(samples))}
	for i, s := range samples {
		if i == 0 {
			b.Site, b.Line, b.Machine, b.Batch = s.Site, s.Line, s.Machine, s.Batch
		}
		b.Values[i] = Value{Time: s.Time.UTC(), Tag: s.Tag, Unit: s.Unit, Value: s.Value, Text: s.Text, Status: s.Status}
	}
	return b
}

// Samples expands the batch back into samples, appending to dst.
func (b Batch) Samples(dst []Sample) []Sample {
	for _, v := range b.Values {
		dst = append(dst, Sample{
			Time: v.Time, Site: b.Site, Line: b.Line, Machine: b.Machine,
			Tag: v.Tag, Unit: v.Unit, Value: v.Value, Text: v.Text, Status: v.Status, Batch: b.Batch,
		})
	}
	return dst
}

// Marshal encodes the batch (schema version 2). A value that cannot be
// encoded (a time outside years 0–9999) is left out and reported in the
// error, which names every such value; the others are in the body.
func (b Batch) Marshal() ([]byte, error) {
	var errs []error
	data := b.AppendJSON(make([]byte, 0, 64+80*len(b.Values)), func(i int, reason string) {
		if reason == ReasonTimeRange {
			errs = append(errs, fmt.Errorf("value %d (%s): time %s: %s", i, b.Values[i].Tag, b.Values[i].Time.Format(time.RFC3339), reason))
		}
	})
	return data, errors.Join(errs...)
}

// Reasons reported by AppendJSON and AppendTelemetry.
const (
	ReasonTimeRange = "time_out_of_range" // value left out: RFC 3339 has years 0–9999 only
	ReasonTextCut   = "text_too_long"     // text cut to MaxWireText
)

// AppendJSON appends the batch's body to dst. issue, when not nil, is
// called for each value that lost something (ReasonTimeRange: left out;
// ReasonTextCut: text cut).
func (b Batch) AppendJSON(dst []byte, issue func(i int, reason string)) []byte {
	dst = appendHead(dst, b.Site, b.Line, b.Machine, b.Batch)
	first := true
	for i := range b.Values {
		v := &b.Values[i]
		var ok bool
		dst, ok = appendValue(dst, first, v.Time, v.Tag, v.Unit, v.Value, v.Text, v.Status, v.Cut, i, issue)
		first = first && !ok
	}
	return append(dst, "]}"...)
}

// AppendTelemetry appends the body of the samples of one machine to dst,
// as NewBatch(ss).AppendJSON would, without building the Batch.
func AppendTelemetry(dst []byte, ss []Sample, issue func(i int, reason string)) []byte {
	if len(ss) == 0 {
		return appendHead(dst, "", "", "", "")
	}
	dst = appendHead(dst, ss[0].Site, ss[0].Line, ss[0].Machine, ss[0].Batch)
	first := true
	for i := range ss {
		s := &ss[i]
		var ok bool
		dst, ok = appendValue(dst, first, s.Time, s.Tag, s.Unit, s.Value, s.Text, s.Status, 0, i, issue)
		first = first && !ok
	}
	return append(dst, "]}"...)
}

func appendHead(dst []byte, site, line, machine, batch string) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, SchemaVersion, 10)
	dst = append(dst, `,"site":`...)
	dst = appendJSONString(dst, site)
	dst = append(dst, `,"line":`...)
	dst = appendJSONString(dst, line)
	dst = append(dst, `,"machine":`...)
	dst = appendJSONString(dst, machine)
	if batch != "" {
		dst = appendText(dst, "batch", batch)
	}
	return append(dst, `,"values":[`...)
}

func appendValue(dst []byte, first bool, t time.Time, tag, unit string, v float64, text string, status uint32, cut, i int, issue func(int, string)) ([]byte, bool) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		if issue != nil {
			issue(i, ReasonTimeRange)
		}
		return dst, false
	}
	if !first {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"t":"`...)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","tag":`...)
	dst = appendJSONString(dst, tag)
	if unit != "" {
		dst = append(dst, `,"unit":`...)
		dst = appendJSONString(dst, unit)
	}
	dst = appendFloat(dst, v)
	if text != "" {
		if len(text) > MaxWireText {
			if cut == 0 {
				cut = len(text)
			}
			text = cutText(text, MaxWireText)
			if issue != nil {
				issue(i, ReasonTextCut)
			}
		}
		dst = appendText(dst, "s", text)
	}
	if status != 0 {
		dst = append(dst, `,"q":`...)
		dst = strconv.AppendUint(dst, uint64(status), 10)
	}
	if cut != 0 {
		dst = append(dst, `,"cut":`...)
		dst = strconv.AppendInt(dst, int64(cut), 10)
	}
	return append(dst, '}'), true
}

// cutText cuts s to at most n bytes at a UTF-8 character boundary.
func cutText(s string, n int) string {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendText appends ,"key":"s" or, when s is not UTF-8 (JSON strings are
// Unicode), ,"key_pct":"Escape(s)".
func appendText(dst []byte, key, s string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	if utf8.ValidString(s) {
		dst = append(dst, '"', ':')
		return appendJSONString(dst, s)
	}
	dst = append(dst, `_pct":`...)
	return appendJSONString(dst, Escape(s))
}

// appendFloat writes ,"v":<number>, or ,"nf":"NaN" ("+Inf", "-Inf"):
// JSON has no form for them, and a separate key keeps "v" a plain number
// that decodes without a custom unmarshaller.
func appendFloat(dst []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `,"nf":"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `,"nf":"+Inf"`...)
	case math.IsInf(v, -1):
		return append(dst, `,"nf":"-Inf"`...)
	}
	dst = append(dst, `,"v":`...)
	return strconv.AppendFloat(dst, v, 'g', -1, 64)
}

// appendJSONString appends s, valid UTF-8, as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// wire forms for decoding (both versions): plain fields only, so
// encoding/json decodes them without a custom unmarshaller per value.
type wireBatch struct {
	V        int         `json:"v"`
	Site     string      `json:"site"`
	Line     string      `json:"line"`
	Machine  string      `json:"machine"`
	Batch    string      `json:"batch"`
	BatchPct string      `json:"batch_pct"`
	Values   []wireValue `json:"values"`
}

type wireValue struct {
	Time    time.Time `json:"t"`
	Tag     string    `json:"tag"`
	Unit    string    `json:"unit"`
	Value   float64   `json:"v"`
	NF      string    `json:"nf"`
	Text    string    `json:"s"`
	TextPct string    `json:"s_pct"`
	Status  uint32    `json:"q"`
	Cut     int       `json:"cut"`
}

// Unmarshal decodes a telemetry message of schema version 1 or 2.
func Unmarshal(data []byte) (Batch, error) {
	var w wireBatch
	if err := json.Unmarshal(data, &w); err != nil {
		return Batch{}, fmt.Errorf("telemetry message: %w", err)
	}
	if w.V != 1 && w.V != SchemaVersion {
		return Batch{}, fmt.Errorf("telemetry message: schema version %d not supported (want 1 or %d)", w.V, SchemaVersion)
	}
	b := Batch{V: w.V, Site: w.Site, Line: w.Line, Machine: w.Machine, Batch: w.Batch, Values: make([]Value, len(w.Values))}
	if w.BatchPct != "" {
		s, err := Unescape(w.BatchPct)
		if err != nil {
			return Batch{}, fmt.Errorf("telemetry message: batch_pct: %w", err)
		}
		b.Batch = s
	}
	for i := range w.Values {
		v := &w.Values[i]
		b.Values[i] = Value{Time: v.Time, Tag: v.Tag, Unit: v.Unit, Value: v.Value, Text: v.Text, Status: v.Status, Cut: v.Cut}
		if v.NF != "" {
			switch v.NF {
			case "NaN":
				b.Values[i].Value = math.NaN()
			case "+Inf":
				b.Values[i].Value = math.Inf(1)
			case "-Inf":
				b.Values[i].Value = math.Inf(-1)
			default:
				return Batch{}, fmt.Errorf("telemetry message: value %d (%s): nf %q, want NaN, +Inf or -Inf", i, v.Tag, v.NF)
			}
		}
		if v.TextPct != "" {
			s, err := Unescape(v.TextPct)
			if err != nil {
				return Batch{}, fmt.Errorf("telemetry message: value %d (%s) s_pct: %w", i, v.Tag, err)
			}
			b.Values[i].Text = s
		}
	}
	return b, nil
}
