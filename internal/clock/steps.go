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
