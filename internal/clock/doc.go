// Package clock lets the collector's schedulers (poll ticks, reconnect
// backoff) run on real time in production and on a manually advanced clock
// in tests, so tests never sleep.
//
// A Clock has two readings: the wall clock (Now), which timestamps carry
// and which can be stepped, and a monotonic clock (Monotonic), which timers
// and schedules wait on. Grid keeps ticks on a wall-time grid while
// waiting on monotonic time; Steps detects a step of the wall clock (wall
// and monotonic elapsed time disagree) so it is logged once and every Grid
// re-aligns.
//
// Real is the system clock; Fake only moves on Advance (both readings) or
// StepWall (wall only) and lets a test wait (Changed, Waiters, NextAt)
// until a goroutine has armed its next timer.
package clock
