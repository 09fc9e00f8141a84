package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now is the wall clock: what timestamps carry. It can step (an
	// operator, NTP at boot, a VM resumed), so nothing waits on it.
	Now() time.Time
	// Monotonic is the time elapsed since a fixed origin on a clock that
	// never steps (Go's monotonic reading); schedules are kept on it.
	Monotonic() time.Duration
	// After fires once when d of monotonic time has elapsed; stop
	// releases it early.
	After(d time.Duration) (c <-chan time.Time, stop func())
}

// Real is the system clock.
type Real struct{}

// origin anchors Real.Monotonic; time.Since uses the monotonic readings.
var origin = time.Now()

func (Real) Now() time.Time { return time.Now() }

func (Real) Monotonic() time.Duration { return time.Since(origin) }

func (Real) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// Fake is a clock that only moves when Advance or StepWall is called. Its
// wall and monotonic readings are separate, so a test can step the wall
// clock as an operator or NTP would while timers keep monotonic time.
type Fake struct {
	mu      sync.Mutex
	wall    time.Time
	mono    time.Duration
	waiters []*waiter
	changed chan struct{} // closed and replaced whenever waiters change
}

type waiter struct {
	at time.Duration // monotonic due time
	c  chan time.Time
}

// NewFake returns a fake clock whose wall clock reads t.
func NewFake(t time.Time) *Fake { return &Fake{wall: t, changed: make(chan struct{})} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wall
}

func (f *Fake) Monotonic() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mono
}

func (f *Fake) After(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{at: f.mono + d, c: make(chan time.Time, 1)}
	if d <= 0 {
		w.c <- f.wall
		return w.c, func() {}
	}
	f.waiters = append(f.waiters, w)
	f.notify()
	return w.c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, x := range f.waiters {
			if x == w {
				f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
				f.notify()
				return
			}
		}
	}
}

func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance lets d of time pass (wall and monotonic), firing due timers in
// time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall = f.wall.Add(d)
	f.mono += d
	sort.Slice(f.waiters, func(i, j int) bool { return f.waiters[i].at < f.waiters[j].at })
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at <= f.mono {
			w.c <- f.wall
		} else {
			kept = append(kept, w)
		}
	}
	f.waiters = kept
	f.notify()
}

// StepWall sets the wall clock forward (d > 0) or back (d < 0) without
// any time passing: no timer fires.
func (f *Fake) StepWall(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall = f.wall.Add(d)
}

// Waiters is the number of pending timers.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Changed returns a channel closed at the next change of the timer set,
// so a test can wait for a goroutine to arm its next timer without sleeping.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// NextAt is the wall time at which the earliest timer fires if the wall
// clock is not stepped before, or false when none is pending.
func (f *Fake) NextAt() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) == 0 {
		return time.Time{}, false
	}
	min := f.waiters[0].at
	for _, w := range f.waiters[1:] {
		if w.at < min {
			min = w.at
		}
	}
	return f.wall.Add(min - f.mono), true
}
