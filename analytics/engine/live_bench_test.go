package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

type countNotifier struct{ n atomic.Int64 }

func (c *countNotifier) Notify(_ context.Context, fs []analytics.Finding) error {
	c.n.Add(int64(len(fs)))
	return nil
}

// BenchmarkLiveWorkers drains a TELEMETRY backlog of the demo plant (4
// lines, one message per machine per second, every numeric tag) with 1
// and with 2 analytics workers sharing the lines through leases, each
// worker with its own connection, from publish to the last checkpoint.
// Reports samples/s. The NATS server runs in the same process.
//
//	go test -run '^$' -bench BenchmarkLiveWorkers -benchtime 3x ./analytics/engine/
func BenchmarkLiveWorkers(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg, err := config.Demo()
			if err != nil {
				b.Fatal(err)
			}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			if testing.Verbose() {
				quiet = slog.Default()
			}
			var total int
			var cpu time.Duration // process CPU (workers and the NATS server) while timed
			for range b.N {
				b.StopTimer()
				s := testenv.NATS(b)
				nc, err := nats.Connect(s.ClientURL())
				if err != nil {
					b.Fatal(err)
				}
				js, _ := jetstream.New(nc)
				ctx := context.Background()
				if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
					b.Fatal(err)
				}
				lastSeq, n := publishBacklog(b, js, cfg, 24000)
				total += n
				var lines []string
				for _, l := range cfg.Lines {
					lines = append(lines, l.ID)
				}
				wctx, cancel := context.WithCancel(ctx)
				done := make(chan struct{}, workers)
				cpu -= processCPU(b)
				b.StartTimer()
				for w := range workers {
					wnc, err := nats.Connect(s.ClientURL())
					if err != nil {
						b.Fatal(err)
					}
					wjs, _ := jetstream.New(wnc)
					l := &Live{JS: wjs, Site: cfg.Site, Lines: lines, Consumer: "analytics", Worker: fmt.Sprint("w", w),
						CheckpointEvery: 100 * time.Millisecond, Logger: quiet, Registerer: prometheus.NewRegistry(),
						Open: func(line string) (*Engine, Notifier, error) {
							e, err := New(cfg, Options{Line: line, Logger: quiet})
							return e, &countNotifier{}, err
						}}
					go func() { l.Run(wctx); wnc.Close(); done <- struct{}{} }()
				}
				waitCheckpoints(b, js, lastSeq)
				b.StopTimer()
				cpu += processCPU(b)
				cancel()
				for range workers {
					<-done
				}
				nc.Close()
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "samples/s")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
			// cores-busy near procs: the CPUs were the limit, not the workers.
			b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores-busy")
		})
	}
}

// publishBacklog publishes secs seconds of every machine of cfg and
// returns the last stream sequence of each line and the sample count.
func publishBacklog(b *testing.B, js jetstream.JetStream, cfg *config.Config, secs int) (map[string]uint64, int) {
	rng := rand.New(rand.NewPCG(3, 4))
	last := map[string]uint64{}
	n := 0
	for i := range secs {
		ts := t0.Add(time.Duration(i) * time.Second)
		for _, l := range cfg.Lines {
			for _, m := range l.Machines {
				var ss []sample.Sample
				for _, t := range m.Tags {
					s := sample.Sample{Time: ts, Site: cfg.Site, Line: l.ID, Machine: m.ID, Tag: t.Name, Batch: "B1"}
					switch t.Role {
					case "machine_state", "batch_id", "product_code":
						continue
					case "good_count", "reject_count":
						s.Value = float64(i * 10)
					default:
						s.Value = 5 + 0.1*rng.NormFloat64()
					}
					ss = append(ss, s)
				}
				data, err := sample.NewBatch(ss).Marshal()
				if err != nil {
					b.Fatal(err)
				}
				ack, err := js.Publish(context.Background(), bus.TelemetrySubject(cfg.Site, l.ID, m.ID), data)
				if err != nil {
					b.Fatal(err)
				}
				last[l.ID] = ack.Sequence
				n += len(ss)
			}
		}
	}
	return last, n
}

// waitCheckpoints polls the checkpoints until every line's reaches its
// last sequence.
func waitCheckpoints(b *testing.B, js jetstream.JetStream, last map[string]uint64) {
	ctx := context.Background()
	var kv jetstream.KeyValue
	deadline := time.Now().Add(5 * time.Minute)
	for line, seq := range last {
		for {
			if time.Now().After(deadline) {
				b.Fatalf("line %s not analysed to seq %d within 5 min", line, seq)
			}
			if kv == nil {
				kv, _ = js.KeyValue(ctx, StateBucket)
			}
			if kv != nil {
				if e, err := kv.Get(ctx, checkpointKey("analytics", line)); err == nil {
					var cp checkpoint
					if json.Unmarshal(e.Value(), &cp) == nil && cp.Seq >= seq {
						break
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// processCPU is the user + system CPU time of this process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
