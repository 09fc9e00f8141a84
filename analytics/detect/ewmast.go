package detect

import (
	"fmt"
	"math"
)

// ewmaVariance is Var(zᵢ)/σ² of an EWMA started at the in-control mean,
// for readings with autocorrelation ρ(1)…ρ(M) (ρ(k) = 0 beyond M):
//
//	Var(zᵢ)/σ² = λ/(2−λ) · [1 − (1−λ)^(2i) + 2 Σ_{k=1}^{min(M, i−1)} ρ(k)(1−λ)^k (1 − (1−λ)^(2(i−k)))]
//
// (Zhang, N.F. (1998) "A statistical control chart for stationary process
// data", Technometrics 40(1):24–38: the EWMAST chart; with no ρ it is the
// exact variance of Lucas & Saccucci). As i grows it tends to
// λ/(2−λ)·[1 + 2 Σ ρ(k)(1−λ)^k].
type ewmaVariance struct {
	c     float64   // λ/(2−λ)
	head  []float64 // the factor at i = 1 … M+1, computed term by term
	a     float64   // Σ ρ(k)(1−λ)^k
	b     float64   // Σ ρ(k)(1−λ)^(2(M+1)−k): the decaying part at i = M+1
	dHead float64   // (1−λ)^(2(M+1))
	inf   float64   // the asymptotic factor
}

func newEWMAVariance(lambda float64, rho []float64) ewmaVariance {
	q := 1 - lambda
	v := ewmaVariance{c: lambda / (2 - lambda)}
	v.inf = v.c
	if len(rho) == 0 {
		return v
	}
	m := len(rho)
	for k, r := range rho {
		v.a += r * math.Pow(q, float64(k+1))
		v.b += r * math.Pow(q, float64(2*(m+1)-(k+1)))
	}
	v.dHead = math.Pow(q, float64(2*(m+1)))
	v.inf = v.c * (1 + 2*v.a)
	v.head = make([]float64, m+1)
	for i := 1; i <= m+1; i++ {
		s := 1 - math.Pow(q, float64(2*i))
		for k := 1; k <= min(m, i-1); k++ {
			s += 2 * rho[k-1] * math.Pow(q, float64(k)) * (1 - math.Pow(q, float64(2*(i-k))))
		}
		v.head[i-1] = v.c * s
	}
	return v
}

// factor is Var(zᵢ)/σ² after i charted points; decay is (1−λ)^(2i), which
// the chart keeps as it goes (0 once below float64 resolution).
func (v *ewmaVariance) factor(i int, decay float64) float64 {
	switch {
	case i <= 0:
		return 0
	case decay == 0:
		return v.inf
	case v.head == nil:
		return v.c * (1 - decay)
	case i >= 1 && i <= len(v.head):
		return v.head[i-1]
	case v.dHead == 0:
		return v.inf
	}
	// i > M+1: every lag is in the sum; its decaying terms are
	// (1−λ)^(2i−k) = (1−λ)^(2(i−M−1)) · (1−λ)^(2(M+1)−k).
	return v.c * (1 + 2*v.a - decay - 2*(decay/v.dHead)*v.b)
}

// Autocorrelation estimates the mean, the standard deviation and the
// sample autocorrelation ρ(1)…ρ(lags) of in-control readings in charted
// order (Box & Jenkins' estimator: r(k) = Σ(xₜ−x̄)(xₜ₊ₖ−x̄) / Σ(xₜ−x̄)²),
// for an EWMA's baseline. Non-finite readings are skipped. It needs more
// than 2·lags readings; each r(k) has a standard error of about 1/√n.
func Autocorrelation(x []float64, lags int) (mean, sd float64, rho []float64, err error) {
	xs := make([]float64, 0, len(x))
	for _, v := range x {
		if finite(v) {
			xs = append(xs, v)
		}
	}
	n := len(xs)
	if lags < 1 || lags > MaxAutocorrelationLags {
		return 0, 0, nil, fmt.Errorf("autocorrelation: lags = %d must be in 1…%d", lags, MaxAutocorrelationLags)
	}
	if n <= 2*lags {
		return 0, 0, nil, fmt.Errorf("autocorrelation: %d finite readings are too few for %d lags (need more than %d)", n, lags, 2*lags)
	}
	for _, v := range xs {
		mean += v
	}
	mean /= float64(n)
	var c0 float64
	for _, v := range xs {
		c0 += (v - mean) * (v - mean)
	}
	if c0 == 0 {
		return mean, 0, nil, fmt.Errorf("autocorrelation: all %d readings equal %g", n, mean)
	}
	rho = make([]float64, lags)
	for k := 1; k <= lags; k++ {
		var ck float64
		for t := 0; t+k < n; t++ {
			ck += (xs[t] - mean) * (xs[t+k] - mean)
		}
		rho[k-1] = ck / c0
	}
	return mean, math.Sqrt(c0 / float64(n-1)), rho, nil
}
