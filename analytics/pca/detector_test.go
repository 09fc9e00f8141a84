package pca

import (
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// runShift streams 200 normal rows, 50 rows with x6 shifted by shift·σ,
// then 100 normal rows, and returns every finding.
func runShift(t *testing.T, d *Detector, m *Model, s *synthetic, shift float64) []analytics.Finding {
	t.Helper()
	X := s.rows(350)
	var out []analytics.Finding
	for i := 0; i < 350; i++ {
		x := append([]float64(nil), X.RawRowView(i)...)
		if i >= 200 && i < 250 {
			x[6] += shift * m.Std[6]
		}
		fs, err := d.Observe(t0.Add(time.Duration(i)*time.Minute), x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fs...)
	}
	return out
}

func TestDetectorMeanShiftTransitions(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	// Persistence 3 keeps the 1 % random exceedances of normal rows quiet.
	f := &Filter{Persistence: 3, T2Limit: m.T2Limit, QLimit: m.QLimit, LimitMethod: m.LimitMethod}
	d, err := NewDetector(m, DetectorConfig{Site: "s1", Line: "L1", Machine: "press", Filter: f, TopN: 3, Severity: analytics.Warning})
	if err != nil {
		t.Fatal(err)
	}
	fs := runShift(t, d, m, s, 8)
	var q []analytics.Finding
	for _, f := range fs {
		if f.Rule == RuleQ {
			q = append(q, f)
		}
	}
	if len(q) != 2 {
		t.Fatalf("want one Q start and one Q end, got %d Q findings: %+v", len(q), fs)
	}
	start, end := q[0], q[1]
	if !start.Active || end.Active {
		t.Fatalf("transitions out of order: %+v", q)
	}
	// Starts on the 3rd shifted row (persistence 3) and ends 3 rows after the shift.
	if want := t0.Add(202 * time.Minute); !start.Time.Equal(want) {
		t.Errorf("Q start at %s, want %s", start.Time, want)
	}
	if want := t0.Add(252 * time.Minute); !end.Time.Equal(want) {
		t.Errorf("Q end at %s, want %s", end.Time, want)
	}
	if start.Tag != "synthetic" || start.Detector != "pca" || start.Line != "L1" || start.Machine != "press" || start.Site != "s1" {
		t.Errorf("finding identity %+v", start)
	}
	if start.ID != analytics.MakeID(start) || start.ID == end.ID {
		t.Errorf("finding ids %q / %q not deterministic and distinct", start.ID, end.ID)
	}
	if start.Limit != m.QLimit || !(start.Statistic > start.Limit) {
		t.Errorf("statistic %v limit %v", start.Statistic, start.Limit)
	}
	if len(start.Evidence) != 3 {
		t.Fatalf("evidence %v, want top 3", start.Evidence)
	}
	top, best := "", math.Inf(-1)
	for k, v := range start.Evidence {
		if v > best {
			top, best = k, v
		}
	}
	if top != "x6" {
		t.Errorf("top contribution %q (%v), want x6", top, start.Evidence)
	}
}

func TestDetectorPersistenceSuppressesShortExcursion(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	f := &Filter{Persistence: 3, T2Limit: m.T2Limit, QLimit: m.QLimit}
	d, err := NewDetector(m, DetectorConfig{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	X := s.rows(10)
	for i := 0; i < 10; i++ {
		x := append([]float64(nil), X.RawRowView(i)...)
		if i == 4 || i == 5 { // two violating rows < persistence 3
			x[6] += 10 * m.Std[6]
		}
		fs, err := d.Observe(t0.Add(time.Duration(i)*time.Second), x)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Rule == RuleQ {
				t.Fatalf("row %d: Q finding from a 2-row excursion with persistence 3: %+v", i, f)
			}
		}
	}
}

func TestDetectorEWMADetectsSmallShift(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	// A 1.5σ shift on one variable is mostly below the raw Q limit but a
	// slow EWMA accumulates it.
	f, err := TheoreticalFilter(m, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(m, DetectorConfig{Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	fs := runShift(t, d, m, s, 1.5)
	var started *analytics.Finding
	for i := range fs {
		if fs[i].Rule == RuleQ && fs[i].Active {
			started = &fs[i]
			break
		}
	}
	if started == nil {
		t.Fatalf("EWMA Q never alarmed on a sustained 1.5σ shift; findings %+v", fs)
	}
	if started.Time.Before(t0.Add(200 * time.Minute)) {
		t.Fatalf("EWMA Q alarmed before the shift at %s", started.Time)
	}
}

func TestDetectorLagWindowMatchesBatchScoring(t *testing.T) {
	m, s := trainSynthetic(t, 2)
	d, err := NewDetector(m, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	X := s.rows(20)
	t2s, qs, err := FilteredStatistics(m, []*mat.Dense{X}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := d.Observe(t0.Add(time.Duration(i)*time.Second), X.RawRowView(i)); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			continue
		}
		t2, q, _, _ := d.Statistics()
		if math.Abs(t2-t2s[i-2]) > 1e-9 || math.Abs(q-qs[i-2]) > 1e-9 {
			t.Fatalf("row %d: streaming (%v, %v) != batch (%v, %v)", i, t2, q, t2s[i-2], qs[i-2])
		}
	}
}

func TestDetectorRejectsBadObservations(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	d, err := NewDetector(m, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	x := s.rows(1).RawRowView(0)
	if _, err := d.Observe(t0, x[:3]); err == nil {
		t.Fatal("accepted a short vector")
	}
	bad := append([]float64(nil), x...)
	bad[2] = math.NaN()
	if _, err := d.Observe(t0, bad); err == nil {
		t.Fatal("accepted NaN")
	}
	if _, err := d.Observe(t0.Add(time.Minute), x); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Observe(t0, x); err == nil {
		t.Fatal("accepted an observation older than the previous one")
	}
}

func TestCalibrateFilterHitsTargetOnCalibrationData(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	segs := []*mat.Dense{s.rows(3000), s.rows(3000)}
	f, err := CalibrateFilter(m, segs, 0.2, 1, 0.01, "synthetic")
	if err != nil {
		t.Fatal(err)
	}
	t2s, qs, err := FilteredStatistics(m, segs, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	var n2, nq int
	for i := range t2s {
		if t2s[i] > f.T2Limit {
			n2++
		}
		if qs[i] > f.QLimit {
			nq++
		}
	}
	r2, rq := float64(n2)/float64(len(t2s)), float64(nq)/float64(len(qs))
	if math.Abs(r2-0.01) > 0.001 || math.Abs(rq-0.01) > 0.001 {
		t.Fatalf("calibrated exceedance T² %v Q %v, want 0.01", r2, rq)
	}
	if _, err := CalibrateFilter(m, []*mat.Dense{s.rows(50)}, 0.2, 1, 0.01, "tiny"); err == nil {
		t.Fatal("calibrated a 1 % quantile from 50 rows")
	}
}
