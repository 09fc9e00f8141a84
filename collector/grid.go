package collector

import (
	"time"

	"github.com/linewatch/linewatch/internal/clock"
)

// grid schedules ticks on multiples of an interval of wall time — so
// the ticks of every poller fall together and samples carry round
// times — while waiting on monotonic time, so a wall clock stepped back
// does not stall the ticks for the length of the step and one stepped
// forward does not make ticks pile up. When clock.Steps sees a step, the grid
// is re-aligned to the new wall time at the next tick.
type grid struct {
	clk      clock.Clock
	steps    *clock.Steps
	interval time.Duration
	gen      uint64
	tick     time.Time     // wall time of the next tick, on the grid
	due      time.Duration // monotonic time of the next tick
}

// newGrid returns a grid whose first tick is the first multiple of
// interval after the current wall time.
func newGrid(clk clock.Clock, steps *clock.Steps, interval time.Duration) *grid {
	g := &grid{clk: clk, steps: steps, interval: interval}
	g.gen = steps.Check()
	g.align(clk.Now(), clk.Monotonic(), false)
	return g
}

// align puts the next tick on the first multiple of interval after wall
// (at or before it when due is true: that tick is due now).
func (g *grid) align(wall time.Time, mono time.Duration, due bool) {
	t := wall.Truncate(g.interval)
	if !due {
		t = t.Add(g.interval)
	}
	g.tick = t
	g.due = mono + t.Sub(wall)
}

// Wait is the monotonic time until the next tick (≤ 0: due).
func (g *grid) Wait() time.Duration { return g.due - g.clk.Monotonic() }

// Fire is called when the wait is over. It returns the wall time of the
// tick (its place on the grid); after a step of the wall clock the grid
// is re-aligned first, and the tick is the grid point just before now.
func (g *grid) Fire() time.Time {
	if gen := g.steps.Check(); gen != g.gen {
		g.gen = gen
		g.align(g.clk.Now(), g.clk.Monotonic(), true)
	}
	return g.tick
}

// Next moves to the next tick in the future, returning how many ticks
// were passed over because the work of the last one outlasted them.
func (g *grid) Next() (skipped int) {
	g.tick = g.tick.Add(g.interval)
	g.due += g.interval
	if now := g.clk.Monotonic(); now >= g.due {
		skipped = int((now-g.due)/g.interval) + 1
		g.due += time.Duration(skipped) * g.interval
		g.tick = g.tick.Add(time.Duration(skipped) * g.interval)
	}
	return skipped
}
