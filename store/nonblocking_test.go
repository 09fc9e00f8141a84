package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// start runs the writer until the test ends.
func (rw *runningWriter) start(t testing.TB) {
	ctx, cancel := context.WithCancelCause(context.Background())
	rw.cancel = cancel
	go func() { rw.done <- rw.Run(ctx) }()
	t.Cleanup(func() { rw.stop(t) })
}

// writeWithDeadline calls WriteSamples in chunks from another goroutine
// and fails the test if the calls do not return within limit: the
// collector's poll loop must never wait for the writer.
func writeWithDeadline(t *testing.T, w *Writer, ss []sample.Sample, chunk int, limit time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(ss); i += chunk {
			w.WriteSamples(ss[i:min(i+chunk, len(ss))])
		}
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("WriteSamples of %d samples blocked for %v with Run not taking batches", len(ss), limit)
	}
}

func (w *Writer) overflowLen() (batches int, bytes int64) {
	w.ovMu.Lock()
	defer w.ovMu.Unlock()
	return len(w.overflow), w.memBytes
}

// TestWriteSamplesNeverBlocks: with Run not taking batches, far more than
// the 256 batches the hand-off channel holds are written without waiting;
// once Run starts every sample reaches InfluxDB, and the batches are sent
// in the order they were written (later overwrites of the same points win).
func TestWriteSamplesNeverBlocks(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	cfg.BatchSize = 10
	// One sender: results arrive in send order. Gzip stays on: compressed
	// bodies are not recycled through the buffer pool once sent, so the
	// result hook can still read them.
	cfg.Writers = 1
	w := newIdleWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

	first := genSamples(start, 0, 6000) // 600 batches
	rewrite := genSamples(start, 0, 1000)
	for i := range rewrite { // same points, new values: the later write must win
		if rewrite[i].Text != "" {
			rewrite[i].Text += " (v2)"
		} else {
			rewrite[i].Value += 1000
		}
	}
	all := append(append([]sample.Sample(nil), first...), rewrite...)
	writeWithDeadline(t, w.Writer, all, 50, 20*time.Second)

	if n := len(w.sealed); n != cap(w.sealed) {
		t.Fatalf("hand-off channel holds %d batches, want it full (%d)", n, cap(w.sealed))
	}
	if n, _ := w.overflowLen(); n != 700-cap(w.sealed) {
		t.Fatalf("overflow holds %d batches, want %d", n, 700-cap(w.sealed))
	}

	var wantBody bytes.Buffer
	for i := range all {
		var lb lineBuilder
		if err := lb.sample(&all[i], start); err != nil {
			t.Fatal(err)
		}
		wantBody.Write(lb.buf)
	}

	w.start(t)
	w.flush(t)
	var sent bytes.Buffer
	for sent.Len() < wantBody.Len() {
		r := w.nextResult(t)
		if r.out != outOK {
			t.Fatalf("write failed: %v", r.err)
		}
		if !r.b.gz {
			t.Fatal("batch sent without gzip")
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.b.body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(&sent, zr); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := sent.Bytes(), wantBody.Bytes(); !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		lineNo := bytes.Count(want[:i], []byte("\n"))
		t.Fatalf("batches reached InfluxDB in another order than they were written: first difference in line %d (batch %d):\n got %.200s\nwant %.200s",
			lineNo, lineNo/cfg.BatchSize, got[i-min(i, 20):], want[i-min(i, 20):])
	}

	want := append(append([]sample.Sample(nil), rewrite...), first[1000:]...)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 1000})
	compareSamples(t, readAll(t, c, SampleQuery{From: start, To: start.Add(time.Hour)}), want)
	if n := w.counter(t, "linewatch_store_lines_lost_total"); n != 0 {
		t.Errorf("dropped lines = %v, want 0", n)
	}
	if n := w.counter(t, "linewatch_store_lines_written_total"); n != float64(len(all)) {
		t.Errorf("lines written = %v, want %d", n, len(all))
	}
}

// uniformSamples makes samples whose lines all have the same length, so
// every batch of a given size has the same number of bytes.
func uniformSamples(start time.Time, from, n int) []sample.Sample {
	out := make([]sample.Sample, 0, n)
	for i := from; i < from+n; i++ {
		out = append(out, sample.Sample{
			Time: start.Add(time.Duration(i) * time.Millisecond), Site: "plant-1", Line: "line-a",
			Machine: "filler-01", Tag: "w", Unit: "g", Value: float64(100000 + i),
		})
	}
	return out
}

// TestOverflowBoundDropPolicy: when the memory backlog (hand-off channel
// and overflow queue) reaches its bound the full policy applies; drops
// are counted in linewatch_store_lines_lost_total{reason="memory_full"}
// and logged at most once per lossLogEvery, and exactly the expected
// batches reach InfluxDB.
func TestOverflowBoundDropPolicy(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	const (
		batchLines = 10
		keep       = 20 // overflow batches that fit the bound
		extra      = 100
	)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var lb lineBuilder
	for _, s := range uniformSamples(start, 0, batchLines) {
		if err := lb.sample(&s, start); err != nil {
			t.Fatal(err)
		}
	}
	batchBytes := int64(len(lb.buf))

	for _, policy := range []string{"drop_oldest", "drop_newest"} {
		t.Run(policy, func(t *testing.T) {
			cfg := testCfg(t, db.URL, db.Database)
			cfg.Spool.FullPolicy = policy
			cfg.BatchSize = batchLines
			cfg.Writers = 1
			clk := newFakeClock()
			var logs syncBuffer
			w := newIdleWriter(t, cfg, WriterOptions{Clock: clk, OverflowBytes: keep*batchBytes + batchBytes/2,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			// Each policy writes its own time range of one database.
			base := start
			if policy == "drop_newest" {
				base = start.Add(time.Hour)
			}
			nBatches := keep + extra
			ss := uniformSamples(base, 0, nBatches*batchLines)
			writeWithDeadline(t, w.Writer, ss, 35, 20*time.Second)

			if got, want := w.counter(t, "linewatch_store_lines_lost_total", "reason", lostMemoryFull), float64(extra*batchLines); got != want {
				t.Fatalf("lost lines = %v, want %v", got, want)
			}
			if st := w.Status(); st.MemoryLines != keep*batchLines || st.MemoryBytes != keep*batchBytes || st.MemoryPeak > st.MemoryLimit || st.LinesLost != int64(extra*batchLines) {
				t.Fatalf("memory holds %d lines, %d bytes (peak %d, limit %d), lost %d; want %d, %d, %d",
					st.MemoryLines, st.MemoryBytes, st.MemoryPeak, st.MemoryLimit, st.LinesLost, keep*batchLines, keep*batchBytes, extra*batchLines)
			}
			if n := strings.Count(logs.String(), "DATA LOST"); n != 1 {
				t.Fatalf("%d data-loss log lines for %d drops, want 1 (rate-limited):\n%s", n, extra, logs.String())
			}
			// After the rate limit the next drop logs the lines lost since.
			clk.Advance(lossLogEvery)
			more := uniformSamples(base, nBatches*batchLines, batchLines)
			writeWithDeadline(t, w.Writer, more, batchLines, 20*time.Second)
			if !strings.Contains(logs.String(), fmt.Sprintf("lines=%d total_lost=%d", extra*batchLines, (extra+1)*batchLines)) || !strings.Contains(logs.String(), "policy "+policy) {
				t.Fatalf("second data-loss line does not sum the %d lines dropped since the first:\n%s", extra*batchLines, logs.String())
			}
			ss = append(ss, more...)

			var want []sample.Sample
			if policy == "drop_oldest" {
				want = append(want, ss[len(ss)-keep*batchLines:]...)
			} else {
				want = append(want, ss[:keep*batchLines]...)
			}
			w.start(t)
			w.flush(t)
			c := newClient(t, cfg, ClientOptions{ChunkSize: 1000})
			compareSamples(t, readAll(t, c, SampleQuery{From: base, To: base.Add(time.Hour)}), want)
			if got, wantN := w.counter(t, "linewatch_store_lines_written_total"), float64(len(want)); got != wantN {
				t.Errorf("lines written = %v, want %v", got, wantN)
			}
		})
	}
}

// TestWriteAfterStopCounted: a write after Run returned is not left in a
// queue nobody reads; it is counted and logged as lost.
func TestWriteAfterStopCounted(t *testing.T) {
	t.Parallel()
	cfg := testCfg(t, deadURL(t), "plant")
	cfg.BatchSize = 1
	var logs syncBuffer
	w := newIdleWriter(t, cfg, WriterOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w.start(t)
	w.stop(t)
	w.WriteSamples(uniformSamples(time.Now(), 0, 3))
	if got := w.counter(t, "linewatch_store_lines_lost_total"); got != 3 {
		t.Fatalf("dropped lines after stop = %v, want 3", got)
	}
	if !strings.Contains(logs.String(), "written after the writer stopped") {
		t.Fatalf("no log line for the lost write:\n%s", logs.String())
	}
}

// TestStuckSpoolDoesNotBlockWriters: Run is alive but stuck in a spool
// append (the fault of a hung disk, which a real disk cannot produce on
// demand, is made by the onSpooled hook). Writers still return at once;
// when the disk comes back and the writer stops, everything is spooled in
// order, and a new writer on the same spool delivers every sample.
func TestStuckSpoolDoesNotBlockWriters(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, deadURL(t), db.Database)
	cfg.BatchSize = 10
	w := newIdleWriter(t, cfg, WriterOptions{BackoffMin: time.Hour})
	stuck, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	w.onSpooled = func(*batch) {
		once.Do(func() { close(stuck) })
		<-release
	}
	w.start(t)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 4000) // 400 batches
	w.WriteSamples(want[:10])          // fails to send, so Run spools it and hangs
	select {
	case <-stuck:
	case <-time.After(30 * time.Second):
		t.Fatal("Run never spooled the batch it could not send")
	}
	writeWithDeadline(t, w.Writer, want[10:], 25, 20*time.Second)
	if n, _ := w.overflowLen(); n == 0 {
		t.Fatal("nothing in the overflow queue while Run was stuck")
	}
	close(release)
	w.stop(t)
	if n := w.counter(t, "linewatch_store_lines_lost_total"); n != 0 {
		t.Fatalf("dropped lines = %v, want 0", n)
	}

	cfg.URL = db.URL
	w2 := startWriter(t, cfg, WriterOptions{})
	w2.flush(t)
	compareSamples(t, readAll(t, newClient(t, cfg, ClientOptions{ChunkSize: 1000}), SampleQuery{From: start, To: start.Add(time.Hour)}), want)
}

// BenchmarkWriteSamplesStuckRun: cost of one 500-value poll when Run takes
// nothing, so every sealed batch goes through the overflow queue and, once
// it is full, evicts the oldest batch (the worst case of a stuck disk).
//
//	go test ./store -run '^$' -bench WriteSamplesStuckRun -benchmem
func BenchmarkWriteSamplesStuckRun(b *testing.B) {
	cfg := config.InfluxDB{URL: "http://127.0.0.1:1", Database: "plant", BatchSize: 1000}
	w, err := NewWriter(cfg, WriterOptions{OverflowBytes: 8 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ss := benchPlant()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		for j := range ss {
			ss[j].Time = t0.Add(time.Duration(i) * time.Second)
		}
		w.WriteSamples(ss)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N*len(ss)), "cpu-ns/value")
}
