package notify

import (
	"testing"
	"time"
)

func TestBackoffDoublesUpToCap(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, Retry{Base: time.Second, Max: 30 * time.Second}.policy().Delay(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff = %v, want %v s", got, want)
		}
	}
}
