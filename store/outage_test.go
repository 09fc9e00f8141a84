package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func createDB(t *testing.T, s *influxd.Server, name string) {
	t.Helper()
	if _, err := s.Query(context.Background(), "", fmt.Sprintf("CREATE DATABASE %q", name)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, c *Client, q SampleQuery) []sample.Sample {
	t.Helper()
	var got []sample.Sample
	for s, err := range c.Samples(context.Background(), q) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	return got
}

func waitSpooled(t *testing.T, w *runningWriter, lines int) {
	t.Helper()
	n := 0
	for n < lines {
		select {
		case l := <-w.spooled:
			n += l
		case <-time.After(30 * time.Second):
			t.Fatalf("spooled %d of %d lines", n, lines)
		}
	}
	if n != lines {
		t.Fatalf("spooled %d lines, want %d", n, lines)
	}
}

// TestOutageSpoolReplay stops InfluxDB while samples keep coming: they go
// to the spool, and after the restart every sample is stored exactly once
// with its value, in time order.
func TestOutageSpoolReplay(t *testing.T) {
	t.Parallel()
	srv := testenv.StartInflux(t, influxd.Options{})
	createDB(t, srv, "plant")
	cfg := testCfg(t, srv.URL(), "plant")
	cfg.BatchSize = 100
	w := startWriter(t, cfg, WriterOptions{BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 1000)

	w.WriteSamples(want[:200])
	w.flush(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	w.WriteSamples(want[200:900]) // 7 sealed batches while InfluxDB is down
	waitSpooled(t, w, 700)
	segs, _ := filepath.Glob(filepath.Join(cfg.Spool.Dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment on disk during the outage")
	}
	if n := w.counter(t, "linewatch_store_write_errors_total", "kind", "network"); n < 1 {
		t.Errorf("network errors = %v", n)
	}
	w.WriteSamples(want[900:]) // arrives during the outage, sent after it

	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.flush(t)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 128})
	compareSamples(t, readAll(t, c, SampleQuery{From: start, To: start.Add(time.Hour)}), want)
	if n := w.counter(t, "linewatch_store_spool_bytes"); n != 0 {
		t.Errorf("spool bytes after replay = %v", n)
	}
	if segs, _ := filepath.Glob(filepath.Join(cfg.Spool.Dir, "*.seg")); len(segs) != 0 {
		t.Errorf("segments left after replay: %v", segs)
	}
	if n := w.counter(t, "linewatch_store_lines_lost_total"); n != 0 {
		t.Errorf("dropped lines = %v", n)
	}
}

// deadURL is a loopback address nothing listens on: connection refused.
func deadURL(t *testing.T) string {
	t.Helper()
	return "http://127.0.0.1:1"
}

// TestCrashAbandonedWriter: a Writer that dies without its shutdown
// (cancelled with errCrash, which skips the drain like a crash would)
// leaves its spool and its journal; a new Writer on the same directory
// sends all of it, the open batch included.
func TestCrashAbandonedWriter(t *testing.T) {
	t.Parallel()
	db := testenv.Influx(t)
	cfg := testCfg(t, deadURL(t), db.Database)
	cfg.BatchSize = 50
	w1 := startWriter(t, cfg, WriterOptions{BackoffMin: time.Hour})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	want := genSamples(start, 0, 600)
	w1.WriteSamples(want[:500])
	waitSpooled(t, w1, 500)
	w1.WriteSamples(want[500:520]) // the open batch: in memory and the journal only
	w1.cancel(errCrash)
	if err := <-w1.done; err != nil {
		t.Fatal(err)
	}
	w1.done <- nil

	cfg.URL = db.URL
	w2 := startWriter(t, cfg, WriterOptions{})
	w2.flush(t)
	compareSamples(t, readAll(t, newClient(t, cfg, ClientOptions{}), SampleQuery{From: start, To: start.Add(time.Hour)}), want[:520])
	if left, _ := filepath.Glob(filepath.Join(cfg.Spool.Dir, "*"+journalExt)); len(left) != 0 {
		t.Errorf("journal files left after the replay was sent: %v", left)
	}
}

const childEnv = "LINEWATCH_STORE_SPOOL_CHILD"

// TestSpoolChildProcess is the child of TestSpoolSurvivesSIGKILL: it
// spools samples to an unreachable InfluxDB and prints the number of lines
// that are durable, until it is killed.
func TestSpoolChildProcess(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("runs only as the child of TestSpoolSurvivesSIGKILL")
	}
	cfg := testCfg(t, deadURL(t), "plant")
	cfg.Spool.Dir = dir
	cfg.BatchSize = 50
	w := startWriter(t, cfg, WriterOptions{BackoffMin: time.Hour})
	// At most 20 batches ahead of the spool, so the kill lands while the
	// writer is busy without the loop outrunning it into the overflow
	// queue's drop policy (another test's subject).
	ahead := make(chan struct{}, 20)
	go func() {
		durable, released := 0, 0
		for n := range w.spooled {
			durable += n
			fmt.Printf("durable %d\n", durable)
			for ; released < durable/50; released++ {
				<-ahead
			}
		}
	}()
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; ; i += 50 {
		ahead <- struct{}{}
		w.WriteSamples(genSamples(start, i, 50))
	}
}

// TestSpoolSurvivesSIGKILL kills a writing process with SIGKILL at an
// arbitrary moment; a new Writer replays its spool: every line reported
// durable is in InfluxDB with its exact value, and a torn last record is
// skipped, not fatal.
func TestSpoolSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolChildProcess$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	durable := 0
	sc := bufio.NewScanner(out)
	for durable < 3000 && sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "durable "); ok {
			durable, _ = strconv.Atoi(n)
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if durable < 3000 {
		t.Fatalf("child reported only %d durable lines before it ended", durable)
	}

	db := testenv.Influx(t)
	cfg := testCfg(t, db.URL, db.Database)
	cfg.Spool.Dir = dir
	w := startWriter(t, cfg, WriterOptions{})
	w.flush(t)
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	got := readAll(t, newClient(t, cfg, ClientOptions{}), SampleQuery{From: start, To: start.Add(24 * time.Hour)})
	if len(got) < durable {
		t.Fatalf("%d lines were durable, %d replayed", durable, len(got))
	}
	want := genSamples(start, 0, len(got))
	for i := range got {
		w := want[i]
		w.Machine, w.Line, w.Site = got[i].Machine, got[i].Line, got[i].Site
		if got[i] != want[i] {
			t.Fatalf("replayed sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	t.Logf("child killed after %d durable lines; %d replayed", durable, len(got))
}

var _ = errors.New
