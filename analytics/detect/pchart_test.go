package detect

import (
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// orangeJuice is Table 7.1 of Montgomery, Introduction to Statistical
// Quality Control (6th ed.), Example 7.1: nonconforming orange-juice cans
// in 30 samples of n = 50. Published: p̄ = 0.2313, UCL = 0.4102,
// LCL = 0.0524; samples 15 and 23 are beyond the UCL.
var orangeJuice = []float64{12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
	8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6}

func TestPLimitsMontgomery(t *testing.T) {
	var sum float64
	for _, d := range orangeJuice {
		sum += d
	}
	pbar := sum / (30 * 50)
	near(t, "p-bar", pbar, 0.2313, 5e-5)
	lcl, ucl := PLimits(pbar, 50, 1)
	near(t, "UCL", ucl, 0.4102, 5e-5)
	near(t, "LCL", lcl, 0.0524, 5e-5)
}

// counterSamples turns per-subgroup counts into cumulative counter
// readings of a filler, one read per minute, starting from offset.
func counterSamples(rejects []float64, n, offset float64) []sample.Sample {
	var ss []sample.Sample
	good, rej := offset, offset
	mk := func(i int, tag string, v float64) sample.Sample {
		s := smp(at(time.Duration(i)*time.Minute), v)
		s.Machine, s.Tag = "filler", tag
		return s
	}
	ss = append(ss, mk(0, "good_count", good), mk(0, "reject_count", rej))
	for i, r := range rejects {
		good += n - r
		rej += r
		ss = append(ss, mk(i+1, "good_count", good), mk(i+1, "reject_count", rej))
	}
	return ss
}

func TestPChartDetectorMontgomery(t *testing.T) {
	d, err := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", BaselineSubgroups: 30})
	if err != nil {
		t.Fatal(err)
	}
	// Phase I: the 30 subgroups give p̄ (counters start at 1000); the same
	// 30 subgroups follow on the same counters and are charted (phase II).
	var got []analytics.Finding
	ss := counterSamples(append(append([]float64{}, orangeJuice...), orangeJuice...), 50, 1000)
	for _, s := range ss {
		got = d.Update(s, got)
	}
	got = d.Flush(ss[len(ss)-1], got)
	st := map[string]float64{}
	for _, s := range d.AppendStats(nil) {
		st[s.Name] = s.Value
	}
	near(t, "p-bar", st["p_bar"], 0.2313, 5e-5)
	near(t, "UCL", st["ucl"], 0.4102, 5e-5)
	near(t, "LCL", st["lcl"], 0.0524, 5e-5)
	// Charted subgroups 31..60 repeat the data: samples 15 and 23 signal.
	m := time.Minute
	wantEdges(t, got,
		edge{"upper", true, at(45 * m)}, edge{"upper", false, at(46 * m)},
		edge{"upper", true, at(53 * m)}, edge{"upper", false, at(54 * m)},
	)
	f := got[0]
	if f.Tag != "reject_count" || f.Machine != "filler" || f.Value != 0.44 || f.Evidence["n"] != 50 {
		t.Errorf("finding %+v", f)
	}
	// Fractions are written as percentages, counts as whole numbers.
	if want := "filler/reject_count reject fraction beyond upper limit: 44.00 % (22 of 50 parts) vs 41.02 % (p-bar 23.13 %, sigma_z 1.00, p-chart)"; f.Message != want {
		t.Errorf("message\n got %q\nwant %q", f.Message, want)
	}
}

func TestPChartLaney(t *testing.T) {
	// Large subgroups with over-dispersion: p alternates 0.10 / 0.12 at
	// n = 10000. Shewhart limits 0.11 ± 3·√(0.11·0.89/10000) = ±0.00939
	// would flag every subgroup; z = ±0.01/0.003129 = ±3.196, MR(z) =
	// 6.392, σz = 6.392/1.128 = 5.667, Laney limits ±0.0532.
	var rej []float64
	for i := range 40 {
		rej = append(rej, 1000+200*float64(i%2))
	}
	mk := func(laney bool) *PChart {
		d, err := NewPChart(PChartParams{GoodTag: "good_count", RejectTag: "reject_count", BaselineSubgroups: 20, Laney: laney})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, laney := range []bool{false, true} {
		d := mk(laney)
		var got []analytics.Finding
		for _, s := range counterSamples(rej, 10000, 0) {
			got = d.Update(s, got)
		}
		st := map[string]float64{}
		for _, s := range d.AppendStats(nil) {
			st[s.Name] = s.Value
		}
		if laney {
			near(t, "sigma_z", st["sigma_z"], 0.02/math.Sqrt(0.11*0.89/10000)/D2, 1e-9)
			if len(got) != 0 {
				t.Errorf("Laney p' flagged %d findings", len(got))
			}
		} else if len(got) == 0 {
			t.Error("Shewhart p-chart on over-dispersed data did not signal")
		}
	}
}

func TestPChartSpanSubgroupsAndCounterReset(t *testing.T) {
	d, _ := NewPChart(PChartParams{GoodTag: "g", RejectTag: "r", PBar: 0.02, SubgroupSpan: 10 * time.Minute})
	var got []analytics.Finding
	mk := func(i int, tag string, v float64) sample.Sample {
		s := smp(at(time.Duration(i)*time.Minute), v)
		s.Tag = tag
		return s
	}
	good, rej := 0.0, 0.0
	for i := 0; i <= 30; i++ {
		if i == 15 {
			good, rej = 0, 0 // PLC restart: both counters reset
		}
		if i > 0 {
			good += 98
			rej += 2
			if i >= 21 {
				good -= 10
				rej += 10 // 12 % rejects in the third span
			}
		}
		got = d.Update(mk(i, "g", good), got)
		got = d.Update(mk(i, "r", rej), got)
	}
	got = d.Flush(mk(30, "r", rej), got)
	// Subgroups are the reads in [0,10), [10,20), [20,30), [30]: the reset
	// at 15 is counted as 98 + 2 parts (the counts since the restart), not
	// a negative delta. [20,30) has 2 + 9·12 rejects of 1000 parts = 11 %,
	// above 0.02 + 3·√(0.02·0.98/1000) = 0.0333, reported at its last read.
	wantEdges(t, got, edge{"upper", true, at(29 * time.Minute)})
	if got[0].Evidence["n"] != 1000 {
		t.Errorf("subgroup size %v, want 1000", got[0].Evidence["n"])
	}
}

func TestCounter(t *testing.T) {
	c := Counter{Modulus: 65536}
	type step struct {
		v  float64
		d  float64
		ok bool
	}
	for i, s := range []step{
		{100, 0, false}, // first reading
		{150, 50, true}, // normal
		{65530, 65380, true},
		{10, 16, true}, // wrap: 65536 − 65530 + 10
		{5, 5, true},   // reset (previous in the lower half)
		{-1, 0, false}, // invalid
		{math.NaN(), 0, false},
		{8, 3, true},
	} {
		d, ok := c.Delta(s.v)
		if d != s.d || ok != s.ok {
			t.Errorf("step %d: Delta(%g) = %g, %v; want %g, %v", i, s.v, d, ok, s.d, s.ok)
		}
	}
	if c.Wraps != 1 || c.Resets != 1 {
		t.Errorf("wraps %d resets %d", c.Wraps, c.Resets)
	}
	var noMod Counter
	noMod.Delta(4000000000)
	if d, _ := noMod.Delta(3); d != 3 {
		t.Errorf("without modulus a decrease is a reset: %g", d)
	}
}
