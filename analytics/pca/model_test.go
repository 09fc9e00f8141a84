package pca

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func trainSynthetic(t testing.TB, lags int) (*Model, *synthetic) {
	t.Helper()
	s := newSynthetic(42, 10, 3, 0.3)
	m, err := Train(s.rows(5000), names(10), Options{Name: "synthetic", Components: 3, Alpha: 0.01, Lags: lags})
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

func TestFalseAlarmRateNearAlpha(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	X := s.rows(20000)
	var t2n, qn int
	for i := 0; i < 20000; i++ {
		t2, q := m.Score(X.RawRowView(i))
		if t2 > m.T2Limit {
			t2n++
		}
		if q > m.QLimit {
			qn++
		}
	}
	// α = 0.01 on 20 000 fresh rows: binomial sd 0.0007, plus the
	// estimation error of a 5000-row model; 0.006–0.015 is about ±5 sd.
	for name, n := range map[string]int{"T²": t2n, "Q": qn} {
		rate := float64(n) / 20000
		if rate < 0.006 || rate > 0.015 {
			t.Errorf("%s false-alarm rate %.4f on normal data, want ≈ 0.01", name, rate)
		}
	}
}

func TestTrainChoosesComponentsByCPV(t *testing.T) {
	s := newSynthetic(7, 10, 3, 0.3)
	m, err := Train(s.rows(3000), names(10), Options{CPV: 0.95})
	if err != nil {
		t.Fatal(err)
	}
	// Three strong factors and weak isotropic noise: 3 components reach 95 %.
	if m.Components != 3 {
		t.Fatalf("CPV chose %d components, want 3 (eigenvalues %v)", m.Components, m.Eigenvalues)
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	s := newSynthetic(1, 4, 2, 0.3)
	X := s.rows(50)
	for i := 0; i < 50; i++ {
		X.Set(i, 2, 7) // constant column
	}
	if _, err := Train(X, names(4), Options{Components: 2}); err == nil {
		t.Fatal("Train accepted a constant variable")
	}
	if _, err := Train(s.rows(50), []string{"a", "b", "a", "c"}, Options{Components: 2}); err == nil {
		t.Fatal("Train accepted duplicate names")
	}
	if _, err := Train(s.rows(50), names(3), Options{Components: 2}); err == nil {
		t.Fatal("Train accepted a name count that does not match the columns")
	}
	if _, err := Train(s.rows(50), names(4), Options{Components: 4}); err == nil {
		t.Fatal("Train accepted a = p (no residual space)")
	}
}

func TestScoreMatchesDefinition(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	x := s.rows(1).RawRowView(0)
	t2, q := m.Score(x)
	// Direct formulas: z scaled, t = Pᵀz, T² = Σ t²/λ, Q = ‖z − Pt‖².
	p, a := m.Dim(), m.Components
	z := make([]float64, p)
	for j := range z {
		z[j] = (x[j] - m.Mean[j]) / m.Std[j]
	}
	P := mat.NewDense(p, a, m.Loadings)
	var tv, rec mat.VecDense
	tv.MulVec(P.T(), mat.NewVecDense(p, z))
	rec.MulVec(P, &tv)
	var wantT2, wantQ float64
	for k := 0; k < a; k++ {
		wantT2 += tv.AtVec(k) * tv.AtVec(k) / m.Eigenvalues[k]
	}
	for j := 0; j < p; j++ {
		r := z[j] - rec.AtVec(j)
		wantQ += r * r
	}
	if math.Abs(t2-wantT2) > 1e-9*(1+wantT2) || math.Abs(q-wantQ) > 1e-9*(1+wantQ) {
		t.Fatalf("Score = (%v, %v), want (%v, %v)", t2, q, wantT2, wantQ)
	}
	t2c, qc := m.Contributions(x)
	var st, sq float64
	for j := range t2c {
		st += t2c[j]
		sq += qc[j]
	}
	if math.Abs(st-t2) > 1e-9*(1+t2) || math.Abs(sq-q) > 1e-9*(1+q) {
		t.Fatalf("contributions sum to (%v, %v), want (%v, %v)", st, sq, t2, q)
	}
}

func TestScoreDoesNotAllocate(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	x := s.rows(1).RawRowView(0)
	if n := testing.AllocsPerRun(100, func() { m.Score(x) }); n != 0 {
		t.Fatalf("Score allocates %v times per call", n)
	}
}

func TestContributionsNameShiftedVariable(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	x := s.rows(1).RawRowView(0)
	x[6] += 8 * m.Std[6] // a sensor fault on x6 breaks the correlation structure
	_, q := m.Score(x)
	if q <= m.QLimit {
		t.Fatalf("Q %v not above limit %v after an 8σ shift", q, m.QLimit)
	}
	_, qc := m.Contributions(x)
	best := 0
	for j := range qc {
		if qc[j] > qc[best] {
			best = j
		}
	}
	if best != 6 {
		t.Fatalf("largest Q contribution is x%d (%v), want x6", best, qc)
	}
}

func TestDynamicModelDimensions(t *testing.T) {
	m, _ := trainSynthetic(t, 2)
	if m.Dim() != 30 || len(m.AugmentedNames()) != 30 || m.AugmentedNames()[12] != "x2@t-1" {
		t.Fatalf("dynamic model: dim %d names %v", m.Dim(), m.AugmentedNames())
	}
	if m.TrainingRows != 4998 {
		t.Fatalf("training rows %d, want 4998 (5000 minus 2 lags)", m.TrainingRows)
	}
}
