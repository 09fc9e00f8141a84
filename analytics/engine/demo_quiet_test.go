package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// The demo's tablet-weight EWMA on the simulated press's weight read every
// 30 s, as the demo reads it: a die-fill mean that wanders as AR(1) (sd
// 0.3 mg, time constant 300 s) under tablet-to-tablet variation (sd
// 2.5 mg). The wander makes consecutive readings slightly correlated and
// widens the EWMA's spread by 9 %: limits from the iid formula raised a
// false alarm every few days (the demo's first alarm). The chart's limits
// must match the EWMA's real spread, and four fault-free weeks raise
// nothing.
func TestDemoTabletWeightEWMAFitsThePress(t *testing.T) {
	e := demoEngine(t)
	cfg, _ := config.Demo()
	var L float64
	for _, r := range cfg.Analytics.Rules {
		if r.EWMA != nil && slices.Contains(r.Tags, "tableting1/press/tablet_weight") {
			L = r.EWMA.L
		}
	}
	if L == 0 {
		t.Fatal("the demo config has no EWMA on tableting1/press/tablet_weight")
	}
	rng := rand.New(rand.NewPCG(2026, 19))
	phi := math.Exp(-30.0 / 300)
	var w float64 = 0.3 * rng.NormFloat64()
	const n = 4 * 7 * 2880 // four weeks of 30 s readings
	var fs []analytics.Finding
	var sum2, width float64
	var m int
	for i := range n {
		w = phi*w + math.Sqrt(1-phi*phi)*0.3*rng.NormFloat64()
		s := sample.Sample{Time: t0.Add(time.Duration(i) * 30 * time.Second), Site: "demo-plant", Line: "tableting1", Machine: "press",
			Tag: "tablet_weight", Value: 250 + w + 2.5*rng.NormFloat64(), Batch: "T1"}
		fs = e.Process(s, fs[:0])
		for _, f := range fs {
			if f.Detector == "ewma" && f.Active {
				t.Errorf("reading %d: %s", i, f.Message)
			}
		}
		for _, st := range e.DrainStats(nil) {
			if st.Detector != "ewma" || i < 500 {
				continue
			}
			var z, cl, ucl float64
			for _, x := range st.Stats {
				switch x.Name {
				case "ewma":
					z = x.Value
				case "cl":
					cl = x.Value
				case "ucl":
					ucl = x.Value
				}
			}
			sum2 += (z - cl) * (z - cl)
			width = ucl - cl
			m++
		}
	}
	if m < n/2 {
		t.Fatalf("only %d EWMA statistics", m)
	}
	sd := math.Sqrt(sum2 / float64(m))
	// the chart's sigma of the EWMA is its half-width over L
	if chart := width / L; math.Abs(chart-sd)/sd > 0.04 {
		t.Errorf("EWMA spread %.4f mg, the chart's limits assume %.4f mg", sd, chart)
	} else {
		t.Logf("EWMA spread %.4f mg, chart %.4f mg", sd, chart)
	}
}
