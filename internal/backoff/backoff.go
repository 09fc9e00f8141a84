package backoff

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/linewatch/linewatch/internal/clock"
)

// Policy is a retry-delay schedule. The zero Policy retries at once.
type Policy struct {
	// Min is the delay before the first retry; Max caps every delay.
	Min, Max time.Duration
	// Linear grows the delay as Min·n instead of Min·2^(n-1).
	Linear bool
	// Jitter picks each delay at random in [d/2, d] (equal jitter), so
	// clients that failed together spread out and the delay still grows.
	Jitter bool
}

// Delay is the wait before retry n (n ≥ 1; n < 1 counts as 1).
func (p Policy) Delay(n int) time.Duration {
	n = max(n, 1)
	d := p.Min
	if p.Linear {
		if p.Min > 0 && int64(n) > int64(p.Max/p.Min) {
			d = p.Max
		} else {
			d = p.Min * time.Duration(n)
		}
	} else {
		for i := 1; i < n && d > 0 && d < p.Max; i++ {
			if d > p.Max/2 {
				d = p.Max // doubling would pass Max (or overflow)
				break
			}
			d *= 2
		}
	}
	d = min(d, p.Max)
	if p.Jitter && d > 0 {
		half := d / 2
		d = half + rand.N(d-half+1)
	}
	return d
}

// Wait waits Delay(n) on clk, or returns ctx's error if ctx ends first.
func (p Policy) Wait(ctx context.Context, clk clock.Clock, n int) error {
	return clock.Sleep(ctx, clk, p.Delay(n))
}
