// Package clock lets the collector's schedulers (poll ticks, reconnect
// backoff) run on real time in production and on a manually advanced clock
// in tests, so tests never sleep.
//
// Real is the wall clock; Fake only moves on Advance and lets a test wait
// (Changed, Waiters, NextAt) until a goroutine has armed its next timer.
package clock
