package engine

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/health"
)

func TestLagWatchRaisesOnceAndClearsWithHysteresis(t *testing.T) {
	var got []health.Condition
	w := lagWatch{limit: time.Minute, report: func(c health.Condition) { got = append(got, c) }}
	t0 := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	step := func(now time.Time, stored time.Time, pending uint64, idle bool) {
		if !idle {
			w.seen(stored, pending)
		}
		w.check(now, idle)
	}
	step(t0, t0.Add(-time.Second), 0, false)                         // first: clear reported
	step(t0.Add(time.Second), t0.Add(-2*time.Minute), 500, false)    // 2m behind: raised
	step(t0.Add(2*time.Second), t0.Add(-40*time.Second), 400, false) // 42s: between half and limit, stays
	step(t0.Add(3*time.Second), t0.Add(-2*time.Minute), 300, false)  // still raised: no new report
	step(t0.Add(4*time.Second), t0.Add(3*time.Second), 0, false)     // caught up: cleared
	if len(got) != 3 {
		t.Fatalf("reports %+v, want clear, raise, clear", got)
	}
	if got[0].Active || !got[1].Active || got[2].Active {
		t.Errorf("reports %+v, want clear, raise, clear", got)
	}
	if got[1].Name != health.AnalyticsLag || got[1].Source != health.SourceAnalytics || got[1].Reason == "" {
		t.Errorf("raise = %+v", got[1])
	}
	// Idle with nothing pending after a raise clears it.
	step(t0.Add(5*time.Second), t0.Add(-3*time.Minute), 10, false)
	step(t0.Add(6*time.Second), time.Time{}, 0, true)
	if n := len(got); n != 4 || !got[3].Active {
		t.Fatalf("after a new raise: %+v", got)
	}
	w.pending = 0
	step(t0.Add(7*time.Second), time.Time{}, 0, true)
	if n := len(got); n != 5 || got[4].Active {
		t.Fatalf("idle with nothing pending must clear: %+v", got)
	}
}
