package store

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// TestCloseBeforeRunIntegration: a Writer closed before Run ever ran (a
// start-up that failed after NewWriter) releases its spool directory, and
// what it accepted reaches InfluxDB through the next Writer on the
// directory; the closed Writer refuses to run, flush or take writes.
func TestCloseBeforeRunIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB")
	}
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	start := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	written := genSamples(start, 0, 2500) // two sealed batches and an open one
	w1 := newIdleWriter(t, cfg, WriterOptions{})
	w1.WriteSamples(written)
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w1.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w1.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("Run after Close: %v, want an error", err)
	}
	if err := w1.Flush(context.Background()); !errors.Is(err, ErrWriterStopped) {
		t.Errorf("Flush after Close: %v, want ErrWriterStopped", err)
	}
	w1.WriteSamples(genSamples(start, 2500, 7))
	w1.WritePoint(BatchRecord{Time: start, Site: "plant-1", Line: "line-a", Batch: "B", Event: "start"}.Point())
	if n := w1.counter(t, "linewatch_store_lines_lost_total", "reason", lostStopped); n != 8 {
		t.Errorf("lines lost after Close = %v, want 8", n)
	}

	w2 := startWriter(t, cfg, WriterOptions{}) // fails if the directory is still locked
	w2.flush(t)
	c := newClient(t, cfg, ClientOptions{})
	var got []sample.Sample
	for s, err := range c.Samples(context.Background(), SampleQuery{Site: "plant-1", From: start, To: start.Add(time.Hour)}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	compareSamples(t, got, written)
}

// TestCloseStopsRun: Close cancels a running Writer, waits for Run to
// spool what InfluxDB did not take, and releases the directory.
func TestCloseStopsRun(t *testing.T) {
	cfg := testCfg(t, "http://127.0.0.1:1", "db") // nothing listens: every send fails
	w := newIdleWriter(t, cfg, WriterOptions{DrainTimeout: time.Millisecond})
	go func() { w.done <- w.Run(context.Background()) }()
	// Close must find Run running: before it starts, Close takes the
	// never-started path (TestCloseWithoutSpoolDir) and Run then refuses.
	for !w.started.Load() {
		runtime.Gosched()
	}
	w.WriteSamples(genSamples(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), 0, 10))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returns once Run has drained and spooled (the spool check
	// below proves it); Run's value reaches this goroutine just after.
	if err := <-w.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w2 := newIdleWriter(t, cfg, WriterOptions{})
	defer w2.Close()
	if st := w2.Status(); st.SpoolBytes == 0 {
		t.Errorf("the next Writer finds an empty spool: %+v", st)
	}
}

// TestCloseWithoutSpoolDir: without a spool directory nothing survives a
// Writer closed before Run, and every line is counted lost.
func TestCloseWithoutSpoolDir(t *testing.T) {
	cfg := testCfg(t, "http://127.0.0.1:1", "db")
	cfg.Spool.Dir = ""
	w := newIdleWriter(t, cfg, WriterOptions{})
	w.WriteSamples(genSamples(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), 0, 1500))
	w.Close()
	if n := w.counter(t, "linewatch_store_lines_lost_total", "reason", lostStopped); n != 1500 {
		t.Errorf("lines lost = %v, want 1500", n)
	}
}
