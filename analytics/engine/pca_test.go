package engine

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// A PCA model on the tablet press (weight, hardness, force move together):
// samples of the three tags are aligned into vectors, and breaking the
// correlation (hardness drops while force holds) raises a Q finding that
// names hardness.
func TestEnginePCAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gen := func(broken bool) [3]float64 {
		z := rng.NormFloat64()
		w := 250 + 2*z + 0.3*rng.NormFloat64()
		h := 80 + 4*z + 0.5*rng.NormFloat64()
		f := 12 + 0.5*z + 0.08*rng.NormFloat64()
		if broken {
			h -= 6
		}
		return [3]float64{w, h, f}
	}
	X := mat.NewDense(500, 3, nil)
	for i := range 500 {
		v := gen(false)
		X.SetRow(i, v[:])
	}
	m, err := pca.Train(X, []string{"weight", "hardness", "force"}, pca.Options{Name: "press", Components: 1, Alpha: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "press.json")); err != nil {
		t.Fatal(err)
	}
	cfgText, _ := os.ReadFile("../../config/demo.yaml")
	cfgText = []byte(strings.Replace(string(cfgText), "\nalarms:", `
  models:
    - {name: press, file: press.json, line: tableting1, tags: [press/tablet_weight, press/hardness, press/compression_force]}
alarms:`, 1))
	cfgFile := filepath.Join(dir, "linewatch.yaml")
	os.WriteFile(cfgFile, cfgText, 0o600)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	var fs []analytics.Finding
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i := range 200 {
		v := gen(i >= 150)
		ts := t0.Add(time.Duration(i) * time.Second)
		for j, tag := range []string{"tablet_weight", "hardness", "compression_force"} {
			fs = e.Process(sample.Sample{Time: ts, Line: "tableting1", Machine: "press", Tag: tag, Value: v[j]}, fs)
		}
	}
	fault := t0.Add(150 * time.Second)
	var q *analytics.Finding
	early := 0
	for i, f := range fs {
		if f.Detector != "pca" || !f.Active {
			continue
		}
		if f.Time.Before(fault) {
			early++ // false alarms at α = 0.01 without persistence: expect about 1.5 per statistic
			continue
		}
		q = &fs[i]
		break
	}
	if early > 6 {
		t.Errorf("%d PCA activations in 150 in-control observations", early)
	}
	if q == nil {
		t.Fatalf("no PCA finding after the correlation broke; findings: %s", ids(fs))
	}
	if q.Time.After(fault.Add(5 * time.Second)) {
		t.Errorf("PCA finding at %s, more than 5 observations after the fault at %s", q.Time, fault)
	}
	if q.Tag != "press" || q.Line != "tableting1" {
		t.Errorf("finding on %s", q.Key())
	}
	if _, ok := q.Evidence["hardness"]; !ok {
		t.Errorf("evidence %v does not name hardness", q.Evidence)
	}
}
