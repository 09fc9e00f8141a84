package detect

import (
	"strconv"
	"testing"
	"time"
)

// NIST/SEMATECH e-Handbook of Statistical Methods, section 6.3.2.3 "Cusum
// Control Charts", tabular cusum example,
// https://www.itl.nist.gov/div898/handbook/pmc/section3/pmc323.htm.
//
// The handbook charts 20 subgroup means against target 325 with k and h
// given in engineering units: k = 0.3175 (half of σ = 0.635, the standard
// deviation of the means) and h = 4.1959. Its table prints x − 325, S_hi,
// S_lo and the plain cusum to two decimals, and the upper sum first exceeds
// h at sample 14 (4.94). Our CUSUMParams give K and H in multiples of sigma,
// so the mapping is Mean = 325, Sigma = 0.635, K = 0.3175/0.635 = 0.5,
// H = 4.1959/0.635 ≈ 6.608.
//
// The data and printed columns were taken from public transcriptions of the
// handbook table (the CRAN package vMask cites the same page for the data);
// each column entry below was also checked by hand against the recursion.
var nistCusumX = []float64{
	324.925, 324.675, 324.725, 324.350, 325.350, 325.225, 324.125, 324.525, 325.225, 324.600,
	324.625, 325.150, 328.325, 327.250, 327.825, 328.500, 326.675, 327.775, 326.875, 328.350,
}

var nistCusumSHi = []float64{
	0.00, 0.00, 0.00, 0.00, 0.03, 0.00, 0.00, 0.00, 0.00, 0.00,
	0.00, 0.00, 3.01, 4.94, 7.45, 10.63, 11.99, 14.44, 16.00, 19.04,
}

var nistCusumSLo = []float64{
	0.00, 0.01, 0.00, 0.33, 0.00, 0.00, 0.56, 0.72, 0.17, 0.25,
	0.31, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00,
}

func TestCUSUMNISTHandbookExample(t *testing.T) {
	const (
		target = 325.0
		sigma  = 0.635
		kRaw   = 0.3175
		hRaw   = 4.1959
	)
	d, err := NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: target, Sigma: sigma}, K: kRaw / sigma, H: hRaw / sigma})
	if err != nil {
		t.Fatal(err)
	}
	// The table is rounded to 2 decimals: half a unit of the last digit,
	// plus float slack.
	const tol = 0.005 + 1e-9
	signalled := -1
	for i, x := range nistCusumX {
		fs := d.Update(smp(at(time.Duration(i)*time.Minute), x), nil)
		hi, lo := d.Sums()
		near(t, "S_hi at sample "+strconv.Itoa(i+1), hi, nistCusumSHi[i], tol)
		near(t, "S_lo at sample "+strconv.Itoa(i+1), lo, nistCusumSLo[i], tol)
		for _, f := range fs {
			if signalled >= 0 {
				t.Errorf("sample %d: second finding %s %s active=%v; the upper condition should persist without a new finding", i+1, f.Rule, f.Message, f.Active)
				continue
			}
			signalled = i + 1
			if f.Rule != "upper" || !f.Active {
				t.Errorf("sample %d: finding rule %q active %v, want upper start", i+1, f.Rule, f.Active)
			}
			near(t, "finding statistic", f.Statistic, 4.94, tol)
			near(t, "finding limit", f.Limit, hRaw, 1e-9)
			// Montgomery's estimate μ₀ + K + C⁺/N⁺ with N⁺ = 2 (samples 13 and 14).
			near(t, "estimated new mean", f.Evidence["new_mean"], target+kRaw+4.94/2, 1e-9)
			near(t, "periods", f.Evidence["periods"], 2, 0)
		}
	}
	if signalled != 14 {
		t.Fatalf("first signal at sample %d, the handbook signals at sample 14", signalled)
	}
}
