package clock

import (
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
