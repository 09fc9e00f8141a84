package simulator

import (
	"testing"
	"time"
)

// TestCapAtWall: the demo's plant starts 6 h in the past at 30×; it must
// never run ahead of the wall clock (issue 18: after ~12 min the simulated
// clock passed real time and "last 6 hours" dashboards showed no new data).
func TestCapAtWall(t *testing.T) {
	wall := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		behind time.Duration // how far simulated time is behind the wall clock
		step   time.Duration
		want   time.Duration
	}{
		{"far behind: full speed", 6 * time.Hour, 3 * time.Second, 3 * time.Second},
		{"catching up: stops at the wall clock", 1500 * time.Millisecond, 3 * time.Second, 1500 * time.Millisecond},
		{"level: no step", 0, 3 * time.Second, 0},
		{"ahead (wall clock stepped back): no step, never backwards", -time.Minute, 3 * time.Second, 0},
	} {
		if got := capAtWall(wall.Add(-c.behind), c.step, wall); got != c.want {
			t.Errorf("%s: step %v, want %v", c.name, got, c.want)
		}
	}
	// 30× for 20 real minutes from 6 h behind: the simulated clock
	// reaches the wall clock after 6h/29 ≈ 12.4 min and then keeps pace.
	sim, w := wall.Add(-6*time.Hour), wall
	for range 20 * 60 * 10 { // 100 ms ticks
		w = w.Add(100 * time.Millisecond)
		sim = sim.Add(capAtWall(sim, 30*100*time.Millisecond, w))
		if sim.After(w) {
			t.Fatalf("simulated %v passed the wall clock %v", sim, w)
		}
	}
	if !sim.Equal(w) {
		t.Errorf("after 20 min simulated %v, wall %v: should have caught up", sim, w)
	}
}
