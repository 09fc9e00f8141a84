package detect

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteVar is Var(zᵢ)/σ² by the double sum over the weights λ(1−λ)^j.
func bruteVar(lambda float64, rho []float64, i int) float64 {
	r := func(k int) float64 {
		switch {
		case k == 0:
			return 1
		case k <= len(rho):
			return rho[k-1]
		}
		return 0
	}
	pow := make([]float64, 2*i)
	pow[0] = 1
	for k := 1; k < len(pow); k++ {
		pow[k] = pow[k-1] * (1 - lambda)
	}
	s := 0.0
	for j := range i {
		for l := range i {
			s += pow[j+l] * r(max(j-l, l-j))
		}
	}
	return lambda * lambda * s
}

func TestEWMAVarianceMatchesDoubleSum(t *testing.T) {
	for _, c := range []struct {
		lambda float64
		rho    []float64
	}{
		{0.05, nil},
		{0.05, []float64{0.02, 0.018, 0.016, 0.015}},
		{0.2, []float64{0.5, 0.25, 0.125, 0.0625, 0.03}},
		{0.3, []float64{-0.3, 0.1}},
		{1, []float64{0.9, 0.8}},
	} {
		v := newEWMAVariance(c.lambda, c.rho)
		decay := 1.0
		for i := 1; i <= 40; i++ {
			decay *= (1 - c.lambda) * (1 - c.lambda)
			want := bruteVar(c.lambda, c.rho, i)
			if got := v.factor(i, decay); math.Abs(got-want) > 1e-12*max(1, want) {
				t.Errorf("lambda %g rho %v i %d: factor %.15g, double sum %.15g", c.lambda, c.rho, i, got, want)
			}
		}
		if want := bruteVar(c.lambda, c.rho, 1000); math.Abs(v.inf-want) > 1e-9 {
			t.Errorf("lambda %g rho %v: asymptotic factor %.12g, double sum %.12g", c.lambda, c.rho, v.inf, want)
		}
	}
}

// pressProcess is the tablet weight of the simulated press read every
// 30 s: a die-fill mean wandering as AR(1) (sd 0.3 mg, time constant
// 300 s) plus independent tablet-to-tablet variation (sd 2.5 mg).
type pressProcess struct {
	rng  *rand.Rand
	w    float64
	phi  float64
	sdW  float64
	sdE  float64
	mean float64
}

func newPressProcess(seed uint64) *pressProcess {
	return &pressProcess{rng: rand.New(rand.NewPCG(seed, 7)), phi: math.Exp(-30.0 / 300), sdW: 0.3, sdE: 2.5, mean: 250}
}

func (p *pressProcess) next() float64 {
	p.w = p.phi*p.w + math.Sqrt(1-p.phi*p.phi)*p.sdW*p.rng.NormFloat64()
	return p.mean + p.w + p.sdE*p.rng.NormFloat64()
}

// rho is its autocorrelation at lags 1…m.
func (p *pressProcess) rho(m int) []float64 {
	v := p.sdW*p.sdW + p.sdE*p.sdE
	out := make([]float64, m)
	for k := range out {
		out[k] = p.sdW * p.sdW / v * math.Pow(p.phi, float64(k+1))
	}
	return out
}

// The limits of a chart given the readings' autocorrelation hold the
// EWMA's real spread: across many runs of the press process, the standard
// deviation of zᵢ is Width(i)/L, early (narrow exact limits) and late. The
// iid formula is 6 % too narrow at point 13 and 9 % at the asymptote.
func TestEWMALimitsFitAutocorrelatedReadings(t *testing.T) {
	const runs, points = 4000, 200
	probe := []int{1, 13, 50, 200}
	pp := newPressProcess(1)
	sigma := math.Sqrt(pp.sdW*pp.sdW + pp.sdE*pp.sdE)
	ewmast, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 250, Sigma: sigma}, Lambda: 0.05, L: 1, Autocorrelation: pp.rho(60)})
	if err != nil {
		t.Fatal(err)
	}
	iid, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 250, Sigma: sigma}, Lambda: 0.05, L: 1})
	sum2 := make([]float64, len(probe))
	for r := range runs {
		p := newPressProcess(uint64(r) + 100)
		// start the wander in its stationary distribution
		p.w = p.sdW * p.rng.NormFloat64()
		z := 250.0
		for i := 1; i <= points; i++ {
			z = 0.05*p.next() + 0.95*z
			for j, at := range probe {
				if i == at {
					sum2[j] += (z - 250) * (z - 250)
				}
			}
		}
	}
	for j, at := range probe {
		sd := math.Sqrt(sum2[j] / runs)
		se := sd / math.Sqrt(2*runs) // standard error of a standard deviation
		if w := ewmast.Width(at); math.Abs(sd-w) > 3*se {
			t.Errorf("point %d: sd of the EWMA %.4f, EWMAST limits say %.4f (±%.4f)", at, sd, w, 3*se)
		}
		t.Logf("point %d: sd of the EWMA %.4f, EWMAST %.4f, iid formula %.4f", at, sd, ewmast.Width(at), iid.Width(at))
	}
}

func TestEWMAAutocorrelationValidation(t *testing.T) {
	bad := [][]float64{
		{1.5},
		{math.NaN()},
		{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
		make([]float64, MaxAutocorrelationLags+1),
	}
	for _, rho := range bad {
		if _, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: 0.05, Autocorrelation: rho}); err == nil {
			t.Errorf("autocorrelation %v accepted", rho)
		}
	}
	if _, err := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}, Lambda: 0.05, Autocorrelation: []float64{0.3, -0.1}}); err != nil {
		t.Errorf("valid autocorrelation rejected: %v", err)
	}
}
