package main

// The measured side: one worker process runs the real collector and
// InfluxDB writer for one tag count and reports a result as JSON.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/collector"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
	"github.com/linewatch/linewatch/telemetry"
)

// benchConfig is f.machines machines (one by default), each with its share
// of the n synthetic tags in one poll group and its own session.
func benchConfig(f flags, dir string) (*config.Config, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `site: bench
data_dir: %s
influxdb: {url: %q, database: %q}
collector: {metrics_listen: "off", request_timeout: 30s}
lines:
  - id: load
    machines:
`, dir, f.influxURL, f.database)
	m := max(f.machines, 1)
	for k := range m {
		from, to := k*f.n/m+1, (k+1)*f.n/m
		fmt.Fprintf(&b, `      - id: sim%d
        endpoint: %s
        max_nodes_per_read: %d
        poll_groups:
          - name: all
            interval: %s
            tags: [`, k+1, f.endpoint, f.maxPerRead, f.interval)
		for i := from; i <= to; i++ {
			if i > from {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "t%05d", i)
		}
		b.WriteString("]\n        tags:\n")
		for i := from; i <= to; i++ {
			fmt.Fprintf(&b, "          - {name: t%05d, node_id: \"ns=2;s=synthetic.load.tag%05d\", unit: u}\n", i, i)
		}
	}
	return config.Parse([]byte(b.String()), "collectorbench.yaml")
}

// cpuTimes is the process's user and system CPU time.
func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

type countingSink struct {
	w        *store.Writer
	pub      *telemetry.Publisher // with -nats, as internal/app fans out
	values   atomic.Int64
	peakHeap atomic.Uint64
}

// Read also samples the heap, right after each poll when it is
// highest: a ticker of its own would add a wake-up per second that the
// collector does not have, a sizeable part of its CPU at 1 000 tags.
func (s *countingSink) Read(ctx context.Context, r *sample.Read) {
	s.w.WriteSamples(r.Samples)
	if s.pub != nil {
		s.pub.Read(ctx, r)
	}
	s.values.Add(int64(len(r.Samples)))
	h := heapInUse()
	for {
		p := s.peakHeap.Load()
		if h <= p || s.peakHeap.CompareAndSwap(p, h) {
			break
		}
	}
}

func (s *countingSink) Status(context.Context, sample.MachineStatus) {}

func runWorker(ctx context.Context, f flags) error {
	if err := os.MkdirAll(f.workDir, 0o755); err != nil {
		return err
	}
	cfg, err := benchConfig(f, f.workDir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	w, err := store.NewWriter(cfg.InfluxDB, store.WriterOptions{Logger: log, Metrics: reg})
	if err != nil {
		return err
	}
	opts := collector.Options{Logger: log, Registerer: reg}
	sink := &countingSink{w: w}
	opts.Output = sink
	if f.natsURL != "" {
		nc, err := nats.Connect(f.natsURL)
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc, telemetry.JetStreamOptions()...)
		if err != nil {
			return err
		}
		if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
			return err
		}
		if sink.pub, err = telemetry.New(js, telemetry.Options{Logger: log, Registerer: reg}); err != nil {
			return err
		}
	}
	c, err := collector.New(cfg, opts)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The writer outlives the collector so that it drains the last polls.
	writerCtx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriter()
	writerDone := make(chan error, 1)
	go func() { writerDone <- w.Run(writerCtx) }()
	collDone := make(chan error, 1)
	go func() { collDone <- c.Run(runCtx) }()
	// The publisher too: it settles the acks of the last polls.
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPub()
	pubDone := make(chan error, 1)
	if sink.pub != nil {
		go func() { pubDone <- sink.pub.Run(pubCtx) }()
	} else {
		pubDone <- nil
	}

	// Wait for the first full poll, then warm up.
	first := time.Now()
	for sink.values.Load() < int64(f.n) {
		if time.Since(first) > 2*time.Minute {
			return fmt.Errorf("no complete poll of %d tags within 2 min from %s", f.n, f.endpoint)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(f.warmup):
	}
	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return err
		}
		// 1 kHz instead of 100 Hz: at 1 000 tags the collector uses ~1 % of a
		// core, too little for the default rate to resolve.
		runtime.SetCPUProfileRate(1000)
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	skipped0, readSum0, readN0 := collectorCounters(reg)
	user0, sys0 := cpuTimes()
	v0, t0 := sink.values.Load(), time.Now()
	sink.peakHeap.Store(0)
	end := time.NewTimer(f.duration)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-end.C:
	}
	peakHeap := sink.peakHeap.Load()
	user1, sys1 := cpuTimes()
	v1, t1 := sink.values.Load(), time.Now()
	if f.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	skipped1, readSum1, readN1 := collectorCounters(reg)
	if f.memprofile != "" {
		if err := writeHeapProfile(f.memprofile); err != nil {
			return err
		}
	}
	heap := heapInUse()
	peakHeap = max(peakHeap, heap)
	res := result{
		Tags: f.n, WindowS: t1.Sub(t0).Seconds(), CPUS: (user1 - user0 + sys1 - sys0).Seconds(), SysS: (sys1 - sys0).Seconds(), Values: v1 - v0,
		SkippedTicks: skipped1 - skipped0,
		PeakRSSMB:    procStatusMB("self", "VmHWM"), RSSMB: procStatusMB("self", "VmRSS"),
		PeakHeapMB: float64(peakHeap) / (1 << 20), HeapMB: float64(heap) / (1 << 20),
		Goroutines: runtime.NumGoroutine(),
	}
	if readN1 > readN0 {
		res.ReadP50S = (readSum1 - readSum0) / (readN1 - readN0)
	}
	if res.Values > 0 {
		res.CPUusPerVal = res.CPUS * 1e6 / float64(res.Values)
	}
	res.ValuesPerS = float64(res.Values) / res.WindowS
	res.CPUPercent = 100 * res.CPUS / res.WindowS

	cancel()
	<-collDone
	stopPub()
	if err := <-pubDone; err != nil {
		return fmt.Errorf("JetStream publisher: %w", err)
	}
	stopWriter()
	if err := <-writerDone; err != nil {
		return fmt.Errorf("InfluxDB writer: %w", err)
	}
	res.ReadTotal = sink.values.Load()
	res.WrittenTotal, res.WriteErrors = writerCounters(reg)
	return json.NewEncoder(os.Stdout).Encode(res)
}

func writeHeapProfile(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(pf, 0); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}

// heapInUse is the Go heap in use (objects and the free space of their
// spans, like MemStats.HeapInuse), read without stopping the world.
func heapInUse() uint64 {
	ss := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	metrics.Read(ss)
	var n uint64
	for _, s := range ss {
		if s.Value.Kind() == metrics.KindUint64 {
			n += s.Value.Uint64()
		}
	}
	return n
}

// collectorCounters sums the collector's skipped ticks and read durations.
func collectorCounters(reg *prometheus.Registry) (skipped, readSum, readN float64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, 0
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch {
			case strings.HasSuffix(name, "skipped_ticks_total"):
				skipped += m.GetCounter().GetValue()
			case strings.HasSuffix(name, "read_duration_seconds"):
				readSum += m.GetHistogram().GetSampleSum()
				readN += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return skipped, readSum, readN
}

// writerCounters is what the InfluxDB writer got acknowledged and its errors.
func writerCounters(reg *prometheus.Registry) (written, errs float64) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "linewatch_store_lines_written_total":
				written += m.GetCounter().GetValue()
			case "linewatch_store_write_errors_total":
				errs += m.GetCounter().GetValue()
			}
		}
	}
	return written, errs
}
