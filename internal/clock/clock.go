package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	// Now is the wall clock in UTC: what timestamps carry. It can step
	// (an operator, NTP at boot, a VM resumed), so nothing waits on it.
	Now() time.Time
	// Monotonic is the time elapsed since a fixed origin on a clock that
	// never steps (Go's monotonic reading); schedules are kept on it.
	Monotonic() time.Duration
	// After fires once when d of monotonic time has elapsed; stop
	// releases it early.
	After(d time.Duration) (c <-chan time.Time, stop func())
	// NewTimer is After as a Timer, for a loop that keeps one in a field.
	NewTimer(d time.Duration) Timer
	// AfterFunc calls f once d of monotonic time has elapsed (on its own
	// goroutine on Real; within Advance on Fake) unless stopped first.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is the part of *time.Timer the callers use. C is nil for a
// timer made by AfterFunc.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; false if it already fired or
	// was stopped.
	Stop() bool
}

// Sleep waits d on c, or returns ctx's error if ctx ends first.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	ch, stop := c.After(d)
	defer stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Real is the system clock.
type Real struct{}

// origin anchors Real.Monotonic; time.Since uses the monotonic readings.
var origin = time.Now()

// Now is time.Now in UTC. UTC also drops Go's monotonic reading, so that
// the difference of two Now readings is a wall-clock difference (what
// Steps compares against Monotonic), never silently a monotonic one.
func (Real) Now() time.Time { return time.Now().UTC() }

func (Real) Monotonic() time.Duration { return time.Since(origin) }

func (Real) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

func (Real) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

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

// waiter is one pending timer: it sends on c, or calls f (AfterFunc).
type waiter struct {
	f    *Fake
	at   time.Duration // monotonic due time
	c    chan time.Time
	fn   func()
	done bool // fired or stopped
}

func (w *waiter) C() <-chan time.Time { return w.c }

func (w *waiter) Stop() bool {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	if w.done {
		return false
	}
	w.done = true
	for i, x := range w.f.waiters {
		if x == w {
			w.f.waiters = append(w.f.waiters[:i], w.f.waiters[i+1:]...)
			break
		}
	}
	w.f.notify()
	return true
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
	t := f.NewTimer(d)
	return t.C(), func() { t.Stop() }
}

// NewTimer arms a timer; one of d ≤ 0 has fired already, as with time.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{f: f, at: f.mono + d, c: make(chan time.Time, 1)}
	if d <= 0 {
		w.c <- f.wall
		w.done = true
		return w
	}
	f.add(w)
	return w
}

// AfterFunc arms a call of fn, made by the Advance that reaches it
// (after Advance released the clock, so fn may use it). A d ≤ 0 is
// reached by the next Advance.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &waiter{f: f, at: f.mono + max(d, 0), fn: fn}
	f.add(w)
	return w
}

func (f *Fake) add(w *waiter) {
	f.waiters = append(f.waiters, w)
	f.notify()
}

func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance lets d of time pass (wall and monotonic), firing due timers in
// time order; AfterFunc calls are made in that order once the clock is
// released, before Advance returns.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.wall = f.wall.Add(d)
	f.mono += d
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at < f.waiters[j].at })
	kept := f.waiters[:0]
	var calls []func()
	for _, w := range f.waiters {
		switch {
		case w.at > f.mono:
			kept = append(kept, w)
		case w.fn != nil:
			w.done = true
			calls = append(calls, w.fn)
		default:
			w.done = true
			w.c <- f.wall
		}
	}
	clear(f.waiters[len(kept):])
	f.waiters = kept
	f.notify()
	f.mu.Unlock()
	for _, fn := range calls {
		fn()
	}
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

// WaitWaiters blocks until at least n timers are pending or ctx ends,
// returning ctx's error then: a test waits for its goroutines to arm
// their timers before it advances the clock.
func (f *Fake) WaitWaiters(ctx context.Context, n int) error {
	for {
		ch := f.Changed()
		if f.Waiters() >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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
