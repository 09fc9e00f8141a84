package pca

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/linewatch/linewatch/analytics"
)

// tightSynthetic is the 10-variable factor process of trainSynthetic with
// x9 replaced by x8 plus a little noise: a tight relation such as a flow
// and the valve that sets it, the kind of structure a fault can break
// without moving either variable much.
type tightSynthetic struct{ *synthetic }

func (s tightSynthetic) rows(n int) *mat.Dense {
	X := s.synthetic.rows(n)
	for i := 0; i < n; i++ {
		X.Set(i, 9, X.At(i, 8)+0.01*s.rng.NormFloat64())
	}
	return X
}

func trainResidual(t testing.TB) (*Model, tightSynthetic) {
	t.Helper()
	s := tightSynthetic{newSynthetic(42, 10, 3, 0.3)}
	m, err := Train(s.rows(5000), names(10), Options{Name: "tight", Components: 3, ResidualT2: true})
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// With every residual component kept, T² + T²_r is the Mahalanobis
// distance z'R⁻¹z of the autoscaled observation, computed here from the
// correlation matrix directly; the residual contributions sum to T²_r.
func TestResidualT2IsTheRestOfTheMahalanobisDistance(t *testing.T) {
	s := tightSynthetic{newSynthetic(7, 10, 3, 0.3)}
	X := s.rows(3000)
	m, err := Train(X, names(10), Options{Name: "tight", Components: 3, ResidualT2: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.ResidualComponents != 7 {
		t.Fatalf("residual components %d, want all 7", m.ResidualComponents)
	}
	var corr mat.SymDense
	stat.CorrelationMatrix(&corr, X, nil)
	var inv mat.Dense
	if err := inv.Inverse(&corr); err != nil {
		t.Fatal(err)
	}
	Y := s.rows(20)
	for i := 0; i < 20; i++ {
		x := Y.RawRowView(i)
		z := mat.NewVecDense(10, nil)
		for j := range 10 {
			z.SetVec(j, (x[j]-m.Mean[j])/m.Std[j])
		}
		want := mat.Inner(z, &inv, z)
		t2, _, t2r := m.ScoreAll(x)
		if math.Abs(t2+t2r-want) > 1e-6*(1+want) {
			t.Fatalf("row %d: T² %v + T²_r %v = %v, Mahalanobis %v", i, t2, t2r, t2+t2r, want)
		}
		var sum float64
		for _, c := range m.ResidualContributions(x) {
			sum += c
		}
		if math.Abs(sum-t2r) > 1e-9*(1+t2r) {
			t.Fatalf("row %d: residual contributions sum to %v, T²_r %v", i, sum, t2r)
		}
	}
}

func TestScoreAllDoesNotAllocate(t *testing.T) {
	m, s := trainResidual(t)
	x := s.rows(1).RawRowView(0)
	if n := testing.AllocsPerRun(100, func() { m.ScoreAll(x) }); n != 0 {
		t.Fatalf("ScoreAll allocates %v times per call", n)
	}
}

// Exact collinearities (here x9 = x8) are not scored: their variance is
// rounding noise and dividing by it would turn round-off into alarms.
func TestResidualT2SkipsExactCollinearity(t *testing.T) {
	s := newSynthetic(3, 10, 3, 0.3)
	X := s.rows(2000)
	for i := 0; i < 2000; i++ {
		X.Set(i, 9, X.At(i, 8))
	}
	m, err := Train(X, names(10), Options{Name: "exact", Components: 3, ResidualT2: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.ResidualComponents != 6 {
		t.Fatalf("residual components %d, want 6 (7 minus the exact collinearity)", m.ResidualComponents)
	}
	if last := m.Eigenvalues[m.Components+m.ResidualComponents-1]; last < MinResidualEigenvalue*m.Eigenvalues[0] {
		t.Fatalf("scored a residual component of variance %v", last)
	}
}

// A fault that breaks the tight x8–x9 relation by 0.1 (6 % of x9's
// standard deviation) is invisible to Q, whose limit is set by the larger
// residual directions, and obvious to T²_r; the finding names x9 first.
func TestDetectorResidualT2CatchesBrokenRelation(t *testing.T) {
	m, s := trainResidual(t)
	d, err := NewDetector(m, DetectorConfig{Line: "L1", TopN: 2})
	if err != nil {
		t.Fatal(err)
	}
	X := s.rows(200)
	for i := 100; i < 200; i++ {
		X.Set(i, 9, X.At(i, 9)+0.1)
	}
	var qAlarms, rAlarms int
	var start *analytics.Finding
	for i := 0; i < 200; i++ {
		fs, err := d.Observe(t0.Add(time.Duration(i)*time.Minute), X.RawRowView(i))
		if err != nil {
			t.Fatal(err)
		}
		for k := range fs {
			if fs[k].Rule == RuleT2R && fs[k].Active && start == nil {
				start = &fs[k]
			}
		}
		if i >= 100 {
			if _, q := d.Active(); q {
				qAlarms++
			}
			if d.ActiveResidual() {
				rAlarms++
			}
		}
	}
	if rAlarms < 95 || qAlarms > 10 {
		t.Fatalf("on 100 faulty rows: residual T² alarmed on %d (want ≥ 95), Q on %d (want ≤ 10)", rAlarms, qAlarms)
	}
	if start == nil || start.Time.Before(t0.Add(100*time.Minute)) {
		t.Fatalf("first residual T² finding %+v, want one at or after row 100", start)
	}
	if !strings.Contains(start.Message, "residual T²") || !strings.Contains(start.Message, "largest contributions: x9 ") {
		t.Fatalf("finding message %q, want x9 named first", start.Message)
	}
	// T² and its limit have no unit: two decimals, as every statistic
	// without a unit in finding messages.
	if !regexp.MustCompile(`^residual T² \d+\.\d\d above limit \d+\.\d\d \(model `).MatchString(start.Message) {
		t.Errorf("finding message %q", start.Message)
	}
}

// The residual loadings and limit survive the file round trip; a model
// without them is written without the new keys, so files (and checksums)
// of models trained before T²_r existed are unchanged.
func TestResidualModelFileRoundTrip(t *testing.T) {
	m, s := trainResidual(t)
	f, err := CalibrateFilter(m, []*mat.Dense{s.rows(2000)}, 0.2, 1, 0.01, "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	if !(f.T2RLimit > 0) {
		t.Fatalf("calibrated filter has residual limit %v", f.T2RLimit)
	}
	m.Filter = f
	b, err := m.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadModel(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	x := s.rows(1).RawRowView(0)
	a1, b1, c1 := m.ScoreAll(x)
	a2, b2, c2 := got.ScoreAll(x)
	if a1 != a2 || b1 != b2 || c1 != c2 || got.T2RLimit != m.T2RLimit || got.Filter.T2RLimit != f.T2RLimit {
		t.Fatalf("round trip changed the model: (%v %v %v) vs (%v %v %v)", a1, b1, c1, a2, b2, c2)
	}
	plain, _ := trainSynthetic(t, 0)
	pb, err := plain.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(pb, []byte("residual")) || bytes.Contains(pb, []byte("t2r")) {
		t.Fatal("a model without residual T² writes residual keys")
	}
}

func TestResidualModelValidation(t *testing.T) {
	m, _ := trainResidual(t)
	for name, edit := range map[string]func(*Model){
		"loading not orthonormal": func(m *Model) { m.ResidualLoadings[0] += 0.1 },
		"no limit":                func(m *Model) { m.T2RLimit = 0 },
		"too many components":     func(m *Model) { m.ResidualComponents = 8 },
		"limit without components": func(m *Model) {
			m.ResidualComponents, m.ResidualLoadings = 0, nil
		},
		"filter without residual limit": func(m *Model) {
			m.Filter = &Filter{T2Limit: 1, QLimit: 1, LimitMethod: LimitEmpirical}
		},
	} {
		c := m.Clone()
		c.ResidualLoadings = append([]float64(nil), m.ResidualLoadings...)
		edit(c)
		if _, err := c.MarshalFile(); err == nil {
			t.Errorf("%s: written without error", name)
		}
	}
	if _, err := NewDetector(m, DetectorConfig{Filter: &Filter{T2Limit: 1, QLimit: 1}}); err == nil {
		t.Error("detector accepted a filter without a residual T² limit for a residual model")
	}
	plain, _ := trainSynthetic(t, 0)
	if _, err := NewDetector(plain, DetectorConfig{Filter: &Filter{T2Limit: 1, QLimit: 1, T2RLimit: 1}}); err == nil {
		t.Error("detector accepted a residual T² limit for a model without residual components")
	}
}

// A snapshot written before T²_r existed (two-element arrays) restores
// into a detector of the same model and continues exactly.
func TestDetectorRestoresTwoStatisticSnapshot(t *testing.T) {
	m, s := trainSynthetic(t, 1)
	X := shiftedRows(m, s)
	want := observeRows(t, filteredDetector(t, m), X, 0, 350)
	d := filteredDetector(t, m)
	observeRows(t, d, X, 0, 220)
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(snap, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"limits", "rules", "last_raw", "last_value"} {
		raw[k] = raw[k].([]any)[:2]
	}
	old, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := filteredDetector(t, m)
	if err := r.Restore(old); err != nil {
		t.Fatal(err)
	}
	got := append(observeRows(t, filteredDetector(t, m), X, 0, 0), observeRows(t, r, X, 220, 350)...)
	var tail []analytics.Finding
	for _, f := range want {
		if !f.Time.Before(t0.Add(220 * time.Minute)) {
			tail = append(tail, f)
		}
	}
	if len(tail) == 0 || !reflect.DeepEqual(got, tail) {
		t.Fatalf("after restoring a 2-statistic snapshot: %d findings, want %d", len(got), len(tail))
	}
}

// A residual detector's snapshot carries the T²_r state; a snapshot of the
// residual model does not restore into the plain one.
func TestResidualDetectorSnapshot(t *testing.T) {
	m, s := trainResidual(t)
	f, err := TheoreticalFilter(m, 0.2, 2)
	if err != nil {
		t.Fatal(err)
	}
	mk := func() *Detector {
		d, err := NewDetector(m, DetectorConfig{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	X := s.rows(160)
	for i := 80; i < 160; i++ {
		X.Set(i, 9, X.At(i, 9)+0.1)
	}
	want := observeRows(t, mk(), X, 0, 160)
	d := mk()
	observeRows(t, d, X, 0, 120)
	if !d.ActiveResidual() {
		t.Fatal("scenario too weak: residual T² not active at row 120")
	}
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := mk()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !r.ActiveResidual() {
		t.Fatal("restored detector lost the active residual T² condition")
	}
	got := observeRows(t, r, X, 120, 160)
	var tail []analytics.Finding
	for _, f := range want {
		if !f.Time.Before(t0.Add(120 * time.Minute)) {
			tail = append(tail, f)
		}
	}
	if !reflect.DeepEqual(got, tail) {
		t.Fatalf("restored detector: %+v, want %+v", got, tail)
	}
	plain, _ := trainSynthetic(t, 0)
	pd, err := NewDetector(plain, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pd.Restore(snap); !errors.Is(err, ErrSnapshotModel) {
		t.Fatalf("restoring a residual snapshot into another model: %v", err)
	}
}
