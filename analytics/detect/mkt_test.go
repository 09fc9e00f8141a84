package detect

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// closedMKT is the USP <1079> formula written out directly (no reference
// temperature trick), as an independent check of MKTOf.
func closedMKT(celsius []float64) float64 {
	var s float64
	for _, c := range celsius {
		s += math.Exp(-10000 / (c + 273.15))
	}
	return 10000/(-math.Log(s/float64(len(celsius)))) - 273.15
}

func TestMKTOfWorkedExamples(t *testing.T) {
	// Expected values computed by hand with the USP <1079> formula
	// Tk = (ΔH/R) / −ln(Σ e^(−ΔH/RTi) / n), ΔH/R = 10000 K (independent
	// Python evaluation, rounded to 1e-6):
	cases := []struct {
		name string
		in   []float64
		want float64
	}{
		// Two equal periods at 20 and 30 °C: MKT 26.26 °C, well above the
		// 25 °C arithmetic mean (the classic illustration that short warm
		// periods dominate).
		{"20/30", []float64{20, 30}, 26.259887},
		{"week 25..31", []float64{25, 26, 27, 28, 29, 30, 31}, 28.206081},
		// A fridge at 5 °C with one quarter of the time at 12 °C.
		{"cold", []float64{5, 5, 5, 12}, 7.366233},
		// Monthly averages of a warehouse year.
		{"year", []float64{19.8, 21.2, 22.3, 25.2, 26.1, 27.5, 28.9, 27.9, 26.0, 24.1, 22.0, 20.5}, 24.749462},
		{"constant", []float64{25, 25, 25}, 25},
	}
	for _, c := range cases {
		near(t, c.name, MKTOf(c.in, 0), c.want, 1e-6)
		near(t, c.name+" closed form", closedMKT(c.in), c.want, 1e-6)
	}
	if !math.IsNaN(MKTOf(nil, 0)) {
		t.Error("MKTOf(nil) not NaN")
	}
}

func TestMKTAtLeastArithmeticMean(t *testing.T) {
	// Property: exp(−ΔH/RT) is convex in T over this range, so MKT ≥ mean
	// with equality only for constant temperature.
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := 1 + r.IntN(50)
		vals := make([]float64, n)
		var mean float64
		for i := range vals {
			vals[i] = -20 + 60*r.Float64()
			mean += vals[i] / float64(n)
		}
		if m := MKTOf(vals, 0); m < mean-1e-9 {
			t.Fatalf("MKT %g < mean %g for %v", m, mean, vals)
		}
	}
}

func TestMKTTimeWeighted(t *testing.T) {
	// 5 °C for 3 h then 12 °C for 1 h (readings hourly, gap cap off): the
	// same as MKTOf({5,5,5,12}). The last reading covers no time.
	var ss []sample.Sample
	for i, v := range []float64{5, 5, 5, 12, 99} {
		ss = append(ss, smp(at(time.Duration(i)*time.Hour), v))
	}
	near(t, "MKTWith", MKTWith(ss, 0+DefaultActivation, 0), 7.366233, 1e-6)
	// With the default 15 min cap each reading counts 15 min: same weights.
	near(t, "MKT", MKT(ss), 7.366233, 1e-6)
	// Unequal spans: 5 °C for 3 h as one reading, 12 °C for 1 h.
	ss = []sample.Sample{smp(at(0), 5), smp(at(3*time.Hour), 12), smp(at(4*time.Hour), 0)}
	near(t, "unequal spans", MKTWith(ss, DefaultActivation, 0), 7.366233, 1e-6)
	bad := smp(at(5*time.Hour), 80)
	bad.Status = 0x80000000
	near(t, "bad ignored", MKTWith(append(ss, bad), DefaultActivation, 0), 7.366233, 1e-6)
	near(t, "single", MKT(ss[:1]), 5, 1e-9)
}

func TestRollingMKTWindowAndAlarm(t *testing.T) {
	// 1 h window in 60 one-minute buckets; readings every minute.
	d, err := NewRollingMKT(MKTParams{Window: time.Hour, Limit: 8, Buckets: 60})
	if err != nil {
		t.Fatal(err)
	}
	var got []analytics.Finding
	var all []float64
	for i := range 240 {
		v := 5.0
		if i >= 100 && i < 115 {
			v = 25 // 15 minute excursion
		}
		got = d.Update(smp(at(time.Duration(i)*time.Minute), v), got)
		all = append(all, v)
		if i >= 1 {
			// The window holds the spans of the readings of the last hour:
			// reading j covers [j, j+1) min and counts while j > i−60.
			from := max(0, i-59)
			want := MKTOf(all[from:i], 0)
			near(t, "rolling vs batch", d.Value(), want, 1e-9)
		}
	}
	// MKT of 45×5 °C + 15×25 °C is above 8: the alarm starts once enough
	// warm minutes are in the window and ends when they leave it.
	if len(got) != 2 || got[0].Rule != "limit" || !got[0].Active || got[1].Active {
		t.Fatalf("findings = %v", edges(got))
	}
	checkFinding(t, got[0], "mkt")
	if !(got[0].Statistic > 8) || got[0].Limit != 8 {
		t.Errorf("start finding %+v", got[0])
	}
	// The window of the end finding no longer holds enough warm minutes.
	if got[1].Time.Sub(got[0].Time) < 15*time.Minute {
		t.Errorf("alarm %v..%v shorter than the excursion", got[0].Time, got[1].Time)
	}
}

func TestRollingMKTGapLongerThanWindow(t *testing.T) {
	d, _ := NewRollingMKT(MKTParams{Window: time.Hour, Limit: 30, Buckets: 60})
	var out []analytics.Finding
	for i := range 10 {
		out = d.Update(smp(at(time.Duration(i)*time.Minute), 20), out)
	}
	// Three hours later: everything has left the window.
	out = d.Update(smp(at(3*time.Hour), 4), out)
	out = d.Update(smp(at(3*time.Hour+time.Minute), 4), out)
	near(t, "after gap", d.Value(), 4, 1e-9)
	if len(out) != 0 {
		t.Errorf("findings %v", edges(out))
	}
}

func TestMKTPresets(t *testing.T) {
	if p := MKTColdChain(); p.Window != 24*time.Hour || p.Limit != 8 {
		t.Errorf("cold chain preset %+v", p)
	}
	if p := MKTRoomTemperature(); p.Window != 720*time.Hour || p.Limit != 25 {
		t.Errorf("CRT preset %+v", p)
	}
	if _, err := NewRollingMKT(MKTParams{Limit: 8}); err == nil {
		t.Error("zero window accepted")
	}
}
