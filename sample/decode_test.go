package sample

import (
	"math"
	"testing"
	"time"
)

// decodeSeeds are bodies the fast path reads and bodies it must hand to
// Unmarshal: escapes, percent-encoded text, repeated and unknown keys,
// keys in other cases, null, numbers Unmarshal refuses, other schemas.
func decodeSeeds() [][]byte {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 123456700, time.UTC)
	ss := []Sample{
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "fill_weight", Unit: "g", Value: 2.01, Batch: "F1-001"},
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "state", Text: "running", Status: 0x80000000},
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "nan", Value: math.NaN()},
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "inf", Value: math.Inf(-1)},
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "bytes", Text: "\xff\x00\"\\"},
		{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "température", Unit: "°C", Value: -0.5e-300},
	}
	seeds := [][]byte{
		AppendTelemetry(nil, ss, nil),
		AppendTelemetry(nil, ss[:1], nil),
		AppendTelemetry(nil, nil, nil),
		NewBatch([]Sample{{Time: t0, Tag: "x", Text: "cut", Batch: "LOT\x1d42"}}).AppendJSON(nil, nil),
		[]byte(`{"v":1,"site":"s","line":"l","machine":"m","batch":"B1","values":[{"t":"2026-11-23T08:00:00Z","tag":"x","v":1.5,"q":2147483648}]}`),
		[]byte(` { "v" : 2 , "values" : [ { "t" : "2026-11-23T08:00:00.5+01:00" , "tag" : "s" , "s" : "running" , "cut" : 70000 } ] } `),
		[]byte(`{"v":2,"values":[{"tag":"x","v":1,"nf":"NaN"}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","nf":"NaN","v":1}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","nf":"nan"}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","tag":"y"}]}`),
		[]byte(`{"v":2,"v":1,"values":[]}`),
		[]byte(`{"v":2,"Site":"s","values":[]}`),
		[]byte(`{"v":2,"values":[{"TAG":"x","V":3}]}`),
		[]byte(`{"v":2,"values":null}`),
		[]byte(`{"v":2,"values":[{"tag":null}]}`),
		[]byte(`{"v":2,"values":[{"tag":"a\u0041","v":1e400}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","v":01}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","q":-1}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","q":4294967296}]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","q":1.0}]}`),
		[]byte(`{"v":2,"values":[{"t":"2026-13-01T00:00:00Z"}]}`),
		[]byte(`{"v":2,"values":[{"t":"\u0032026-01-01T00:00:00Z"}]}`),
		[]byte(`{"v":2,"extra":[1,2],"values":[]}`),
		[]byte(`{"v":3,"values":[]}`),
		[]byte(`{"v":2.0,"values":[]}`),
		[]byte(`{"v":2,"values":[]}x`),
		[]byte(`{"v":2,"values":[{"tag":"\xff"}]}`),
		[]byte(`{"v":2,"batch_pct":"%FF","values":[]}`),
		[]byte(`{"v":2,"values":[{"tag":"x","s_pct":"%00"}]}`),
		[]byte(`{"v":2,"values":[{},]}`),
		[]byte(`{"v":2,}`),
		[]byte(`{}`),
		[]byte(`[]`),
		[]byte(``),
	}
	return seeds
}

// sameBatch compares two decoded batches value by value: NaN equals
// NaN (by bits) and times are equal instants in equally named zones.
func sameBatch(a, b Batch) bool {
	if a.V != b.V || a.Site != b.Site || a.Line != b.Line || a.Machine != b.Machine || a.Batch != b.Batch || len(a.Values) != len(b.Values) {
		return false
	}
	for i := range a.Values {
		x, y := a.Values[i], b.Values[i]
		if !x.Time.Equal(y.Time) || x.Time.Location().String() != y.Time.Location().String() ||
			x.Tag != y.Tag || x.Unit != y.Unit || math.Float64bits(x.Value) != math.Float64bits(y.Value) ||
			x.Text != y.Text || x.Status != y.Status || x.Cut != y.Cut {
			return false
		}
	}
	return true
}

func checkDecoderMatches(t *testing.T, d *Decoder, data []byte) {
	t.Helper()
	want, wantErr := Unmarshal(data)
	got, err := d.Decode(data)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%q: Decode error %v, Unmarshal error %v", data, err, wantErr)
	case err != nil && err.Error() != wantErr.Error():
		t.Fatalf("%q: Decode error %q, Unmarshal error %q", data, err, wantErr)
	case err == nil && !sameBatch(got, want):
		t.Fatalf("%q:\nDecode    %+v\nUnmarshal %+v", data, got, want)
	}
}

// One Decoder over many bodies, in turn, as a line partition uses it:
// each result equals Unmarshal's, whatever the body before it was.
func TestDecoderMatchesUnmarshal(t *testing.T) {
	var d Decoder
	for range 2 {
		for _, data := range decodeSeeds() {
			checkDecoderMatches(t, &d, data)
		}
	}
}

// The collector's bodies take the fast path (not Unmarshal), and a
// decoder keeps one copy of each name.
func TestDecoderFastPathForCollectorBodies(t *testing.T) {
	var d Decoder
	body := AppendTelemetry(nil, benchSamples(), nil)
	if _, ok := d.fast(body); !ok {
		t.Fatal("a body written by AppendTelemetry did not take the fast path")
	}
	a, _ := d.Decode(body)
	tag := a.Values[7].Tag
	b, _ := d.Decode(body)
	if tag != "tag0007" || b.Values[7].Tag != tag || len(d.names) != 4+1000+1 {
		t.Fatalf("tag %q, names kept %d (want site, line, machine, batch, 1 000 tags, 1 unit)", tag, len(d.names))
	}
}

func FuzzDecoderMatchesUnmarshal(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s)
	}
	var d Decoder
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecoderMatches(t, &d, data)
	})
}

// BenchmarkDecodeTelemetry: one machine's read of 1 000 values (as
// BenchmarkMarshalTelemetry writes it) decoded by Unmarshal
// (encoding/json) and by a Decoder.
func BenchmarkDecodeTelemetry(b *testing.B) {
	body := AppendTelemetry(nil, benchSamples(), nil)
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Unmarshal(body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/value")
	})
	b.Run("decoder", func(b *testing.B) {
		b.ReportAllocs()
		var d Decoder
		for b.Loop() {
			if _, err := d.Decode(body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/value")
	})
}
