package backoff

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/clock"
)

func TestDelaySchedules(t *testing.T) {
	s, ms := time.Second, time.Millisecond
	for _, c := range []struct {
		name string
		p    Policy
		want []time.Duration // retries 1, 2, …
	}{
		{"exponential", Policy{Min: s, Max: 8 * s}, []time.Duration{s, 2 * s, 4 * s, 8 * s, 8 * s}},
		{"exponential, max not a power of two", Policy{Min: 200 * ms, Max: 30 * s}, []time.Duration{200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 12800 * ms, 25600 * ms, 30 * s}},
		{"linear", Policy{Min: 500 * ms, Max: 10 * s, Linear: true}, []time.Duration{500 * ms, s, 1500 * ms, 2 * s}},
		{"min above max", Policy{Min: 2 * s, Max: s}, []time.Duration{s, s}},
		{"zero", Policy{}, []time.Duration{0, 0}},
	} {
		for i, want := range c.want {
			if got := c.p.Delay(i + 1); got != want {
				t.Errorf("%s: Delay(%d) = %s, want %s", c.name, i+1, got, want)
			}
		}
	}
	p := Policy{Min: 500 * ms, Max: 10 * s, Linear: true}
	if got := p.Delay(21); got != 10*s {
		t.Errorf("linear Delay(21) = %s, want the 10s cap", got)
	}
	if got := p.Delay(0); got != 500*ms {
		t.Errorf("Delay(0) = %s, want Min (n < 1 counts as the first retry)", got)
	}
}

// TestDelayDoesNotOverflow: a retry count that runs for days stays at Max.
func TestDelayDoesNotOverflow(t *testing.T) {
	for _, p := range []Policy{
		{Min: time.Second, Max: time.Hour},
		{Min: time.Second, Max: time.Hour, Linear: true},
		{Min: time.Second, Max: 1<<63 - 1},
		{Min: time.Second, Max: 1<<63 - 1, Linear: true},
	} {
		for _, n := range []int{62, 63, 64, 100, 1 << 20, 1<<31 - 1} {
			if d := p.Delay(n); d < time.Second || d > p.Max {
				t.Errorf("%+v: Delay(%d) = %s, outside [Min, Max]", p, n, d)
			}
		}
	}
}

func TestJitterStaysWithinHalfToFull(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: 800 * time.Millisecond, Jitter: true}
	for n := 1; n <= 6; n++ {
		full := Policy{Min: p.Min, Max: p.Max}.Delay(n)
		lo, hi, seen := full, time.Duration(0), map[time.Duration]bool{}
		for range 500 {
			d := p.Delay(n)
			lo, hi = min(lo, d), max(hi, d)
			seen[d] = true
			if d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %s outside [%s, %s]", n, d, full/2, full)
			}
		}
		if len(seen) < 100 || hi-lo < full/4 {
			t.Errorf("Delay(%d): %d distinct values in [%s, %s]: not spread over [%s, %s]", n, len(seen), lo, hi, full/2, full)
		}
	}
}

func TestWaitRunsOnTheClock(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC))
	p := Policy{Min: time.Second, Max: time.Minute}
	done := make(chan error, 1)
	go func() { done <- p.Wait(context.Background(), clk, 3) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.WaitWaiters(ctx, 1); err != nil {
		t.Fatal("Wait armed no timer:", err)
	}
	clk.Advance(4*time.Second - time.Nanosecond)
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before 4s had passed", err)
	default:
	}
	clk.Advance(time.Nanosecond)
	if err := <-done; err != nil {
		t.Fatalf("Wait = %v, want nil after 4s", err)
	}
}

func TestWaitEndsWithTheContext(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Policy{Min: time.Hour, Max: time.Hour}.Wait(ctx, clk, 1) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := clk.WaitWaiters(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if n := clk.Waiters(); n != 0 {
		t.Errorf("%d timers left armed after the wait ended", n)
	}
}
