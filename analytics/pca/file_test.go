package pca

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestModelFileRoundTrip(t *testing.T) {
	m, s := trainSynthetic(t, 1)
	m.Source = "unit test"
	m.From, m.To = t0, t0.Add(time.Hour)
	var err error
	if m.Filter, err = TheoreticalFilter(m, 0.2, 2); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != m.Name || got.Components != m.Components || got.Lags != 1 || got.T2Limit != m.T2Limit ||
		got.QLimit != m.QLimit || !got.From.Equal(m.From) || got.Source != "unit test" || *got.Filter != *m.Filter {
		t.Fatalf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	X := s.rows(5)
	x := make([]float64, m.Dim())
	copy(x, X.RawRowView(0))
	copy(x[10:], X.RawRowView(1))
	a2, aq := m.Score(x)
	b2, bq := got.Score(x)
	if a2 != b2 || aq != bq {
		t.Fatalf("scores differ after round trip: (%v,%v) vs (%v,%v)", a2, aq, b2, bq)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"version": 1`, `"variables"`, `"means"`, `"std_devs"`, `"loadings"`, `"eigenvalues"`,
		`"components": 3`, `"alpha": 0.01`, `"t2_limit"`, `"q_limit"`, `"training"`, `"sha256"`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("model file lacks %s", field)
		}
	}
}

func TestModelFileTamperDetected(t *testing.T) {
	m, _ := trainSynthetic(t, 0)
	b, err := m.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	// Raise the Q limit a little, as someone silencing alarms would.
	limit := strings.TrimRight(strings.TrimRight(
		strings.Split(strings.Split(string(b), `"q_limit": `)[1], ",")[0], "\n"), " ")
	tampered := strings.Replace(string(b), `"q_limit": `+limit, `"q_limit": 1000`, 1)
	if tampered == string(b) {
		t.Fatal("test did not change the file")
	}
	if _, err := ReadModel(strings.NewReader(tampered)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("tampered file: err = %v, want ErrChecksum", err)
	}
	if _, err := ReadModel(bytes.NewReader(b)); err != nil {
		t.Fatalf("original file: %v", err)
	}
	other := strings.Replace(string(b), `"version": 1`, `"version": 2`, 1)
	if _, err := ReadModel(strings.NewReader(other)); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("future version: err = %v", err)
	}
	unknown := strings.Replace(string(b), `"version": 1,`, `"version": 1, "extra": true,`, 1)
	if _, err := ReadModel(strings.NewReader(unknown)); err == nil {
		t.Fatal("accepted an unknown field")
	}
}

func TestValidateRejectsInconsistentModel(t *testing.T) {
	m, _ := trainSynthetic(t, 0)
	broken := m.Clone()
	broken.Loadings = append([]float64(nil), m.Loadings...)
	broken.Loadings[0] *= 2 // no longer orthonormal
	if _, err := broken.MarshalFile(); err == nil {
		t.Fatal("wrote a model with non-orthonormal loadings")
	}
	broken = m.Clone()
	broken.Std = append([]float64(nil), m.Std...)
	broken.Std[3] = 0
	if _, err := broken.MarshalFile(); err == nil {
		t.Fatal("wrote a model with a zero std dev")
	}
	broken = m.Clone()
	broken.QLimit = math.Inf(1)
	if _, err := broken.MarshalFile(); err == nil {
		t.Fatal("wrote a model with an infinite limit")
	}
}

func FuzzReadModel(f *testing.F) {
	s := newSynthetic(3, 4, 2, 0.3)
	m, err := Train(s.rows(200), names(4), Options{Name: "fuzz", Components: 2})
	if err != nil {
		f.Fatal(err)
	}
	good, err := m.MarshalFile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"components": 2`), []byte(`"components": 9`), 1))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"variables":["a","b"],"lags":1000,"loadings":[]}`))
	rm, err := Train(newSynthetic(4, 5, 2, 0.3).rows(200), names(5), Options{Name: "fuzz-r", Components: 2, ResidualT2: true})
	if err != nil {
		f.Fatal(err)
	}
	withResidual, err := rm.MarshalFile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(withResidual)
	f.Add([]byte(`[]`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadModel(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Anything that loads must score without panicking and re-encode
		// to a file that loads again.
		x := make([]float64, m.Dim())
		t2, q, t2r := m.ScoreAll(x)
		if math.IsNaN(t2) || math.IsNaN(q) || q < 0 || math.IsNaN(t2r) || t2r < 0 {
			t.Fatalf("loaded model scores (%v, %v, %v)", t2, q, t2r)
		}
		again, err := m.MarshalFile()
		if err != nil {
			t.Fatalf("loaded model does not re-encode: %v", err)
		}
		if _, err := ReadModel(bytes.NewReader(again)); err != nil {
			t.Fatalf("re-encoded model does not load: %v", err)
		}
	})
}
