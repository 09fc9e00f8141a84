package store

import (
	"testing"
	"time"
)

// Flushes fall on whole multiples of the interval, as the collector's poll
// ticks do, so they share a wake-up; no line waits longer than the interval.
func TestUntilNextFlushOnTheGrid(t *testing.T) {
	base := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		now   time.Time
		every time.Duration
		want  time.Duration
	}{
		{base, time.Second, time.Second},
		{base.Add(300 * time.Millisecond), time.Second, 700 * time.Millisecond},
		{base.Add(999 * time.Millisecond), time.Second, time.Millisecond},
		{base.Add(7 * time.Second), 5 * time.Second, 3 * time.Second},
		{base.Add(250 * time.Millisecond), 100 * time.Millisecond, 50 * time.Millisecond},
	} {
		got := untilNextFlush(tc.now, tc.every)
		if got != tc.want || got <= 0 || got > tc.every {
			t.Errorf("untilNextFlush(%s, %v) = %v, want %v", tc.now.Format("15:04:05.000"), tc.every, got, tc.want)
		}
		if next := tc.now.Add(got); !next.Equal(next.Truncate(tc.every)) {
			t.Errorf("next flush %v is not on the %v grid", next, tc.every)
		}
	}
}

// TestUntilNextFlushIsBoundedWhateverTheWallClock: the flush timer is
// re-armed after each flush from the current wall time, so whatever the
// wall clock reads (stepped back or forward) the wait is in (0, every]:
// a step shifts one flush at most, never stalls them.
func TestUntilNextFlushIsBoundedWhateverTheWallClock(t *testing.T) {
	base := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	every := time.Second
	for _, off := range []time.Duration{0, 1, 300 * time.Millisecond, -60 * time.Second, -60*time.Second + 999*time.Millisecond, time.Hour + 1} {
		d := untilNextFlush(base.Add(off), every)
		if d <= 0 || d > every {
			t.Errorf("untilNextFlush(base%+v) = %s, want in (0, %s]", off, d, every)
		}
	}
}
