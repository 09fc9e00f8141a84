package collector

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

// TestSlowReadSkipsTicksWithoutPileUp uses an injected clock: the clock
// jumps 3.5 intervals while a read is due, which is what a server that
// answers late looks like to the scheduler. Exactly one read must follow,
// the two ticks it overran (+2 s, +3 s) counted as skipped, and the next read lands on the interval grid.
func TestSlowReadSkipsTicksWithoutPileUp(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{PollInterval: "1s"})
	cfg.Lines[0].Machines = cfg.Lines[0].Machines[:1] // filler only
	clk := clock.NewFake(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC))
	reads := make(chan time.Time, 100)
	sink := readFunc(func(context.Context, *sample.Read) { reads <- clk.Now() })
	reg := prometheus.NewRegistry()
	c := runCollector(t, cfg, Options{Output: sink, Clock: clk, Registerer: reg})

	waitTimer := func() time.Time { t.Helper(); return armedTimer(t, clk) }
	first := waitTimer()
	if first.Sub(first.Truncate(time.Second)) != 0 {
		t.Fatalf("first tick %s is not on the 1 s grid", first)
	}
	clk.Advance(first.Sub(clk.Now()))
	<-reads
	next := waitTimer()
	if next.Sub(first) != time.Second {
		t.Fatalf("next tick %s after %s: want exactly one interval", next, first)
	}
	// The read is due; the clock jumps 3.5 s before the poller looks again.
	clk.Advance(3500 * time.Millisecond)
	at := <-reads
	after := waitTimer()
	select {
	case extra := <-reads:
		t.Fatalf("a second read at %s: ticks piled up", extra)
	default:
	}
	if !after.Equal(first.Add(4*time.Second)) || after.Sub(at) <= 0 {
		t.Errorf("after the slow tick the next is at %s, want %s (on the grid, in the future)", after, first.Add(4*time.Second))
	}
	if n := counterValue(c.met.skipped.WithLabelValues("filling1", "filler", "process")); n != 2 {
		t.Errorf("skipped ticks = %v, want 2", n)
	}
}

// TestWallClockStepsDoNotStallPolling steps the wall clock 60 s back and
// then 60 s forward while polling every 500 ms, the fake clock keeping
// monotonic time apart from the wall clock as the kernel does. Polls wait
// on monotonic time, so each 15 s has exactly 30 reads whatever the wall
// clock says; each step is counted once, and the grid re-aligns to the
// new wall time (reads land on multiples of 500 ms of it).
func TestWallClockStepsDoNotStallPolling(t *testing.T) {
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	cfg := testConfig(t, sim.Endpoint(), machineOpts{PollInterval: "500ms"})
	cfg.Lines[0].Machines = cfg.Lines[0].Machines[:1] // filler only
	start := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	reads := make(chan time.Time, 100)
	sink := readFunc(func(context.Context, *sample.Read) { reads <- clk.Now() })
	reg := prometheus.NewRegistry()
	var logs stepLog
	c := runCollector(t, cfg, Options{Output: sink, Clock: clk, Registerer: reg, Logger: slog.New(&logs)})

	// run lets d of (monotonic) time pass tick by tick and returns the
	// wall times of the reads, checking each is on the 500 ms grid.
	run := func(d time.Duration) []time.Time {
		t.Helper()
		end := clk.Monotonic() + d
		var got []time.Time
		for {
			at := armedTimer(t, clk)
			wait := at.Sub(clk.Now())
			if clk.Monotonic()+wait > end {
				clk.Advance(end - clk.Monotonic())
				return got
			}
			clk.Advance(wait)
			select {
			case r := <-reads:
				if r.Sub(r.Truncate(500*time.Millisecond)) != 0 {
					t.Errorf("read at %s is not on the 500 ms grid of the wall clock", r.Format(time.RFC3339Nano))
				}
				got = append(got, r)
			case <-time.After(deadline):
				t.Fatalf("no read after the tick at %s", at.Format(time.RFC3339Nano))
			}
		}
	}
	if n := len(run(5 * time.Second)); n != 10 {
		t.Errorf("%d reads in the 5 s before the step, want 10", n)
	}
	clk.StepWall(-60 * time.Second)
	back := run(15 * time.Second)
	if len(back) != 30 {
		t.Errorf("%d reads in the 15 s after a 60 s backward step, want 30 (polling stalled?)", len(back))
	}
	if len(back) > 0 && !back[0].Before(start) {
		t.Errorf("first read after the backward step at %s: the grid did not follow the wall clock back", back[0].Format(time.RFC3339Nano))
	}
	clk.StepWall(60 * time.Second)
	fwd := run(15 * time.Second)
	if len(fwd) != 30 {
		t.Errorf("%d reads in the 15 s after a 60 s forward step, want 30 (ticks piled up or stalled?)", len(fwd))
	}
	if n := counterValue(c.met.clockSteps); n != 2 {
		t.Errorf("clock steps counted = %v, want 2", n)
	}
	if n := counterValue(c.met.skipped.WithLabelValues("filling1", "filler", "process")); n != 0 {
		t.Errorf("skipped ticks = %v, want 0", n)
	}
	if got := logs.steps(); !slices.Equal(got, []float64{-60, 60}) {
		t.Errorf("WARN log lines of steps (seconds) = %v, want exactly [-60 60]", got)
	}
}

// stepLog records the step_seconds of the collector's clock-step warnings.
type stepLog struct {
	mu   sync.Mutex
	secs []float64
}

func (l *stepLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *stepLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *stepLog) WithGroup(string) slog.Handler            { return l }
func (l *stepLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level != slog.LevelWarn || !strings.Contains(r.Message, "wall clock stepped") {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "step_seconds" {
			l.mu.Lock()
			l.secs = append(l.secs, a.Value.Float64())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *stepLog) steps() []float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.secs)
}

// TestReadIDNeverGoesBack: after a backward step the grid repeats wall
// times; the ids naming reads in JetStream (deduplicated) stay unique.
func TestReadIDNeverGoesBack(t *testing.T) {
	var p poller
	t0 := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	seen := map[time.Time]bool{}
	for _, tick := range []time.Time{t0, t0.Add(time.Second), t0.Add(-59 * time.Second), t0.Add(-58 * time.Second), t0.Add(2 * time.Second)} {
		id := p.readID(tick)
		if seen[id] {
			t.Fatalf("read id %s repeated", id.Format(time.RFC3339Nano))
		}
		seen[id] = true
	}
	if got := p.readID(t0.Add(3 * time.Second)); !got.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("read id %s, want the tick itself once past the old ones", got)
	}
}

// armedTimer waits until the poller has armed its tick timer and returns
// when (wall time) it fires.
func armedTimer(t *testing.T, clk *clock.Fake) time.Time {
	t.Helper()
	timeout := time.After(deadline)
	for {
		if at, ok := clk.NextAt(); ok {
			return at
		}
		select {
		case <-clk.Changed():
		case <-timeout:
			t.Fatal("poller never armed its tick timer")
		}
	}
}
