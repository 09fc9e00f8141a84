package engine

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// BenchmarkLiveDecodeRouteDetect is the live engine's per-message work
// without NATS: decode a telemetry message (one machine read of 6 values),
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
	shift := time.Duration(0)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		m := msgs[i%len(msgs)]
		if i > 0 && i%len(msgs) == 0 {
			shift += time.Hour // keep timestamps increasing across laps
		}
		bt, err := sample.Unmarshal(m)
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
