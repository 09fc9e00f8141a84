package store

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// benchPlant is one poll of 10 machines × 50 tags with realistic names.
func benchPlant() []sample.Sample {
	var ss []sample.Sample
	for m := range 10 {
		for tg := range 50 {
			ss = append(ss, sample.Sample{
				Site: "plant-1", Line: "line-a", Machine: fmt.Sprintf("filler-%02d", m),
				Tag: fmt.Sprintf("fill_weight_%02d", tg), Unit: "g", Value: 10.123456 + float64(tg),
				Status: 0, Batch: "B-2026-0042",
			})
		}
	}
	return ss
}

// BenchmarkEncodeSamples: CPU and allocations to encode one value.
//
//	go test ./store -run '^$' -bench EncodeSamples -benchmem
func BenchmarkEncodeSamples(b *testing.B) {
	ss := benchPlant()
	lb := lineBuilder{buf: make([]byte, 0, 1<<20)}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		s := &ss[i%len(ss)]
		s.Time = t0.Add(time.Duration(i) * time.Microsecond)
		s.Value += 0.001
		if err := lb.sample(s, t0); err != nil {
			b.Fatal(err)
		}
		if len(lb.buf) > 1<<20-512 {
			lb.buf = lb.buf[:0]
		}
	}
	// CPU time, unlike ns/op, does not grow when other processes load the machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/value")
}

// BenchmarkWriteInflux: values per second, end to end, into the real
// InfluxDB 1.8 (sharing this machine's cores), with gzip and 2 writers,
// and the linewatch process CPU per value (InfluxDB's own CPU excluded).
//
//	go test ./store -run '^$' -bench WriteInflux -benchtime 2000000x
func BenchmarkWriteInflux(b *testing.B) {
	db := testenv.Influx(b)
	cfg := testCfg(b, db.URL, db.Database)
	cfg.BatchSize = 5000
	cfg.Spool.MaxSizeMB = 1024 // the producer is unpaced: overflow goes to the spool
	w := startWriter(b, cfg, WriterOptions{})
	poll := benchPlant()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(poll) {
		n := min(len(poll), b.N-i)
		for j := range n {
			poll[j].Time = t0.Add(time.Duration(i+j) * time.Microsecond)
			poll[j].Value += 0.001
		}
		w.WriteSamples(poll[:n])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/value")
	b.ReportMetric(w.counter(b, "linewatch_store_spool_bytes"), "spool-bytes-left")
	if got := w.counter(b, "linewatch_store_lines_written_total"); int(got) != b.N {
		b.Fatalf("written %v of %d", got, b.N)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
