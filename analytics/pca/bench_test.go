package pca

import (
	"testing"

	"gonum.org/v1/gonum/mat"
)

func model52(b *testing.B) (*Model, *mat.Dense) {
	b.Helper()
	s := newSynthetic(52, 52, 9, 0.5)
	m, err := Train(s.rows(2000), names(52), Options{Name: "b52", Components: 9})
	if err != nil {
		b.Fatal(err)
	}
	return m, s.rows(1024)
}

// BenchmarkScore52 is the performance target: T² and Q for 52 variables,
// a = 9, at ≥ 300 000 observations/s on one core (≤ 3.3 µs/op).
func BenchmarkScore52(b *testing.B) {
	m, X := model52(b)
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		t2, q := m.Score(X.RawRowView(i & 1023))
		sink += t2 + q
		i++
	}
	_ = sink
}

// BenchmarkScore52Gonum is the same computation with gonum BLAS
// (VecDense.MulVec into reused buffers), kept to justify the plain loops in
// Score: compare the two ns/op.
func BenchmarkScore52Gonum(b *testing.B) {
	m, X := model52(b)
	p, a := m.Dim(), m.Components
	P := mat.NewDense(p, a, m.Loadings)
	z := mat.NewVecDense(p, nil)
	t := mat.NewVecDense(a, nil)
	rec := mat.NewVecDense(p, nil)
	b.ReportAllocs()
	var sink float64
	i := 0
	for b.Loop() {
		x := X.RawRowView(i & 1023)
		for j := 0; j < p; j++ {
			z.SetVec(j, (x[j]-m.Mean[j])/m.Std[j])
		}
		t.MulVec(P.T(), z)
		rec.MulVec(P, t)
		rec.SubVec(z, rec)
		var t2 float64
		for k := 0; k < a; k++ {
			t2 += t.AtVec(k) * t.AtVec(k) / m.Eigenvalues[k]
		}
		sink += t2 + mat.Dot(rec, rec)
		i++
	}
	_ = sink
}

func BenchmarkDetectorObserve52(b *testing.B) {
	m, X := model52(b)
	f, err := TheoreticalFilter(m, 0.2, 1)
	if err != nil {
		b.Fatal(err)
	}
	d, err := NewDetector(m, DetectorConfig{Filter: f})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := d.Observe(t0, X.RawRowView(i&1023)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
