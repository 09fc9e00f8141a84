package sample

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

func benchSamples() []Sample {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 123456700, time.UTC)
	ss := make([]Sample, 1000)
	for i := range ss {
		ss[i] = Sample{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: fmt.Sprintf("tag%04d", i), Unit: "g",
			Value: 2.0 + float64(i)/1e4, Batch: "F1-20261204-001"}
		if i%50 == 0 {
			ss[i].Text, ss[i].Unit = "running", ""
		}
	}
	return ss
}

// BenchmarkMarshalTelemetry: the NATS body of one machine's read of 1 000
// values (numbers, a few texts). "encoding_json_v1" is how schema 1 was
// encoded (reflection, refuses NaN); "append_v2" is what the collector
// runs now (sample.AppendTelemetry with its size hint); "marshal_v2" is
// Batch.Marshal. Sub-benchmarks of one run share the machine's load.
func BenchmarkMarshalTelemetry(b *testing.B) {
	ss := benchSamples()
	type v1Value struct {
		Time   time.Time `json:"t"`
		Tag    string    `json:"tag"`
		Unit   string    `json:"unit,omitempty"`
		Value  float64   `json:"v"`
		Text   string    `json:"s,omitempty"`
		Status uint32    `json:"q,omitempty"`
	}
	type v1Batch struct {
		V       int       `json:"v"`
		Site    string    `json:"site"`
		Line    string    `json:"line"`
		Machine string    `json:"machine"`
		Batch   string    `json:"batch,omitempty"`
		Values  []v1Value `json:"values"`
	}
	for _, bc := range []struct {
		name string
		f    func() int
	}{
		{"encoding_json_v1", func() int {
			v := v1Batch{V: 1, Site: ss[0].Site, Line: ss[0].Line, Machine: ss[0].Machine, Batch: ss[0].Batch, Values: make([]v1Value, len(ss))}
			for i, s := range ss {
				v.Values[i] = v1Value{Time: s.Time.UTC(), Tag: s.Tag, Unit: s.Unit, Value: s.Value, Text: s.Text, Status: s.Status}
			}
			data, err := json.Marshal(v)
			if err != nil {
				b.Fatal(err)
			}
			return len(data)
		}},
		{"append_v2", func() int { return len(AppendTelemetry(make([]byte, 0, 64+80*len(ss)), ss, nil)) }},
		{"marshal_v2", func() int {
			data, err := NewBatch(ss).Marshal()
			if err != nil {
				b.Fatal(err)
			}
			return len(data)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = bc.f()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/value")
			b.ReportMetric(float64(n)/float64(len(ss)), "bytes/value")
		})
	}
}
