package collector

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/uaclient"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPoll1000Nodes measures the collector's poll path for one group
// of 1 000 nodes read in one Read: request, decode, conversion to samples
// with status and timestamps, batch context, metrics, sink (and NATS).
//
// Reported: ns/value (wall) and cpu-ns/value (process CPU). With the
// in-process simulator the CPU includes the server's side; set
// LINEWATCH_BENCH_ENDPOINT to a `linewatch simulate --extra-tags 1000
// --max-nodes-per-read 1000` running in another process to measure the
// collector alone.
func BenchmarkPoll1000Nodes(b *testing.B) {
	const n = 1000
	endpoint := os.Getenv("LINEWATCH_BENCH_ENDPOINT")
	if endpoint == "" {
		sim := startSim(b, simulator.Options{AllowAnonymous: true, ExtraTags: n, MaxNodesPerRead: n})
		endpoint = sim.Endpoint()
	}
	for _, withNATS := range []bool{false, true} {
		name := "sink"
		if withNATS {
			name = "sink+nats"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig(b, endpoint, machineOpts{ExtraTags: n, MaxNodesPerRead: n})
			var got int
			var pub Output // stopped after the poller below
			if withNATS {
				_, js := testenv.NATSConn(b)
				pub = startPublisher(b, js).p
			}
			out := readFunc(func(ctx context.Context, r *sample.Read) {
				got += len(r.Samples)
				if pub != nil {
					pub.Read(ctx, r)
				}
			})
			c, err := New(cfg, Options{Output: out, Logger: quietLog(), Registerer: prometheus.NewRegistry()})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mr *machineRun
			for _, r := range c.runs {
				if r.m.ID == "load" {
					mr = r
				}
			}
			conn := mr.conn
			done := make(chan struct{})
			go func() { conn.Run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			sess, err := conn.Wait(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p := mr.newPoller(mr.m.PollGroups[0])
			ids, _ := resolveNodeIDs(p.tags, sess.Client.Namespaces())
			rvs := make([]*ua.ReadValueID, len(ids))
			idx := make([]int, len(ids))
			for i, id := range ids {
				rvs[i] = uaclient.NewReadValueID(id)
				idx[i] = i
			}
			plan := uaclient.NewReadPlan(rvs, n)
			var results []*ua.DataValue
			b.ResetTimer()
			cpu0, t0 := cpuTime(), time.Now()
			for i := 0; i < b.N; i++ {
				results, _, err = plan.Read(ctx, sess.Client, results[:0])
				if err != nil {
					b.Fatal(err)
				}
				p.emit(ctx, time.Now(), ids, idx, results)
			}
			cpu, wall := cpuTime()-cpu0, time.Since(t0)
			b.StopTimer()
			if got != b.N*n {
				b.Fatalf("sink got %d values, want %d", got, b.N*n)
			}
			values := float64(b.N * n)
			b.ReportMetric(float64(wall.Nanoseconds())/values, "ns/value")
			b.ReportMetric(float64(cpu.Nanoseconds())/values, "cpu-ns/value")
		})
	}
}
