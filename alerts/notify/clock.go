package notify

import (
	"context"
	"time"
)

// Timer is a stoppable pending call.
type Timer interface{ Stop() bool }

// Clock is the time source of the notifier: backoff waits and escalation
// timers run on it so tests control time instead of sleeping.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now().UTC() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// RealClock is the wall clock.
func RealClock() Clock { return realClock{} }

// sleep waits d on clk or returns ctx's error.
func sleep(ctx context.Context, clk Clock, d time.Duration) error {
	done := make(chan struct{})
	t := clk.AfterFunc(d, func() { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	}
}

// backoff is the wait before retry attempt n (n ≥ 1): base·2^(n-1), capped.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
