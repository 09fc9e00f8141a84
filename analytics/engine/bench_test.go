package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// BenchmarkLiveDecodeRouteDetect is the live engine's per-message work
// without NATS: decode a telemetry message (sample.Decoder, as linePart) (one machine read of 6 values),
// route each value and run the demo config's detectors. Reports samples/s.
func BenchmarkLiveDecodeRouteDetect(b *testing.B) {
	cfg := demoEngine(&testing.T{})
	e := cfg
	ss := scenario()
	// build messages of the filler (fill_weight) and cold room (temp) reads
	var msgs [][]byte
	for i := 0; i+1 < len(ss); i += 2 {
		s1, s2 := ss[i], ss[i+1]
		b1, _ := sample.NewBatch([]sample.Sample{s1, s1, s1, s1, s1, s1}).Marshal()
		b2, _ := sample.NewBatch([]sample.Sample{s2, s2, s2, s2, s2, s2}).Marshal()
		msgs = append(msgs, b1, b2)
	}
	var buf []sample.Sample
	var fs []analytics.Finding
	var dec sample.Decoder
	shift := time.Duration(0)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		if i > 0 && i%len(msgs) == 0 {
			shift += time.Hour // keep timestamps increasing across laps
		}
		bt, err := dec.Decode(m)
		if err != nil {
			b.Fatal(err)
		}
		buf = bt.Samples(buf[:0])
		for j := range buf {
			buf[j].Time = buf[j].Time.Add(shift + time.Duration(j)*time.Millisecond)
			fs = e.Process(buf[j], fs[:0])
		}
		n += len(buf)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkSnapshot10kLimits: the checkpoint state of one line of 10 000
// tags, each with limits (the pipelinebench layout), after one value per
// tag. Reports the state's size: the live engine writes it to the R3
// checkpoint bucket every CheckpointEvery.
func BenchmarkSnapshot10kLimits(b *testing.B) {
	var y strings.Builder
	y.WriteString("site: bench\ndata_dir: x\nlines:\n  - id: load\n    machines:\n      - id: sim1\n        endpoint: opc.tcp://127.0.0.1:1\n        tags:\n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&y, "          - {name: t%05d, node_id: \"ns=2;s=x%05d\", unit: u, limits: {lo: -1000000, hi: 1000000}}\n", i, i)
	}
	cfg, err := config.Parse([]byte(y.String()), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var fs []analytics.Finding
	for i := 1; i <= 10000; i++ {
		fs = e.Process(sample.Sample{Time: t0, Site: "bench", Line: "load", Machine: "sim1", Tag: fmt.Sprintf("t%05d", i), Value: 1}, fs[:0])
	}
	b.ReportAllocs()
	var size int
	for b.Loop() {
		st, err := e.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		size = len(st)
	}
	b.ReportMetric(float64(size), "state-bytes")
}
