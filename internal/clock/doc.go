// Package clock is the one time source of linewatch: every package that
// timestamps, schedules, times out or retries takes a Clock, so it runs
// on real time in production (Real) and on a manually advanced clock in
// tests (Fake), and tests never sleep.
//
// A Clock has two readings: the wall clock (Now, UTC), which timestamps
// carry and which can be stepped, and a monotonic clock (Monotonic), which
// timers (After, NewTimer, AfterFunc, Sleep) wait on. Steps detects a
// step of the wall clock (wall and monotonic elapsed time disagree) so it
// is logged once and every schedule aligned to wall time (the collector's
// poll grid) re-aligns.
//
// Real is the system clock; Fake only moves on Advance (both readings) or
// StepWall (wall only) and lets a test wait (Changed, Waiters,
// WaitWaiters, NextAt) until a goroutine has armed its next timer.
// AfterFunc calls on Fake are made by the Advance that reaches them.
//
// A consumer that needs less may declare a smaller interface (for example
// interface{ Now() time.Time }) as long as Real and *Fake satisfy it.
// Retry delays are internal/backoff's.
package clock
