package pca

import (
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// synthetic draws n rows of a p-variable latent-factor process
// x = W f + e (k factors, unit-variance noise of scale noise), a correlated
// multivariate normal with known structure. Fixed seed for reproducibility.
type synthetic struct {
	W     *mat.Dense // p × k
	noise float64
	rng   *rand.Rand
	p, k  int
}

func newSynthetic(seed uint64, p, k int, noise float64) *synthetic {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	W := mat.NewDense(p, k, nil)
	for i := 0; i < p; i++ {
		for j := 0; j < k; j++ {
			W.Set(i, j, rng.NormFloat64())
		}
	}
	return &synthetic{W: W, noise: noise, rng: rng, p: p, k: k}
}

func (s *synthetic) rows(n int) *mat.Dense {
	X := mat.NewDense(n, s.p, nil)
	f := make([]float64, s.k)
	for i := 0; i < n; i++ {
		for j := range f {
			f[j] = s.rng.NormFloat64()
		}
		for v := 0; v < s.p; v++ {
			x := 10 + float64(v) // non-zero means exercise the scaling
			for j := 0; j < s.k; j++ {
				x += s.W.At(v, j) * f[j]
			}
			X.Set(i, v, x+s.noise*s.rng.NormFloat64())
		}
	}
	return X
}

func names(p int) []string {
	out := make([]string, p)
	for i := range out {
		out[i] = fmt.Sprintf("x%d", i)
	}
	return out
}
