package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var errCrash = errors.New("simulated crash")

// fakeClock is clock.Fake recording the duration of every timer the
// Writer arms, so a test can wait for a backoff and read its length.
type fakeClock struct {
	*clock.Fake
	created chan time.Duration // every NewTimer duration, in order
}

func newFakeClock() *fakeClock {
	return &fakeClock{Fake: clock.NewFake(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)), created: make(chan time.Duration, 1000)}
}

func (c *fakeClock) NewTimer(d time.Duration) clock.Timer {
	t := c.Fake.NewTimer(d)
	c.created <- d
	return t
}

// waitTimer returns the next timer duration created that satisfies ok.
func (c *fakeClock) waitTimer(t *testing.T, ok func(time.Duration) bool) time.Duration {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case d := <-c.created:
			if ok(d) {
				return d
			}
		case <-deadline:
			t.Fatal("no timer was started")
		}
	}
}

// testCfg is a config for db on url with a spool under the test's temp dir.
func testCfg(t testing.TB, url, db string) config.InfluxDB {
	gz := true
	return config.InfluxDB{
		URL: url, Database: db, BatchSize: 1000, FlushInterval: time.Hour, Timeout: 5 * time.Second,
		Writers: 2, Gzip: &gz, Spool: config.Spool{Dir: t.TempDir(), MaxSizeMB: 16, FullPolicy: "drop_oldest"},
	}
}

// hooks collects what a running Writer reports.
type hooks struct {
	results chan result
	spooled chan int // lines per spooled batch
}

type runningWriter struct {
	*Writer
	hooks
	reg    *prometheus.Registry
	cancel context.CancelCauseFunc
	done   chan error
}

// newIdleWriter creates a Writer with the test hooks but does not start
// Run, so nothing takes batches off its hand-off queue.
func newIdleWriter(t testing.TB, cfg config.InfluxDB, opts WriterOptions) *runningWriter {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Metrics = reg
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	w, err := NewWriter(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	rw := &runningWriter{Writer: w, reg: reg, done: make(chan error, 1),
		hooks: hooks{results: make(chan result, 10000), spooled: make(chan int, 10000)}}
	w.onResult = func(r result) { rw.results <- r }
	return rw
}

// startWriter creates a Writer with hooks and runs it until the test ends.
func startWriter(t testing.TB, cfg config.InfluxDB, opts WriterOptions) *runningWriter {
	t.Helper()
	rw := newIdleWriter(t, cfg, opts)
	w := rw.Writer
	w.onSpooled = func(b *batch) { rw.spooled <- b.lines }
	w.crashCause = errCrash
	ctx, cancel := context.WithCancelCause(context.Background())
	rw.cancel = cancel
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() { rw.stop(t) })
	return rw
}

func (rw *runningWriter) stop(t testing.TB) {
	rw.cancel(nil)
	select {
	case err := <-rw.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		rw.done <- nil // idempotent
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return 30 s after cancel")
	}
}

func (rw *runningWriter) flush(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (rw *runningWriter) nextResult(t testing.TB) result {
	t.Helper()
	select {
	case r := <-rw.results:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no write result within 30 s")
		return result{}
	}
}

// counter reads a metric (labels: name=value pairs) from the registry.
func (rw *runningWriter) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := rw.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0 // over the label values not given, e.g. every reason
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// testWriter sends slog output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// syncBuffer is a log sink tests can search.
type syncBuffer = testenv.Buffer

var statuses = []uint32{0, 0x40000000 /* Uncertain */, 0x80020000 /* BadInternalError */, 0x00A20000 /* GoodLocalOverride-ish */}

// genSamples makes n deterministic samples starting at index from: five
// tags round-robin, distinct timestamps 1 ms apart with sub-ms digits.
func genSamples(start time.Time, from, n int) []sample.Sample {
	out := make([]sample.Sample, 0, n)
	for i := from; i < from+n; i++ {
		s := sample.Sample{
			Time: start.Add(time.Duration(i)*time.Millisecond + 123456*time.Nanosecond).UTC(),
			Site: "plant-1", Line: "line-a", Machine: "filler-01",
			Tag: fmt.Sprintf("t%d", i%5), Unit: "g",
			Value: valueAt(i), Status: statuses[i%len(statuses)], Batch: "B-2026-001",
		}
		if i%5 == 4 {
			s.Tag, s.Unit, s.Value = "state", "", 0
			s.Text = fmt.Sprintf("running \"phase %d\", operator=jo\\hn\nline2\ttab", i)
		}
		out = append(out, s)
	}
	return out
}

func valueAt(i int) float64 {
	return math.Round((1000+math.Sin(float64(i))*3.3)*1e6)/1e6 + 1e-9*float64(i%7)
}
