package detect

import (
	"errors"
	"fmt"
	"math"
)

// Control chart constants for individuals (subgroups of two consecutive
// readings): d2 = 1.128 turns the mean moving range into sigma, D4 = 3.267
// is the upper limit factor of the moving-range chart.
const (
	D2 = 1.128
	D4 = 3.267
)

// SPCParams gives the in-control centre line and sigma of a chart: either
// as known values (Sigma > 0) or estimated from the first Baseline good
// readings (mean, and sigma = MR̄/d2). Readings of the baseline are not
// charted. Default Baseline: 25.
type SPCParams struct {
	Mean     float64 `json:"mean,omitempty" yaml:"-"`
	Sigma    float64 `json:"sigma,omitempty" yaml:"-"`
	Baseline int     `json:"baseline,omitempty" yaml:"-"`
	// Start is the configuration's spelling of the three above (key
	// baseline); the engine resolves it when it builds the detector.
	Start Baseline `json:"-" yaml:"baseline"`
}

// Baseline gives a configured chart's in-control mean and sigma, or the
// number of first samples to estimate them from (sigma = MR̄/1.128).
type Baseline struct {
	Mean    *float64 `yaml:"mean"`
	Sigma   *float64 `yaml:"sigma"`
	Samples int      `yaml:"samples"`
}

// DefaultBaselineSamples is what a configured chart learns from when its
// baseline gives neither mean and sigma nor samples.
const DefaultBaselineSamples = 100

func (p *SPCParams) setDefaults() {
	if b := &p.Start; b.Mean == nil && b.Sigma == nil && b.Samples == 0 {
		b.Samples = DefaultBaselineSamples
	}
}

// resolved returns the parameters with Start turned into Mean, Sigma and
// Baseline.
func (p SPCParams) resolved() SPCParams {
	b := p.Start
	if b.Mean != nil && b.Sigma != nil {
		return SPCParams{Mean: *b.Mean, Sigma: *b.Sigma}
	}
	return SPCParams{Baseline: b.Samples}
}

func (p SPCParams) check() []Problem {
	b := p.Start
	var out []Problem
	if (b.Mean == nil) != (b.Sigma == nil) {
		out = append(out, Problem{Field: "baseline", Allowed: "give mean and sigma together, or samples to estimate them"})
	}
	if b.Sigma != nil && *b.Sigma <= 0 {
		out = append(out, bad("baseline.sigma", *b.Sigma, "must be > 0"))
	}
	if b.Mean == nil && b.Samples < 2 {
		out = append(out, bad("baseline.samples", b.Samples, "must be ≥ 2 to estimate mean and sigma"))
	}
	return out
}

func (p SPCParams) withDefaults() SPCParams {
	if p.Sigma == 0 && p.Baseline == 0 {
		p.Baseline = 25
	}
	return p
}

func (p SPCParams) validate(name string) error {
	var errs []error
	if !finite(p.Mean) || !finite(p.Sigma) || p.Sigma < 0 {
		errs = append(errs, fmt.Errorf("%s: mean = %g and sigma = %g must be finite, sigma >= 0", name, p.Mean, p.Sigma))
	}
	if p.Sigma == 0 && p.Baseline != 0 && p.Baseline < 2 {
		errs = append(errs, fmt.Errorf("%s: baseline = %d readings is too few to estimate sigma (use >= 20, or give mean and sigma)", name, p.Baseline))
	}
	if p.Baseline < 0 {
		errs = append(errs, fmt.Errorf("%s: baseline = %d must not be negative", name, p.Baseline))
	}
	return errors.Join(errs...)
}

// baseline learns or holds the centre line and sigma.
type baseline struct {
	Ready bool    `json:"ready,omitempty"`
	Mean  float64 `json:"mean"`
	Sigma float64 `json:"sigma"`
	N     int     `json:"n,omitempty"`
	Sum   float64 `json:"sum,omitempty"`
	SumMR float64 `json:"sum_mr,omitempty"`
	Prev  float64 `json:"prev,omitempty"`
}

func newBaseline(p SPCParams) baseline {
	if p.Sigma > 0 {
		return baseline{Ready: true, Mean: p.Mean, Sigma: p.Sigma}
	}
	return baseline{}
}

// add feeds a baseline reading; it returns true once the baseline is
// complete. A baseline with zero spread is discarded and collected again:
// a chart with sigma 0 would alarm on every reading.
func (b *baseline) add(x float64, n int) bool {
	if b.N > 0 {
		b.SumMR += math.Abs(x - b.Prev)
	}
	b.N++
	b.Sum += x
	b.Prev = x
	if b.N < n {
		return false
	}
	mean, sigma := b.Sum/float64(b.N), b.SumMR/float64(b.N-1)/D2
	if sigma <= 0 {
		*b = baseline{}
		return false
	}
	*b = baseline{Ready: true, Mean: mean, Sigma: sigma}
	return true
}

// IMR is an individuals / moving-range chart computed from a set of
// readings (phase I).
type IMR struct {
	N     int     `json:"n"`
	Mean  float64 `json:"mean"`
	MRBar float64 `json:"mr_bar"`
	Sigma float64 `json:"sigma"` // MR̄ / d2
	UCL   float64 `json:"ucl"`   // mean + 3 sigma
	LCL   float64 `json:"lcl"`
	MRUCL float64 `json:"mr_ucl"` // D4 · MR̄
}

// IMRLimits computes individuals and moving-range limits. NaN-valued and
// infinite readings are skipped; fewer than two readings give NaN limits.
func IMRLimits(values []float64) IMR {
	var r IMR
	var sum, sumMR, prev float64
	for _, x := range values {
		if !finite(x) {
			continue
		}
		if r.N > 0 {
			sumMR += math.Abs(x - prev)
		}
		sum += x
		prev = x
		r.N++
	}
	if r.N < 2 {
		nan := math.NaN()
		r.Mean, r.MRBar, r.Sigma, r.UCL, r.LCL, r.MRUCL = nan, nan, nan, nan, nan, nan
		if r.N == 1 {
			r.Mean = sum
		}
		return r
	}
	r.Mean = sum / float64(r.N)
	r.MRBar = sumMR / float64(r.N-1)
	r.Sigma = r.MRBar / D2
	r.UCL, r.LCL = r.Mean+3*r.Sigma, r.Mean-3*r.Sigma
	r.MRUCL = D4 * r.MRBar
	return r
}
