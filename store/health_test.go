package store

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/testenv"
)

// missingDB is a database name on the shared test InfluxDB that does not
// exist (and is dropped again at cleanup).
func missingDB(t *testing.T) testenv.InfluxDB {
	db := testenv.Influx(t)
	db.Database += "_new"
	t.Cleanup(func() { db.Server.Query(context.Background(), "", fmt.Sprintf("DROP DATABASE %q", db.Database)) })
	return db
}

func conditionsOf(ch <-chan health.Condition, name string, stop func(health.Condition) bool) func(t *testing.T) health.Condition {
	return func(t *testing.T) health.Condition {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case c := <-ch:
				if c.Name == name && stop(c) {
					return c
				}
			case <-timeout:
				t.Fatalf("no %s condition", name)
				return health.Condition{}
			}
		}
	}
}

// Pointed at a real InfluxDB 1.8 without its database, the writer creates
// it (as Telegraf does) and stores everything; no system alarm is raised.
func TestMissingDatabaseIsCreatedIntegration(t *testing.T) {
	t.Parallel()
	db := missingDB(t)
	conds := make(chan health.Condition, 100)
	w := startWriter(t, testCfg(t, db.URL, db.Database), WriterOptions{Health: func(c health.Condition) { conds <- c }})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	w.WriteSamples(genSamples(at, 0, 50))
	w.flush(t)
	if r := w.nextResult(t); r.out != outOK {
		t.Fatalf("write to a missing database: out=%v kind=%s err=%v, want created and written", r.out, r.kind, r.err)
	}
	if n := db.Count(t, "quality", "telemetry", ""); n != 50 {
		t.Errorf("%d points stored, want 50", n)
	}
	c := conditionsOf(conds, health.InfluxWrite, func(health.Condition) bool { return true })(t)
	if c.Active {
		t.Errorf("InfluxDB condition raised although the database could be created: %+v", c)
	}
}

// With influxdb.skip_database_creation the writer keeps the data in the
// spool and raises "InfluxDB refusing writes" with InfluxDB's reason,
// and "spool in use"; once an administrator creates the database both
// clear and the data arrives.
func TestMissingDatabaseNotCreatedRaisesAlarmWithReasonIntegration(t *testing.T) {
	t.Parallel()
	db := missingDB(t)
	cfg := testCfg(t, db.URL, db.Database)
	cfg.SkipDatabaseCreation = true
	cfg.FlushInterval = 20 * time.Millisecond // no Flush: it waits until InfluxDB has everything
	conds := make(chan health.Condition, 100)
	w := startWriter(t, cfg, WriterOptions{Health: func(c health.Condition) { conds <- c }, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	w.WriteSamples(genSamples(at, 0, 20))
	if r := w.nextResult(t); r.out != outRetry || r.kind != errKindAuth {
		t.Fatalf("write: out=%v kind=%s err=%v, want kept for retry", r.out, r.kind, r.err)
	}
	raised := conditionsOf(conds, health.InfluxWrite, func(c health.Condition) bool { return c.Active })(t)
	if !strings.Contains(raised.Reason, "database not found") || raised.Source != health.SourceStore || raised.Priority != health.High {
		t.Errorf("raised %+v: want source store, high, the reason \"database not found\"", raised)
	}
	if c := conditionsOf(conds, health.SpoolInUse, func(c health.Condition) bool { return c.Active })(t); !strings.Contains(c.Reason, "spool") {
		t.Errorf("spool in use: %+v", c)
	}
	if _, err := db.Server.Query(context.Background(), "", fmt.Sprintf("CREATE DATABASE %q", db.Database)); err != nil {
		t.Fatal(err)
	}
	conditionsOf(conds, health.InfluxWrite, func(c health.Condition) bool { return !c.Active })(t)
	conditionsOf(conds, health.SpoolInUse, func(c health.Condition) bool { return !c.Active })(t)
	w.flush(t)
	if n := db.Count(t, "quality", "telemetry", ""); n != 20 {
		t.Errorf("%d points stored after the database was created, want 20", n)
	}
}

// A real disk spool of 1 MiB in front of an InfluxDB address where
// nothing listens: "spool in use" from the first spooled batch, "spool
// above 80 %" once it holds more than 0.8 MiB, with the usage as reason.
func TestSpoolAbove80PercentRaisedIntegration(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	cfg := testCfg(t, dead, "linewatch")
	noGzip := false
	cfg.Gzip, cfg.Spool.MaxSizeMB, cfg.FlushInterval = &noGzip, 1, 10*time.Millisecond
	conds := make(chan health.Condition, 100)
	w := startWriter(t, cfg, WriterOptions{Health: func(c health.Condition) { conds <- c },
		BackoffMin: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond})
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	inUse := conditionsOf(conds, health.SpoolInUse, func(c health.Condition) bool { return c.Active })
	high := conditionsOf(conds, health.SpoolHigh, func(c health.Condition) bool { return c.Active })
	w.WriteSamples(genSamples(at, 0, 100))
	if c := inUse(t); c.Priority != health.Low {
		t.Errorf("spool in use %+v, want low priority", c)
	}
	// About 150 bytes a line: 7 000 lines are more than 0.8 MiB.
	for i := 0; i < 7000; i += 500 {
		w.WriteSamples(genSamples(at, 100+i, 500))
	}
	c := high(t)
	if c.Priority != health.High || !strings.Contains(c.Reason, "of 1 MiB") {
		t.Errorf("spool above 80 %%: %+v, want high priority and the usage in the reason", c)
	}
	if got := w.Writer.sp.Bytes(); float64(got) < 0.8*(1<<20) {
		t.Errorf("raised at %d spool bytes, below 80 %% of 1 MiB", got)
	}
}
