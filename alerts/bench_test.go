package alerts

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

// BenchmarkFindingToSubscriber measures a finding handed to Notify until
// its transition arrives at a NATS subscriber of linewatch.alarms.>
// (in-process embedded NATS, file-backed JetStream). Target: p99 ≤ 10 ms.
func BenchmarkFindingToSubscriber(b *testing.B) {
	nc, _ := testenv.NATSConn(b)
	ctx := context.Background()
	cfg := demoConfig(b)
	cfg.Alarms.Flood.Threshold = 1 << 30 // no flood summaries in the measurement
	s := newService(b, cfg, nc, clock.Real{}, nil)
	sub, err := nc.SubscribeSync("linewatch.alarms.>")
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	const tags = 50
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		f := analytics.Finding{Time: t0.Add(time.Duration(i) * time.Millisecond), Line: "filling1", Machine: "filler",
			Tag: fmt.Sprint("tag", i%tags), Detector: "limits", Active: (i/tags)%2 == 0, Value: 1, Limit: 0.5}
		start := time.Now()
		if err := s.Notify(ctx, []analytics.Finding{f}); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.NextMsg(5 * time.Second); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
