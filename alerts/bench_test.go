package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
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
	// Flood counting runs (two shared-bucket round trips per activation, as
	// in production) but never floods: a 1 ms window holds one or two.
	cfg.Alarms.Flood.Threshold, cfg.Alarms.Flood.EndBelow, cfg.Alarms.Flood.Window = 10, 5, time.Millisecond
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

// BenchmarkDrainBacklog measures alerts workers draining a backlog of
// 1 000 findings on stream FINDINGS (four lines, 16 alarms, every finding
// a transition; embedded NATS, file-backed JetStream), with 1 and 2
// workers, each on a connection of its own. Reported: findings/s.
//
//	go test -run '^$' -bench BenchmarkDrainBacklog -benchtime 3x ./alerts/
func BenchmarkDrainBacklog(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg := scaleConfig(b)
			const n = 1000
			msgs := drainBacklog(n)
			var total time.Duration
			for range b.N {
				b.StopTimer()
				srv := testenv.NATS(b)
				pnc := connect(b, srv.ClientURL())
				js, _ := jetstream.New(pnc)
				if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
					b.Fatal(err)
				}
				publishBacklog(b, js, cfg.Site, msgs)
				var ws []*Service
				for range workers {
					s, err := New(cfg, connect(b, srv.ClientURL()), Options{Clock: newClock(), Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					ws = append(ws, s)
				}
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				start := time.Now()
				b.StartTimer()
				for _, s := range ws {
					wg.Go(func() { _ = s.RunFindings(ctx) })
				}
				drained(b, js, cfg, ws[0].Store())
				b.StopTimer()
				total += time.Since(start)
				cancel()
				wg.Wait()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "findings/s")
		})
	}
}

// drainBacklog is n findings over the four demo lines, four alarms per
// line, each toggling its alarm.
func drainBacklog(n int) []backlogMsg {
	lines := [][2]string{{"filling1", "filler"}, {"coldroom1", "coldroom"}, {"tableting1", "press"}, {"lyo1", "freezedryer"}}
	active := map[string]bool{}
	var out []backlogMsg
	for i := range n {
		lm := lines[i%len(lines)]
		tag := fmt.Sprint("t", (i/len(lines))%4)
		active[lm[0]+tag] = !active[lm[0]+tag]
		f := fnd(lm[0], lm[1], tag, active[lm[0]+tag], t0.Add(time.Duration(i)*time.Second))
		out = append(out, backlogMsg{f: &f})
	}
	return out
}
