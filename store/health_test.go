package store

import (
	"context"
	"fmt"
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

func TestSpoolAbove80PercentRaised(t *testing.T) {
	var got []health.Condition
	w := &Writer{spoolMax: 100, clock: realClock{}, sp: &memSpool{}}
	w.health.report = func(c health.Condition) { got = append(got, c) }
	w.sp = fakeUsage{pending: 3, bytes: 81}
	w.reportHealth(result{out: outRetry, kind: errKindNetwork})
	var hi *health.Condition
	for i := range got {
		if got[i].Name == health.SpoolHigh {
			hi = &got[i]
		}
	}
	if hi == nil || !hi.Active || !strings.Contains(hi.Reason, "81 %") {
		t.Fatalf("conditions %+v: want spool above 80 %% active with its usage", got)
	}
	got = nil
	w.sp = fakeUsage{}
	w.reportHealth(result{out: outOK})
	if len(got) != 3 || got[0].Active || got[1].Active || got[2].Active {
		t.Fatalf("after the spool drained: %+v, want InfluxDB, spool in use, spool high cleared", got)
	}
}

// fakeUsage stands in for a spool's size only (a spool over 80 % of a
// real limit is tested by the spool tests' sizes, not reproduced here).
type fakeUsage struct {
	spool
	pending int
	bytes   int64
}

func (f fakeUsage) Pending() int { return f.pending }
func (f fakeUsage) Bytes() int64 { return f.bytes }
