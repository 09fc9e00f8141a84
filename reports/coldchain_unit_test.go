package reports

import (
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

// TestColdChainInTagUnit: a probe in °F gets its batch MKT in °F (the
// formula works in kelvin) and the cold-chain sentence writes the tag's
// unit, never a hard-coded °C.
func TestColdChainInTagUnit(t *testing.T) {
	d, err := newRollingMKT(48*time.Hour, 46.4, 10000, "°F")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)
	for i := range 60 {
		d.Update(sample.Sample{Time: start.Add(time.Duration(i) * time.Minute), Value: 41}, nil) // 5 °C
	}
	if got := d.Value(); math.Abs(got-41) > 1e-9 {
		t.Fatalf("MKT of a constant 41 °F = %v °F", got)
	}
	if _, err := newRollingMKT(time.Hour, 8, 10000, "bar"); err == nil {
		t.Error("MKT of a pressure accepted")
	}
	c := ColdChain{HasMKT: true, MKT: Num(d.Value()), MKTLimit: 46.4, MKTOK: true, Activation: 10000,
		HasTOR: true, TORLow: 35.6, TORHigh: 46.4, TORUsed: 20 * time.Minute, TORBudget: 2 * time.Hour, TOROK: true}
	got := coldChainText(c, func(v float64) string { return display.Number(v, 1, "°F") })
	want := "MKT 41.0 °F over the batch (ΔH/R 10000 K) within label limit 46.4 °F; time out of 35.6 °F – 46.4 °F 20m0s of 2h0m0s budget (within)"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
