package clock

import (
	"sync"
	"time"
)

// StepThreshold is the smallest difference between wall and monotonic
// elapsed time taken for a step of the wall clock. NTP slews both clocks
// alike, so they part only when the wall clock is set (or the machine
// resumes from suspend); the threshold is far above the skew of reading
// the two one after the other.
const StepThreshold = 200 * time.Millisecond

// Steps detects steps of the wall clock against the monotonic clock. One
// Steps serves every schedule of a process, so a step is reported once
// however many schedules notice it.
type Steps struct {
	clk    Clock
	onStep func(step time.Duration)

	mu   sync.Mutex
	wall time.Time     // wall reading at the last alignment
	mono time.Duration // monotonic reading at the same moment
	gen  uint64        // steps seen so far
}

// NewSteps starts watching clk; onStep (may be nil) is called once per
// step with its size: positive when the wall clock jumped forward.
func NewSteps(clk Clock, onStep func(step time.Duration)) *Steps {
	return &Steps{clk: clk, onStep: onStep, wall: clk.Now(), mono: clk.Monotonic()}
}

// Check compares the clocks now and returns the number of steps seen so
// far; a schedule aligned at an older count re-aligns.
func (s *Steps) Check() uint64 {
	wall, mono := s.clk.Now(), s.clk.Monotonic()
	s.mu.Lock()
	step := wall.Sub(s.wall) - (mono - s.mono)
	if step > -StepThreshold && step < StepThreshold {
		g := s.gen
		s.mu.Unlock()
		return g
	}
	s.wall, s.mono = wall, mono
	s.gen++
	g := s.gen
	s.mu.Unlock()
	if s.onStep != nil {
		s.onStep(step)
	}
	return g
}

// Grid schedules ticks on multiples of an interval of wall time — so
// the ticks of every poller fall together and samples carry round
// times — while waiting on monotonic time, so a wall clock stepped back
// does not stall the ticks for the length of the step and one stepped
// forward does not make ticks pile up. When Steps sees a step, the grid
// is re-aligned to the new wall time at the next tick.
type Grid struct {
	clk      Clock
	steps    *Steps
	interval time.Duration
	gen      uint64
	tick     time.Time     // wall time of the next tick, on the grid
	due      time.Duration // monotonic time of the next tick
}

// NewGrid returns a grid whose first tick is the first multiple of
// interval after the current wall time.
func NewGrid(clk Clock, steps *Steps, interval time.Duration) *Grid {
	g := &Grid{clk: clk, steps: steps, interval: interval}
	g.gen = steps.Check()
	g.align(clk.Now(), clk.Monotonic(), false)
	return g
}

// align puts the next tick on the first multiple of interval after wall
// (at or before it when due is true: that tick is due now).
func (g *Grid) align(wall time.Time, mono time.Duration, due bool) {
	t := wall.Truncate(g.interval)
	if !due {
		t = t.Add(g.interval)
	}
	g.tick = t
	g.due = mono + t.Sub(wall)
}

// Wait is the monotonic time until the next tick (≤ 0: due).
func (g *Grid) Wait() time.Duration { return g.due - g.clk.Monotonic() }

// Fire is called when the wait is over. It returns the wall time of the
// tick (its place on the grid); after a step of the wall clock the grid
// is re-aligned first, and the tick is the grid point just before now.
func (g *Grid) Fire() time.Time {
	if gen := g.steps.Check(); gen != g.gen {
		g.gen = gen
		g.align(g.clk.Now(), g.clk.Monotonic(), true)
	}
	return g.tick
}

// Next moves to the next tick in the future, returning how many ticks
// were passed over because the work of the last one outlasted them.
func (g *Grid) Next() (skipped int) {
	g.tick = g.tick.Add(g.interval)
	g.due += g.interval
	if now := g.clk.Monotonic(); now >= g.due {
		skipped = int((now-g.due)/g.interval) + 1
		g.due += time.Duration(skipped) * g.interval
		g.tick = g.tick.Add(time.Duration(skipped) * g.interval)
	}
	return skipped
}
