package collector

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/clock"
	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/simulator"
)

func TestNextTickIsAbsolute(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct{ now, want time.Duration }{
		{0, time.Second}, {300 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {1999 * time.Millisecond, 2 * time.Second},
	} {
		if got := nextTick(base.Add(c.now), time.Second); !got.Equal(base.Add(c.want)) {
			t.Errorf("nextTick(+%s) = %s, want +%s", c.now, got.Sub(base), c.want)
		}
	}
}

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
	sink := SinkFunc(func(_ context.Context, ss []sample.Sample) { reads <- clk.Now() })
	reg := prometheus.NewRegistry()
	c := runCollector(t, cfg, Options{Sink: sink, Clock: clk, Registerer: reg})

	waitTimer := func() time.Time {
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
