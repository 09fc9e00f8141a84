package clock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFakeFiresInOrder(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	a, _ := f.After(2 * time.Second)
	b, stopB := f.After(time.Second)
	c, _ := f.After(5 * time.Second)
	stopB()
	f.Advance(3 * time.Second)
	select {
	case <-a:
	default:
		t.Fatal("a not fired")
	}
	select {
	case <-b:
		t.Fatal("stopped timer fired")
	case <-c:
		t.Fatal("c fired early")
	default:
	}
	if f.Waiters() != 1 {
		t.Fatalf("waiters = %d", f.Waiters())
	}
}

func TestStepWallFiresNothingAndMovesNextAt(t *testing.T) {
	f := NewFake(time.Unix(100, 0))
	f.After(time.Second)
	f.StepWall(-time.Hour)
	if f.Waiters() != 1 || f.Monotonic() != 0 {
		t.Fatalf("waiters %d, monotonic %s", f.Waiters(), f.Monotonic())
	}
	if at, _ := f.NextAt(); !at.Equal(time.Unix(101, 0).Add(-time.Hour)) {
		t.Errorf("NextAt %s, want an hour before 101 s", at)
	}
}

// TestGridThroughSteps: a grid of 1 s ticks waits 1 s of monotonic time
// per tick whatever the wall clock does; a step is reported once with its
// size and the grid re-aligns to the new wall time.
func TestGridThroughSteps(t *testing.T) {
	start := time.Date(2026, 1, 5, 6, 0, 0, 300e6, time.UTC)
	f := NewFake(start)
	var steps []time.Duration
	s := NewSteps(f, func(d time.Duration) { steps = append(steps, d) })
	g := NewGrid(f, s, time.Second)
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
	f.StepWall(StepThreshold - time.Millisecond)
	tick()
	if len(steps) != 2 {
		t.Errorf("a %s difference was reported as a step", StepThreshold-time.Millisecond)
	}
}

func TestGridSkipsOverrunTicks(t *testing.T) {
	f := NewFake(time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC))
	g := NewGrid(f, NewSteps(f, nil), time.Second)
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

// TestAfterFuncRunsInAdvanceInOrder: calls are made by the Advance that
// reaches them, in due order and with the clock released (a call may arm
// the next timer), and a stopped one is not made.
func TestAfterFuncRunsInAdvanceInOrder(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	var got []string
	f.AfterFunc(3*time.Second, func() { got = append(got, "c") })
	f.AfterFunc(time.Second, func() {
		got = append(got, "a")
		f.AfterFunc(time.Second, func() { got = append(got, "again") })
	})
	stopped := f.AfterFunc(2*time.Second, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true once, then false")
	}
	f.Advance(3 * time.Second)
	if want := "a c"; fmt.Sprint(got) != "["+want+"]" {
		t.Fatalf("calls %v, want [%s]", got, want)
	}
	if f.Waiters() != 1 {
		t.Fatalf("waiters %d, want the one armed from a call", f.Waiters())
	}
	f.Advance(time.Second)
	if len(got) != 3 || got[2] != "again" {
		t.Fatalf("calls %v, want the re-armed call last", got)
	}
}

func TestNewTimer(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second)
	select {
	case at := <-tm.C():
		if !at.Equal(time.Unix(1, 0)) {
			t.Errorf("fired with %s, want the wall time at firing", at)
		}
	default:
		t.Fatal("not fired")
	}
	if tm.Stop() {
		t.Error("Stop of a fired timer returned true")
	}
	select {
	case <-f.NewTimer(0).C():
	default:
		t.Error("a timer of 0 has not fired at once")
	}
}

func TestSleep(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Sleep(ctx, f, time.Minute) }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := f.WaitWaiters(wctx, 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("Sleep = %v after the minute passed", err)
	}
	go func() { done <- Sleep(ctx, f, time.Minute) }()
	if err := f.WaitWaiters(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || f.Waiters() != 0 {
		t.Fatalf("Sleep = %v with %d timers left, want context.Canceled and none", err, f.Waiters())
	}
}

// TestRealNowIsUTCWallTime: Real.Now carries no monotonic reading, so the
// difference of two readings is a wall difference and Steps can see a
// step of the wall clock (with the reading, Sub would use it instead).
func TestRealNowIsUTCWallTime(t *testing.T) {
	now := Real{}.Now()
	if now.Location() != time.UTC {
		t.Errorf("location %s, want UTC", now.Location())
	}
	if s := now.String(); strings.Contains(s, "m=") {
		t.Errorf("%s carries a monotonic reading", s)
	}
}
