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
