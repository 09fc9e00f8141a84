package detect

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

func TestIMRLimits(t *testing.T) {
	// By hand: moving ranges 2,1,2,1 → MR̄ 1.5, σ = 1.5/1.128 = 1.329787,
	// mean 11.6, UCL 11.6 + 3σ = 15.589362, MR UCL 3.267·1.5 = 4.9005.
	r := IMRLimits([]float64{10, 12, 11, 13, 12})
	near(t, "mean", r.Mean, 11.6, 1e-12)
	near(t, "MRbar", r.MRBar, 1.5, 1e-12)
	near(t, "sigma", r.Sigma, 1.329787, 1e-6)
	near(t, "UCL", r.UCL, 15.589362, 1e-6)
	near(t, "LCL", r.LCL, 7.610638, 1e-6)
	near(t, "MR UCL", r.MRUCL, 4.9005, 1e-12)
	if r := IMRLimits([]float64{1}); !math.IsNaN(r.Sigma) || r.Mean != 1 {
		t.Errorf("one value: %+v", r)
	}
}

func TestNelsonEachRule(t *testing.T) {
	known := SPCParams{Mean: 0, Sigma: 1}
	cases := []struct {
		rule   int
		values []float64
		at     int // index of the point where the rule starts
	}{
		{1, []float64{0, 3.5}, 1},
		{2, []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, 8},
		{3, []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5}, 5},
		{4, []float64{0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5}, 13},
		{5, []float64{2.5, 0, 2.5}, 2},
		{6, []float64{1.5, 1.5, 0, 1.5, 1.5}, 4},
		{7, []float64{0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1}, 14},
		{8, []float64{1.5, -1.5, 1.5, -1.5, 1.5, -1.5, 1.5, -1.5}, 7},
	}
	for _, c := range cases {
		d, err := NewNelson(NelsonParams{SPCParams: known, Rules: []int{c.rule}})
		if err != nil {
			t.Fatal(err)
		}
		// One point short of the rule: nothing.
		if got := feed(t, d, time.Minute, c.values[:len(c.values)-1]...); len(got) != 0 {
			t.Errorf("rule %d fired early: %v", c.rule, edges(got))
		}
		d, _ = NewNelson(NelsonParams{SPCParams: known, Rules: []int{c.rule}})
		got := feed(t, d, time.Minute, append(c.values, 0, -0.2)...)
		rule := nelsonRule[c.rule]
		if len(got) < 1 || got[0].Rule != rule || !got[0].Active || !got[0].Time.Equal(at(time.Duration(c.at)*time.Minute)) {
			t.Errorf("rule %d: findings %v, want start at point %d", c.rule, edges(got), c.at)
			continue
		}
		checkFinding(t, got[0], "nelson")
	}
}

func TestNelsonNoFalseAlarmsOnStableNoise(t *testing.T) {
	// 2000 points of N(0,1): rule 1 alone has a false-alarm rate of 0.27 %
	// per point; allow the expected order of magnitude, not zero.
	r := rand.New(rand.NewPCG(7, 7))
	d, _ := NewNelson(NelsonParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Rules: []int{1}})
	var got []analytics.Finding
	for i := range 2000 {
		got = d.Update(smp(at(time.Duration(i)*time.Second), r.NormFloat64()), got)
	}
	starts := 0
	for _, f := range got {
		if f.Active {
			starts++
		}
	}
	if starts > 15 {
		t.Errorf("rule 1 fired %d times in 2000 in-control points (expect about 5)", starts)
	}
}

func TestNelsonBaselineAndMovingRange(t *testing.T) {
	d, err := NewNelson(NelsonParams{SPCParams: SPCParams{Baseline: 5}, Rules: []int{1}, MovingRange: true})
	if err != nil {
		t.Fatal(err)
	}
	// Baseline 10,12,11,13,12: mean 11.6, σ 1.329787; MR UCL 4.9005.
	got := feed(t, d, time.Minute, 10, 12, 11, 13, 12, 12.5, 18, 12)
	wantEdges(t, got,
		edge{"nelson1", true, at(6 * time.Minute)}, edge{"mr", true, at(6 * time.Minute)},
		edge{"nelson1", false, at(7 * time.Minute)}, // MR 6 still above 4.9005
	)
	st := d.AppendStats(nil)
	want := map[string]float64{"cl": 11.6, "ucl": 15.589362, "mr_ucl": 4.9005, "mr": 6}
	for _, s := range st {
		if w, ok := want[s.Name]; ok {
			near(t, s.Name, s.Value, w, 1e-6)
		}
	}
}

func TestWesternElectricPreset(t *testing.T) {
	d, err := NewNelson(WesternElectric(SPCParams{Mean: 0, Sigma: 1}))
	if err != nil {
		t.Fatal(err)
	}
	// Eight on one side is a Western Electric signal (nine for Nelson);
	// six increasing points are not (rule 3 not in the preset).
	got := feed(t, d, time.Minute, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
	wantEdges(t, got, edge{"nelson2", true, at(7 * time.Minute)})
}

func TestNelsonValidate(t *testing.T) {
	if _, err := NewNelson(NelsonParams{Rules: []int{0, 9}, Preset: "acme"}); err == nil {
		t.Error("bad rules accepted")
	}
	if _, err := NewNelson(NelsonParams{SPCParams: SPCParams{Baseline: 1}}); err == nil {
		t.Error("baseline 1 accepted")
	}
}

// nistEWMA is the data of the NIST/SEMATECH e-Handbook of Statistical
// Methods, section 6.3.2.4 "EWMA Control Charts", example: target
// EWMA₀ = 50, s = 2.0539, λ = 0.3, k = 3.
var nistEWMA = []float64{52.0, 47.0, 53.0, 49.3, 50.1, 47.0, 51.0, 50.1, 51.2, 50.5,
	49.6, 47.6, 49.9, 51.3, 47.8, 51.2, 52.6, 52.4, 53.6, 52.1}

func TestEWMANISTExample(t *testing.T) {
	d, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 50, Sigma: 2.0539}, Lambda: 0.3, L: 3, Asymptotic: true})
	if err != nil {
		t.Fatal(err)
	}
	// Published limits (NIST 6.3.2.4): UCL = 52.5884, LCL = 47.4115.
	lcl, ucl := d.Limits()
	near(t, "UCL", ucl, 52.5884, 1e-4)
	near(t, "LCL", lcl, 47.4115, 1e-4)
	// EWMA values computed by hand from zᵢ = 0.3·xᵢ + 0.7·zᵢ₋₁, z₀ = 50
	// (formula value, not copied from the handbook's table).
	want := []float64{50.6, 49.52, 50.564, 50.1848, 50.1594, 49.2116, 49.7481, 49.8537, 50.2576, 50.3303,
		50.1112, 49.3578, 49.5205, 50.0543, 49.3780, 49.9246, 50.7272, 51.2291, 51.9403, 51.9882}
	var got []analytics.Finding
	for i, x := range nistEWMA {
		got = d.Update(smp(at(time.Duration(i)*time.Minute), x), got)
		near(t, "EWMA", d.Value(), want[i], 1e-4)
	}
	// The handbook's conclusion: no point beyond the limits.
	if len(got) != 0 {
		t.Errorf("findings %v", edges(got))
	}
}

func TestEWMAExactLimits(t *testing.T) {
	// Exact limits of the NIST example by hand:
	// 50 + 3·2.0539·√(0.3/1.7·(1 − 0.7^(2i))), i = 1…5.
	d, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 50, Sigma: 2.0539}, Lambda: 0.3})
	want := []float64{51.8485, 52.2564, 52.4314, 52.5127, 52.5516}
	for i, x := range nistEWMA[:5] {
		d.Update(smp(at(time.Duration(i)*time.Minute), x), nil)
		_, ucl := d.Limits()
		near(t, "exact UCL", ucl, want[i], 1e-4)
	}
	// Montgomery, Introduction to SQC, Example 9.2 (λ = 0.1, L = 2.7,
	// μ₀ = 10, σ = 1): UCL₁ = 10.27, UCL₂ = 10.36, asymptotic 10.62.
	m, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 10, Sigma: 1}, Lambda: 0.1, L: 2.7})
	near(t, "Montgomery UCL1", 10+m.Width(1), 10.27, 0.005)
	near(t, "Montgomery UCL2", 10+m.Width(2), 10.36, 0.005)
	near(t, "Montgomery asymptotic", 10+m.Width(1000), 10.62, 0.005)
}

func TestEWMAExactConvergesToAsymptotic(t *testing.T) {
	for _, lam := range []float64{0.05, 0.1, 0.2, 0.3, 0.5, 1} {
		ex, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: lam})
		as, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: lam, Asymptotic: true})
		prev := 0.0
		for i := 1; i <= 400; i++ {
			ex.Update(smp(at(time.Duration(i)*time.Second), 0), nil)
			_, u := ex.Limits()
			if u < prev-1e-15 {
				t.Fatalf("λ %g: exact limit shrank at %d", lam, i)
			}
			prev = u
		}
		_, ua := as.Limits()
		near(t, "converged limit", prev, ua, 1e-9)
		near(t, "asymptotic", ua, 3*math.Sqrt(lam/(2-lam)), 1e-12)
	}
}

func TestEWMADetectsShift(t *testing.T) {
	d, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 10, Sigma: 1}, Lambda: 0.2, L: 3})
	var vals []float64
	for i := range 30 {
		v := 10.0
		if i >= 10 {
			v = 11.5
		}
		vals = append(vals, v)
	}
	// z after k points at 11.5 is 10 + 1.5·(1 − 0.8^k); asymptotic half
	// width 3·√(0.2/1.8) = 1; exact is smaller. 1.5·(1−0.8^k) > 1 ⇔ k ≥ 5.
	got := feed(t, d, time.Minute, vals...)
	wantEdges(t, got, edge{"upper", true, at(14 * time.Minute)})
}

// montgomeryCUSUM is Table 9.1 of Montgomery, Introduction to Statistical
// Quality Control (6th ed.), Example 9.1: the first 20 observations from
// N(10, 1), the last 10 from N(11, 1).
var montgomeryCUSUM = []float64{9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34,
	9.03, 11.47, 10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84,
	10.90, 9.33, 12.29, 11.50, 10.60, 11.08, 10.38, 11.62, 11.31, 10.52}

func TestCUSUMMontgomeryExample(t *testing.T) {
	d, err := NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: 10, Sigma: 1}, K: 0.5, H: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Table 9.2 (tabular CUSUM, K = 0.5, H = 5): C⁺ and C⁻ per period.
	wantHi := []float64{0, 0, 0, 1.16, 2.82, 2.50, 0.04, 1.00, 0, 0, 0, 0.97, 0.98, 0, 0, 0, 0.12, 0, 0, 0.34,
		0.74, 0, 1.79, 2.79, 2.89, 3.47, 3.35, 4.47, 5.28, 5.30}
	wantLo := []float64{0.05, 1.56, 1.77, 0, 0, 0, 1.46, 0, 0.30, 0, 0.47, 0, 0, 0.10, 0, 0.13, 0, 0, 0.98, 0,
		0, 0.17, 0, 0, 0, 0, 0, 0, 0, 0}
	var got []analytics.Finding
	for i, x := range montgomeryCUSUM {
		got = d.Update(smp(at(time.Duration(i)*time.Minute), x), got)
		hi, lo := d.Sums()
		near(t, "C+", hi, wantHi[i], 0.005)
		near(t, "C-", lo, wantLo[i], 0.005)
	}
	// Signal at period 29 with N⁺ = 7; new mean 10 + 0.5 + 5.28/7 = 11.25.
	wantEdges(t, got, edge{"upper", true, at(28 * time.Minute)})
	checkFinding(t, got[0], "cusum")
	near(t, "new mean", got[0].Evidence["new_mean"], 11.25, 0.005)
	near(t, "periods", got[0].Evidence["periods"], 7, 0)
}

func TestCUSUMResetOnSignal(t *testing.T) {
	d, _ := NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: 10, Sigma: 1}, ResetOnSignal: true})
	got := feed(t, d, time.Minute, montgomeryCUSUM...)
	wantEdges(t, got, edge{"upper", true, at(28 * time.Minute)}, edge{"upper", false, at(29 * time.Minute)})
	hi, _ := d.Sums()
	near(t, "C+ after reset", hi, 10.52-10.5, 1e-9)
}

func TestPageHinkleyStep(t *testing.T) {
	d, err := NewPageHinkley(PageHinkleyParams{Delta: 0.005, Lambda: 5, Alpha: 1, MinInstances: 30})
	if err != nil {
		t.Fatal(err)
	}
	var vals []float64
	for i := range 200 {
		v := 0.0
		if i >= 100 {
			v = 1
		}
		vals = append(vals, v)
	}
	got := feed(t, d, time.Minute, vals...)
	// By hand, α = 1: before the step mₜ = −0.005·t (minimum −0.5); after
	// it x̄ₜ = (t−100)/t and mₜ grows by 1 − x̄ₜ − 0.005 = 0.9851, 0.9754,
	// 0.9659, 0.9565, 0.9474, 0.9384: PH = 5.77 > 5 after six, so the
	// drift is found at the 6th point after the step (index 105). The
	// restarted test learns the new level for 30 points: ends at index 135.
	wantEdges(t, got, edge{"up", true, at(105 * time.Minute)}, edge{"up", false, at(135 * time.Minute)})
	checkFinding(t, got[0], "page_hinkley")
}

// A value wobbling at the limit starts and ends the signal at every
// crossing without a deadband; with hysteresis 0.2 (a band of 0.6 at a
// half-width of 3) it starts once and ends when back past 2.4 (−2.4 below).
// λ = 1 makes the EWMA the reading itself, so the edges are exact.
func TestEWMAHysteresisStopsChatter(t *testing.T) {
	wobble := []float64{2.9, 3.1, 2.9, 3.1, 2.5, 3.1, 2.3, 0, -3.1, -2.9, -2.5, -2.3}
	plain, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: 1, L: 3, Asymptotic: true})
	wantEdges(t, feed(t, plain, time.Minute, wobble...),
		edge{"upper", true, at(1 * time.Minute)}, edge{"upper", false, at(2 * time.Minute)},
		edge{"upper", true, at(3 * time.Minute)}, edge{"upper", false, at(4 * time.Minute)},
		edge{"upper", true, at(5 * time.Minute)}, edge{"upper", false, at(6 * time.Minute)},
		edge{"lower", true, at(8 * time.Minute)}, edge{"lower", false, at(9 * time.Minute)})

	held, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: 1, L: 3, Asymptotic: true, Hysteresis: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	got := feed(t, held, time.Minute, wobble...)
	wantEdges(t, got,
		edge{"upper", true, at(1 * time.Minute)}, edge{"upper", false, at(6 * time.Minute)},
		edge{"lower", true, at(8 * time.Minute)}, edge{"lower", false, at(11 * time.Minute)})
	if f := got[1]; f.Limit != 3 || !strings.Contains(f.Message, "back past 2.4") {
		t.Errorf("ended finding: limit %g, message %q; want the control limit 3 and the clear threshold 2.4 named", f.Limit, f.Message)
	}

	for _, h := range []float64{-0.1, 1, math.NaN()} {
		if _, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Hysteresis: h}); err == nil || !strings.Contains(err.Error(), "hysteresis") {
			t.Errorf("hysteresis %g: err = %v, want a hysteresis error", h, err)
		}
	}
}
