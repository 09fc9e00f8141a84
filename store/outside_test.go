package store

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/internal/unencodable"
	"github.com/linewatch/linewatch/sample"
)

const unencodableName = unencodable.Name

// decodeTelemetry parses telemetry lines as InfluxDB does and rebuilds the
// samples with the reader's own rules (batchID, outsideText).
func decodeTelemetry(t *testing.T, data []byte) []sample.Sample {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(data)
	var out []sample.Sample
	for dec.Next() {
		if m, err := dec.Measurement(); err != nil || string(m) != MeasurementTelemetry {
			t.Fatalf("measurement %q: %v\n%q", m, err, data)
		}
		var s sample.Sample
		var batchTag string
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("tag: %v\n%q", err, data)
			}
			if k == nil {
				break
			}
			switch string(k) {
			case TagBatch:
				batchTag = string(v)
			case TagSite:
				s.Site = string(v)
			case TagLine:
				s.Line = string(v)
			case TagMachine:
				s.Machine = string(v)
			case TagName:
				s.Tag = string(v)
			case TagUnit:
				s.Unit = string(v)
			}
		}
		var hasValue bool
		var textPct, nonFinite, raw, rawPct string
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("field: %v\n%q", err, data)
			}
			if k == nil {
				break
			}
			switch string(k) {
			case FieldValue:
				s.Value, hasValue = v.FloatV(), true
			case FieldQuality:
				s.Status = uint32(v.IntV())
			case FieldText:
				s.Text = v.StringV()
			case FieldText + PctSuffix:
				textPct = v.StringV()
			case FieldNonFinite:
				nonFinite = v.StringV()
			case FieldBatchRaw:
				raw = v.StringV()
			case FieldBatchRaw + PctSuffix:
				rawPct = v.StringV()
			default:
				t.Fatalf("unexpected field %q", k)
			}
		}
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		s.Time = ts.UTC()
		s.Batch = batchID(batchTag, raw, rawPct)
		outsideText(&s, hasValue, textPct, nonFinite)
		out = append(out, s)
	}
	if err := dec.Err(); err != nil {
		t.Fatalf("decode: %v\n%q", err, data)
	}
	return out
}

func sameSample(a, b sample.Sample) bool {
	va, vb := a.Value, b.Value
	if math.IsNaN(va) && math.IsNaN(vb) {
		va, vb = 0, 0
	}
	return a.Time.Equal(b.Time) && a.Site == b.Site && a.Line == b.Line && a.Machine == b.Machine && a.Tag == b.Tag &&
		a.Unit == b.Unit && va == vb && a.Text == b.Text && a.Status == b.Status && a.Batch == b.Batch
}

// FuzzTelemetryLineRoundTrip: any batch id, text and value is encoded (the
// cached path and the strict one alike), and reads back exactly: the
// batch tag is a valid tag value, text and batch id survive NUL, control
// characters, backslashes and bytes that are not UTF-8, NaN and ±Inf keep
// their kind. One hostile sample never costs its neighbours.
func FuzzTelemetryLineRoundTrip(f *testing.F) {
	f.Add("B-1042", "running", 1.5, uint32(0))
	f.Add("(10)LOT\x1d42", "a\n\"b\"\t\\c", math.NaN(), uint32(0x80000000))
	f.Add("LOT42\\", "\x00\xff", math.Inf(1), uint32(0x40000000))
	f.Add("\xff\xfe", "", math.Inf(-1), uint32(0))
	f.Add(strings.Repeat("x\x1d", 2000), "ok", 5e-324, uint32(0))
	f.Add("a=b, c", "%41", -0.0, uint32(0))
	f.Fuzz(func(t *testing.T, batch, text string, v float64, status uint32) {
		now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
		in := []sample.Sample{
			{Time: now, Site: "s", Line: "l", Machine: "m", Tag: "before", Value: 1, Batch: batch},
			{Time: now, Site: "s", Line: "l", Machine: "m", Tag: "num", Unit: "°C", Value: v, Status: status, Batch: batch},
			{Time: now, Site: "s", Line: "l", Machine: "m", Tag: "txt", Text: text, Status: status, Batch: batch},
			{Time: now, Site: "s", Line: "l", Machine: "m", Tag: "after", Value: 2, Batch: batch},
		}
		for pass := range 2 { // the second pass runs on cached series
			var lb lineBuilder
			for range pass + 1 {
				lb.buf = lb.buf[:0]
				lb.startRun(&in[0])
				for i := range in {
					if err := lb.sample(&in[i], now); err != nil {
						t.Fatalf("sample %d: %v", i, err)
					}
				}
				lb.endRun()
			}
			got := decodeTelemetry(t, lb.buf)
			if len(got) != len(in) {
				t.Fatalf("%d lines, want %d\n%q", len(got), len(in), lb.buf)
			}
			for i := range in {
				if !sameSample(got[i], in[i]) {
					t.Fatalf("sample %d:\n got %+v\nwant %+v\n%q", i, got[i], in[i], lb.buf)
				}
			}
			if bytes.Count(lb.buf, []byte("batch=")) > len(in) {
				t.Fatalf("batch tag written twice on a line: %q", lb.buf)
			}
		}
	})
}

// The batch tag of an id too long for a series key is cut; the id is in
// batch_raw and the reader prefers it.
func TestHugeBatchID(t *testing.T) {
	id := strings.Repeat("LOT\x1d", 50_000)
	tag := BatchTag(id)
	if len(tag) > MaxBatchTag || !strings.Contains(tag, "%~") {
		t.Fatalf("batch tag %d bytes", len(tag))
	}
	var lb lineBuilder
	s := sample.Sample{Time: time.Unix(1, 0), Site: "s", Line: "l", Machine: "m", Tag: "t", Value: 1, Batch: id}
	if err := lb.sample(&s, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if got := decodeTelemetry(t, lb.buf); len(got) != 1 || got[0].Batch != id {
		t.Fatalf("huge batch id not read back")
	}
}

// TestHostileValuesIntegration writes every kind of hostile value into the
// real InfluxDB 1.8 and reads it back with both readers: nothing lost, no
// neighbour dropped, a batch id full of control characters found by its id.
func TestHostileValuesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB")
	}
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	w := startWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	batches := []string{"(10)LOT\x1d42\x1d(21)9", "LOT42\\", "B\xff\xfe", "B\x00 1,=\"", "50%", strings.Repeat("L\x1d", 20_000)}
	texts := []string{strings.Repeat("0123456789abcdef", 1<<16), "a\x00b", "\xc3\x28", "tab\there\r\nnl\\", "\x1b[31mred", "%41"}
	values := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, -0.0, math.MaxFloat64}
	var want []sample.Sample
	for i, b := range batches {
		at := start.Add(time.Duration(i) * time.Second)
		for j, v := range values {
			want = append(want, sample.Sample{Time: at.Add(time.Duration(j) * time.Millisecond), Site: "s", Line: "l", Machine: "m", Tag: "num", Unit: "°C", Value: v, Status: uint32(j) << 28, Batch: b})
		}
		want = append(want, sample.Sample{Time: at.Add(500 * time.Millisecond), Site: "s", Line: "l", Machine: "m", Tag: "txt", Text: texts[i], Status: 0x40000000, Batch: b})
	}
	w.WriteSamples(want)
	// A source time InfluxDB cannot hold is stored at the write time, counted.
	w.WriteSamples([]sample.Sample{{Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Site: "s", Line: "l", Machine: "m", Tag: "late", Value: 7}})
	w.flush(t)
	if n := w.counter(t, unencodableName, "sink", "influxdb", "reason", reasonTimeRange); n != 1 {
		t.Errorf("%s{reason=%q} = %v, want 1", unencodableName, reasonTimeRange, n)
	}
	c := newClient(t, cfg, ClientOptions{ChunkSize: 5})
	ctx := context.Background()
	check := func(name string, got []sample.Sample, want []sample.Sample) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d samples, want %d", name, len(got), len(want))
		}
		for i := range want {
			if !sameSample(got[i], want[i]) {
				t.Errorf("%s: sample %d:\n got %s\nwant %s", name, i, brief(got[i]), brief(want[i]))
			}
		}
	}
	q := SampleQuery{Site: "s", Line: "l", Tags: []string{"num", "txt"}, From: start, To: start.Add(time.Minute)}
	var got []sample.Sample
	for s, err := range c.Samples(ctx, q) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	check("Samples", got, want)
	// Each batch by its id: the query encodes it as the writer did.
	for i, b := range batches {
		q := q
		q.Batch, q.Window = b, 300*time.Millisecond
		got = got[:0]
		for s, err := range c.Samples(ctx, q) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		check(fmt.Sprintf("Samples of batch %d", i), got, want[i*(len(values)+1):(i+1)*(len(values)+1)])
	}
	// ValuesOnly: no unit, no batch.
	q.ValuesOnly = true
	got = got[:0]
	for s, err := range c.Samples(ctx, q) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	bare := slices.Clone(want)
	for j := range bare {
		bare[j].Unit, bare[j].Batch = "", ""
	}
	check("Samples ValuesOnly", got, bare)
}

func brief(s sample.Sample) string {
	q := func(x string) string {
		if len(x) > 40 {
			return fmt.Sprintf("%q…(%d bytes)", x[:40], len(x))
		}
		return fmt.Sprintf("%q", x)
	}
	return fmt.Sprintf("%s %s unit=%s v=%v q=%#x text=%s batch=%s", s.Time.Format(time.RFC3339Nano), s.Key(), s.Unit, s.Value, s.Status, q(s.Text), q(s.Batch))
}
