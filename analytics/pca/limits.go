package pca

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// T2Limit is the Hotelling T² control limit for a new observation scored by a
// model with a retained components trained on n rows, at false-alarm
// probability alpha:
//
//	T²_α = a(n−1)(n+1) / (n(n−a)) · F_{1−α}(a, n−a)
//
// (Chiang, Russell & Braatz 2001, eq. 4.13; the (n+1)/n factor accounts for
// the model being estimated from the same finite sample).
func T2Limit(a, n int, alpha float64) (float64, error) {
	if a < 1 || n <= a+1 {
		return 0, fmt.Errorf("pca: T² limit needs 1 ≤ a < n-1, got a=%d n=%d", a, n)
	}
	if !(alpha > 0 && alpha < 1) {
		return 0, fmt.Errorf("pca: T² limit: alpha %v outside (0,1)", alpha)
	}
	fa, fn := float64(a), float64(n)
	f := distuv.F{D1: fa, D2: fn - fa}.Quantile(1 - alpha)
	return fa * (fn - 1) * (fn + 1) / (fn * (fn - fa)) * f, nil
}

// QLimit is the Jackson–Mudholkar (1979) limit of the squared prediction
// error Q (SPE) at false-alarm probability alpha. residual holds the
// eigenvalues of the discarded components (a+1..p):
//
//	θ_i = Σ λ_j^i,  h0 = 1 − 2θ1θ3/(3θ2²)
//	Q_α = θ1 [ c_α √(2θ2h0²)/θ1 + 1 + θ2h0(h0−1)/θ1² ]^(1/h0)
//
// where c_α is the standard normal (1−α) quantile.
func QLimit(residual []float64, alpha float64) (float64, error) {
	if !(alpha > 0 && alpha < 1) {
		return 0, fmt.Errorf("pca: Q limit: alpha %v outside (0,1)", alpha)
	}
	var th1, th2, th3 float64
	for _, l := range residual {
		if l < 0 {
			l = 0 // round-off of a rank-deficient correlation matrix
		}
		th1 += l
		th2 += l * l
		th3 += l * l * l
	}
	if th1 <= 0 || th2 <= 0 {
		return 0, fmt.Errorf("pca: Q limit: residual subspace has no variance (%d residual eigenvalues); use fewer components", len(residual))
	}
	h0 := 1 - 2*th1*th3/(3*th2*th2)
	if h0 <= 0 {
		// Jackson–Mudholkar breaks down for very skewed spectra; fall back to
		// the Box g·χ²_h approximation, which is valid for any spectrum.
		g := th2 / th1
		h := th1 * th1 / th2
		return g * distuv.ChiSquared{K: h}.Quantile(1-alpha), nil
	}
	c := distuv.UnitNormal.Quantile(1 - alpha)
	base := c*math.Sqrt(2*th2*h0*h0)/th1 + 1 + th2*h0*(h0-1)/(th1*th1)
	return th1 * math.Pow(base, 1/h0), nil
}

// ewmaLimit returns an upper limit for an EWMA (weight lambda) of a
// non-negative statistic whose in-control mean and variance are mean and
// variance, by matching a g·χ²_h distribution to the EWMA's first two
// moments (assumes independent observations; autocorrelated processes need
// an empirically calibrated limit, see Model.Calibrate).
func ewmaLimit(mean, variance, lambda, alpha float64) float64 {
	v := variance * lambda / (2 - lambda)
	g := v / (2 * mean)
	h := 2 * mean * mean / v
	return g * distuv.ChiSquared{K: h}.Quantile(1-alpha)
}
