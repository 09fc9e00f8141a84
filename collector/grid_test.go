package collector

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/clock"
)

// TestGridThroughSteps: a grid of 1 s ticks waits 1 s of monotonic time
// per tick whatever the wall clock does; a step is reported once with its
// size and the grid re-aligns to the new wall time.
func TestGridThroughSteps(t *testing.T) {
	start := time.Date(2026, 1, 5, 6, 0, 0, 300e6, time.UTC)
	f := clock.NewFake(start)
	var steps []time.Duration
	s := clock.NewSteps(f, func(d time.Duration) { steps = append(steps, d) })
	g := newGrid(f, s, time.Second)
	if w := g.Wait(); w != 700*time.Millisecond {
		t.Fatalf("first wait %s, want 700ms (to the next whole second)", w)
	}
	tick := func() time.Time {
		f.Advance(g.Wait())
		at := g.Fire()
		if n := g.Next(); n != 0 {
			t.Fatalf("skipped %d", n)
		}
		return at
	}
	if at := tick(); !at.Equal(start.Truncate(time.Second).Add(time.Second)) {
		t.Fatalf("first tick %s", at)
	}
	f.StepWall(-90*time.Second - 250*time.Millisecond)
	if w := g.Wait(); w != time.Second {
		t.Fatalf("wait after a backward step %s, want 1s", w)
	}
	at := tick()
	if want := start.Truncate(time.Second).Add(2*time.Second - 91*time.Second); !at.Equal(want) {
		t.Errorf("tick after the backward step %s, want %s (re-aligned, the grid point before now)", at, want)
	}
	if w := g.Wait(); w != 250*time.Millisecond {
		t.Errorf("wait to the re-aligned grid %s, want 250ms", w)
	}
	next := tick()
	if next.Sub(at) != time.Second || next.Sub(next.Truncate(time.Second)) != 0 {
		t.Errorf("tick %s after %s: want the next whole second", next, at)
	}
	f.StepWall(10 * time.Minute)
	if at := tick(); at.Sub(next) < 10*time.Minute || at.Sub(at.Truncate(time.Second)) != 0 {
		t.Errorf("tick after a forward step %s (previous %s)", at, next)
	}
	if len(steps) != 2 || steps[0] != -90250*time.Millisecond || steps[1] != 10*time.Minute {
		t.Errorf("steps reported %v, want [-1m30.25s 10m0s]", steps)
	}
	// Small differences (reading skew) are not steps.
	f.StepWall(clock.StepThreshold - time.Millisecond)
	tick()
	if len(steps) != 2 {
		t.Errorf("a %s difference was reported as a step", clock.StepThreshold-time.Millisecond)
	}
}

func TestGridSkipsOverrunTicks(t *testing.T) {
	f := clock.NewFake(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC))
	g := newGrid(f, clock.NewSteps(f, nil), time.Second)
	f.Advance(g.Wait())
	first := g.Fire()
	f.Advance(3500 * time.Millisecond) // the work outlasts 3 ticks
	if n := g.Next(); n != 3 {
		t.Errorf("skipped %d, want 3", n)
	}
	if w := g.Wait(); w != 500*time.Millisecond {
		t.Errorf("wait %s, want 500ms", w)
	}
	f.Advance(g.Wait())
	if at := g.Fire(); at.Sub(first) != 4*time.Second {
		t.Errorf("tick %s after %s, want +4s", at, first)
	}
}
