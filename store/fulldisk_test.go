package store

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/influxd"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// mountTmpfs mounts a tmpfs of size bytes on a new directory: a real
// filesystem that fills up. It needs root; the test is skipped otherwise.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: a full disk is made with a small tmpfs, and mounting one needs root (run the test as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("skipped: mount -t tmpfs -o size=%s tmpfs %s: %v (no CAP_SYS_ADMIN in this container?)", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes path until the filesystem has no space left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", path, err)
			}
			return
		}
	}
}

// TestFullDiskAndInfluxDownIntegration: InfluxDB is stopped and the spool
// is on a real filesystem that is full. The writer holds batches in
// memory up to influxdb.memory_limit_mb, then drops per full_policy (the
// oldest or the newest) with one DATA LOST line and counts every lost
// line. When disk space returns the backlog goes to the spool, and when
// InfluxDB is back exactly the samples not dropped are stored. Or
// InfluxDB comes back first, the disk still full: the backlog goes to it
// directly, nothing through the spool.
func TestFullDiskAndInfluxDownIntegration(t *testing.T) {
	for _, c := range []struct {
		policy      string
		influxFirst bool
	}{{"drop_oldest", false}, {"drop_newest", false}, {"drop_oldest", true}} {
		name := c.policy
		if c.influxFirst {
			name += "/influxdb_back_first"
		}
		t.Run(name, func(t *testing.T) { testFullDiskAndInfluxDown(t, c.policy, c.influxFirst) })
	}
}

func testFullDiskAndInfluxDown(t *testing.T, policy string, influxFirst bool) {
	mnt := mountTmpfs(t, "1m")
	srv := testenv.StartInflux(t, influxd.Options{})
	createDB(t, srv, "plant")
	cfg := testCfg(t, srv.URL(), "plant")
	cfg.Spool.Dir = filepath.Join(mnt, "spool")
	cfg.BatchSize = 100
	cfg.Writers = 1
	cfg.MemoryLimitMB = 1
	cfg.Spool.FullPolicy = policy
	cfg.FlushInterval = time.Second
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler)

	// The writer's clock is advanced by the test only, so no flush tick
	// or backoff expiry retries anything until the faults are gone; then
	// a driver lets its time pass (until the writer has stopped).
	clk := newFakeClock()
	var driving atomic.Bool
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) }) // runs after the writer's stop
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if driving.Load() {
					clk.Advance(500 * time.Millisecond)
				}
			}
		}
	}()
	var logs syncBuffer
	w := startWriter(t, cfg, WriterOptions{Clock: clk, BackoffMin: time.Second, BackoffMax: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	start := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const n = 30_000 // ≈ 3.5 MB of line protocol: three times the bound
	all := genSamples(start, 0, n)

	w.WriteSamples(all[:100]) // one batch: the send fails, the spool refuses it
	if r := w.nextResult(t); r.out != outRetry {
		t.Fatalf("first write: outcome %v (%v), want a retryable failure", r.out, r.err)
	}
	go func() { // test hooks that would block Run once full: the probes' results (many while InfluxDB is down) and the fake clock's timer log
		for {
			select {
			case <-stop:
				return
			case <-w.results:
			case <-clk.created: // NewTimer records every timer; keep it from blocking Run
			}
		}
	}()
	for i := 100; i < n; i += 500 {
		w.WriteSamples(all[i:min(i+500, n)])
		if st := w.Status(); st.MemoryBytes > st.MemoryLimit {
			t.Fatalf("after %d samples memory holds %d bytes, bound %d", i+500, st.MemoryBytes, st.MemoryLimit)
		}
	}
	st := w.Status()
	t.Logf("during the faults: %+v", st)
	if st.MemoryLimit != 1<<20 || st.MemoryPeak > st.MemoryLimit || st.MemoryBytes < st.MemoryLimit/2 {
		t.Errorf("memory limit %d (want 1 MiB from influxdb.memory_limit_mb), peak %d, now %d", st.MemoryLimit, st.MemoryPeak, st.MemoryBytes)
	}
	if st.SpoolError == nil || !errors.Is(st.SpoolError, syscall.ENOSPC) {
		t.Errorf("Status.SpoolError = %v, want no space left on device", st.SpoolError)
	}
	lost := int(w.counter(t, "linewatch_store_lines_lost_total", "reason", lostMemoryFull))
	if lost == 0 || lost+st.MemoryLines != n || st.LinesLost != int64(lost) {
		t.Fatalf("lost %d (Status %d) + held in memory %d lines, want > 0 and a sum of %d", lost, st.LinesLost, st.MemoryLines, n)
	}
	if got := w.counter(t, "linewatch_store_memory_bytes"); got != float64(st.MemoryBytes) {
		t.Errorf("linewatch_store_memory_bytes = %v, want %d", got, st.MemoryBytes)
	}
	out := logs.String()
	if c := strings.Count(out, "DATA LOST"); c != 1 {
		t.Errorf("%d DATA LOST lines, want 1 (rate-limited):\n%s", c, out)
	}
	if c := strings.Count(out, "level=ERROR"); c > 3 { // DATA LOST, disk refuses, InfluxDB down
		t.Errorf("%d ERROR lines during the faults, want at most 3:\n%s", c, out)
	}

	if influxFirst {
		// InfluxDB is back, the disk still full: the probes find it and
		// the backlog is sent from memory, in order.
		if err := srv.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		driving.Store(true)
		w.flush(t)
		if st := w.Status(); st.MemoryBytes != 0 || st.SpoolBytes != 0 || st.SpoolError == nil {
			t.Errorf("after InfluxDB came back with the disk full: %+v; want nothing in memory or the spool, the disk error kept", st)
		}
		checkStored(t, w, cfg, all, start, lost, policy)
		// Space returns with nothing to spool: the disk is checked at the
		// flush ticks, so the status does not keep a stale error.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for w.Status().SpoolError != nil {
			if time.Now().After(deadline) {
				t.Fatalf("spool error still reported 30 s after disk space returned: %v", w.Status().SpoolError)
			}
			time.Sleep(10 * time.Millisecond) // polling the writer's state, not timing it
		}
		return
	}

	// Disk space returns; InfluxDB is still down: the backlog is spooled.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	driving.Store(true) // flush ticks and backoff expiries retry the disk
	deadline := time.Now().Add(30 * time.Second)
	for st = w.Status(); st.MemoryBytes > 0 || st.SpoolError != nil; st = w.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("backlog not spooled once disk space returned: %+v", st)
		}
		time.Sleep(10 * time.Millisecond) // polling the writer's state, not timing it
	}
	if st.SpoolBytes == 0 {
		t.Errorf("nothing in the spool after the backlog moved: %+v", st)
	}
	if !strings.Contains(logs.String(), "spool disk takes writes again") {
		t.Errorf("no log line for the disk's return:\n%s", logs.String())
	}

	// InfluxDB is back: everything not dropped is stored.
	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.flush(t)
	checkStored(t, w, cfg, all, start, lost, policy)
}

// checkStored: InfluxDB holds exactly the samples not counted as lost.
func checkStored(t *testing.T, w *runningWriter, cfg config.InfluxDB, all []sample.Sample, start time.Time, lost int, policy string) {
	t.Helper()
	n := len(all)
	c := newClient(t, cfg, ClientOptions{ChunkSize: 5000})
	got := readAll(t, c, SampleQuery{From: start, To: start.Add(time.Hour)})
	if len(got) != n-lost {
		t.Fatalf("InfluxDB holds %d samples, want %d written − %d counted lost = %d", len(got), n, lost, n-lost)
	}
	if policy == "drop_oldest" {
		compareSamples(t, got, all[lost:])
	} else {
		compareSamples(t, got, all[:n-lost])
	}
	if got := w.counter(t, "linewatch_store_lines_lost_total"); got != float64(lost) {
		t.Errorf("lines lost after recovery = %v, want still %d", got, lost)
	}
}
