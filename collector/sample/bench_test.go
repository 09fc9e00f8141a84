package sample

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkMarshalTelemetry: the NATS body of one machine's read of 1 000
// values (numbers, a few texts), as the collector publishes it.
func BenchmarkMarshalTelemetry(b *testing.B) {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 123456700, time.UTC)
	ss := make([]Sample, 1000)
	for i := range ss {
		ss[i] = Sample{Time: t0, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: fmt.Sprintf("tag%04d", i), Unit: "g",
			Value: 2.0 + float64(i)/1e4, Batch: "F1-20261204-001"}
		if i%50 == 0 {
			ss[i].Text, ss[i].Unit = "running", ""
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewBatch(ss).Marshal(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ss)), "ns/value")
}
