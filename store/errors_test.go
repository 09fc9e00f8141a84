package store

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// TestPartialWriteNotRetried: InfluxDB 1.8 answers a field type conflict
// with 400 "partial write", stores the good lines and drops the bad ones.
// The writer does not retry, counts the rejected lines and logs the first
// bad line.
func TestPartialWriteNotRetried(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	logs := &syncBuffer{}
	w := startWriter(t, cfg, WriterOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	// "value" becomes a string field in this shard...
	w.WritePoint(Point{Measurement: "telemetry", Tags: []Tag{{"site", "s"}}, Fields: []Field{{"value", "oops"}}, Time: at})
	w.flush(t)
	if r := w.nextResult(t); r.out != outOK {
		t.Fatalf("first write: %+v", r)
	}
	// ...so float values conflict; the batch point does not.
	ss := genSamples(at, 1, 3)
	for i := range ss {
		ss[i].Text = ""
	}
	w.WriteSamples(ss)
	w.WritePoint(BatchRecord{Time: at, Site: "s", Line: "l", Batch: "B1", Event: "start"}.Point())
	w.flush(t)
	r := w.nextResult(t)
	if r.out != outReject || r.kind != errKindPartial || r.status != http.StatusBadRequest {
		t.Fatalf("conflicting write: out=%v kind=%s status=%d err=%v", r.out, r.kind, r.status, r.err)
	}
	if n := w.counter(t, "linewatch_store_retries_total"); n != 0 {
		t.Errorf("retries = %v, want 0", n)
	}
	if n := w.counter(t, "linewatch_store_write_errors_total", "kind", "partial"); n != 1 {
		t.Errorf("partial write errors = %v", n)
	}
	if n := w.counter(t, "linewatch_store_rejected_lines_total"); n != 3 {
		t.Errorf("rejected lines = %v, want 3", n)
	}
	if n := db.Count(t, "event", "batches", ""); n != 1 {
		t.Errorf("good line of the partial write stored %d times", n)
	}
	if !strings.Contains(logs.String(), `first_bad_line="telemetry,batch=B-2026-001,line=line-a,machine=filler-01,site=plant-1,tag_name=t1,unit=g quality=1073741824i,value=`) {
		t.Errorf("first bad line not logged: %s", logs.String())
	}
	select {
	case r := <-w.results:
		t.Fatalf("rejected batch was sent again: %+v", r)
	default:
	}
}

// TestThrottleAndServerErrorRetried uses a tiny HTTP server because real
// InfluxDB cannot be made to answer 429 or 500 on demand. It checks that
// Retry-After is honoured exactly (no request before it, on the injected
// clock), that 500 is retried with backoff, and that bodies are gzip'd.
func TestThrottleAndServerErrorRetried(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	answers := []func(http.ResponseWriter){
		func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"engine: cache full"}`)
		},
		func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) },
	}
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("Content-Encoding = %q", r.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body: %v", err)
			return
		}
		b, _ := io.ReadAll(zr)
		bodies = append(bodies, string(b))
		answers[min(len(bodies), len(answers))-1](w)
	}))
	t.Cleanup(fake.Close)
	cfg := testCfg(t, fake.URL, "plant")
	clk := newFakeClock()
	w := startWriter(t, cfg, WriterOptions{Clock: clk, BackoffMin: time.Second, BackoffMax: time.Minute})
	w.WriteSamples(genSamples(clk.Now(), 0, 5))
	flushed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		flushed <- w.Flush(ctx)
	}()

	if r := w.nextResult(t); r.kind != errKindThrottle || r.retryAfter != 7*time.Second {
		t.Fatalf("first answer: %+v", r)
	}
	if d := clk.waitTimer(t, func(d time.Duration) bool { return d != cfg.FlushInterval }); d != 7*time.Second {
		t.Fatalf("backoff after 429 with Retry-After: 7 is %v", d)
	}
	clk.Advance(7*time.Second - time.Nanosecond)
	mu.Lock()
	n := len(bodies)
	mu.Unlock()
	if n != 1 {
		t.Fatalf("%d requests before Retry-After elapsed", n)
	}
	clk.Advance(time.Nanosecond)
	if r := w.nextResult(t); r.kind != errKindServer || r.status != 500 || !strings.Contains(r.err.Error(), "engine: cache full") {
		t.Fatalf("second answer: %+v", r)
	}
	// Second failure: min·2 = 2 s with jitter in [1 s, 2 s].
	d := clk.waitTimer(t, func(d time.Duration) bool { return d != cfg.FlushInterval })
	if d < time.Second || d > 2*time.Second {
		t.Fatalf("backoff after the second failure = %v, want 1–2 s", d)
	}
	clk.Advance(d)
	if r := w.nextResult(t); r.out != outOK {
		t.Fatalf("third answer: %+v", r)
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 3 || bodies[0] != bodies[2] || strings.Count(bodies[2], "telemetry,") != 5 {
		t.Fatalf("bodies: %q", bodies)
	}
	if n := w.counter(t, "linewatch_store_retries_total"); n != 2 {
		t.Errorf("retries = %v, want 2", n)
	}
}

// TestV2APIAndAuth writes through /api/v2/write with bucket "db/rp" and a
// "user:password" token (InfluxDB 1.8's v2 compatibility), queries with
// the same token, and checks that a wrong token keeps the data spooled
// instead of dropping it.
func TestV2APIAndAuth(t *testing.T) {
	t.Parallel()
	srv := testenv.StartInflux(t, influxd.Options{Auth: true, User: "admin", Password: "s3cret"})
	createDB(t, srv, "plant")
	cfg := testCfg(t, srv.URL(), "")
	cfg.Database, cfg.Bucket = "", "plant/autogen"
	cfg.TokenFile = filepath.Join(t.TempDir(), "token")
	os.WriteFile(cfg.TokenFile, []byte("admin:s3cret\n"), 0o600)
	w := startWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 50)
	w.WriteSamples(want)
	w.flush(t)
	if !strings.Contains(w.ep.writeURL, "/api/v2/write?bucket=plant%2Fautogen") {
		t.Fatalf("write URL %s", w.ep.writeURL)
	}
	compareSamples(t, readAll(t, newClient(t, cfg, ClientOptions{}), SampleQuery{From: start, To: start.Add(time.Hour)}), want)

	os.WriteFile(cfg.TokenFile, []byte("admin:wrong\n"), 0o600)
	cfg.Spool.Dir = t.TempDir()
	cfg.BatchSize = 10
	bad := startWriter(t, cfg, WriterOptions{BackoffMin: time.Hour})
	bad.WriteSamples(genSamples(start, 50, 10))
	waitSpooled(t, bad, 10)
	if r := bad.nextResult(t); r.kind != errKindAuth || r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %+v", r)
	}
	if n := bad.counter(t, "linewatch_store_rejected_lines_total"); n != 0 {
		t.Fatalf("wrong token dropped %v lines", n)
	}
	if _, err := NewClient(cfg, ClientOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownSpoolsWithinBound: cancelling Run while InfluxDB is
// unreachable returns within the drain bound and leaves every sealed
// sample in the spool for the next start.
func TestShutdownSpoolsWithinBound(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, "http://127.0.0.1:1", db.Database)
	w := startWriter(t, cfg, WriterOptions{BackoffMin: time.Hour, DrainTimeout: time.Second})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 300)
	w.WriteSamples(want) // one open batch: sealed by the shutdown
	w.stop(t)
	cfg.URL = db.URL
	w2 := startWriter(t, cfg, WriterOptions{})
	w2.flush(t)
	compareSamples(t, readAll(t, newClient(t, cfg, ClientOptions{}), SampleQuery{From: start, To: start.Add(time.Hour)}), want)
	if err := w.Flush(context.Background()); err != ErrWriterStopped {
		t.Fatalf("Flush after stop: %v", err)
	}
}

// TestSamplesEarlyStopAndFilters: a consumer that stops early ends the
// streamed query; tag filters and quoting work.
func TestSamplesEarlyStopAndFilters(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	w := startWriter(t, cfg, WriterOptions{})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	all := genSamples(start, 0, 1000)
	odd := sample.Sample{Time: start, Site: "plant-1", Line: "line-a", Machine: "o'brien \"m\"", Tag: `t\1`, Value: 7}
	w.WriteSamples(append(all, odd))
	w.flush(t)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 50})
	n := 0
	for s, err := range c.Samples(context.Background(), SampleQuery{Machine: "filler-01", Tags: []string{"t1", "t3"}, From: start, To: start.Add(time.Hour)}) {
		if err != nil {
			t.Fatal(err)
		}
		if s.Tag != "t1" && s.Tag != "t3" {
			t.Fatalf("filter leaked %+v", s)
		}
		if n++; n == 120 {
			break
		}
	}
	if n != 120 {
		t.Fatalf("read %d", n)
	}
	got := readAll(t, c, SampleQuery{Machine: odd.Machine, Tags: []string{odd.Tag}, From: start, To: start.Add(time.Hour)})
	if len(got) != 1 || got[0] != odd {
		t.Fatalf("quoted query: %+v", got)
	}
	for _, err := range c.Samples(context.Background(), SampleQuery{From: start, To: start}) {
		if err == nil {
			t.Fatal("empty range accepted")
		}
	}
}

// TestShutdownDrainBoundWithHungServer: an InfluxDB that accepts the
// request and never answers (a fault the real one cannot be made to show
// on demand, hence the tiny HTTP server) must not hold up shutdown longer
// than DrainTimeout; the unanswered batch is spooled and later delivered.
func TestShutdownDrainBoundWithHungServer(t *testing.T) {
	t.Parallel()
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices the client leaving only after the body
		<-r.Context().Done()
	}))
	t.Cleanup(hung.Close)
	db := testenv.Influx(t)
	cfg := testCfg(t, hung.URL, db.Database)
	cfg.Timeout = time.Hour
	w := startWriter(t, cfg, WriterOptions{DrainTimeout: 200 * time.Millisecond})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 1500) // one batch sent (hangs), one open
	w.WriteSamples(want)
	w.stop(t)
	if n := w.counter(t, "linewatch_store_lines_lost_total"); n != 0 {
		t.Fatalf("dropped %v", n)
	}
	cfg.URL = db.URL
	w2 := startWriter(t, cfg, WriterOptions{})
	w2.flush(t)
	compareSamples(t, readAll(t, newClient(t, cfg, ClientOptions{}), SampleQuery{From: start, To: start.Add(time.Hour)}), want)
}
