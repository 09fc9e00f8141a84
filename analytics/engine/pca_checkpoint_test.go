package engine

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/pca"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

var pressTags = []string{"tablet_weight", "hardness", "compression_force"}

// pcaCheckpointConfig writes a dynamic PCA model (1 lag) with an EWMA and a
// persistence rule for the tablet press, and the demo config that uses it.
func pcaCheckpointConfig(t *testing.T) *config.Config {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	X := mat.NewDense(600, 3, nil)
	for i := range 600 {
		v := pressVector(rng, false)
		X.SetRow(i, v[:])
	}
	m, err := pca.Train(X, []string{"weight", "hardness", "force"}, pca.Options{Name: "press", Components: 1, Alpha: 0.01, Lags: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Filter, err = pca.TheoreticalFilter(m, 0.2, 3); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(filepath.Join(dir, "press.json")); err != nil {
		t.Fatal(err)
	}
	cfgText, err := os.ReadFile("../../config/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfgText = []byte(strings.Replace(string(cfgText), "\nalarms:", `
  models:
    - {name: press, file: press.json, line: tableting1, tags: [press/tablet_weight, press/hardness, press/compression_force]}
alarms:`, 1))
	cfgFile := filepath.Join(dir, "linewatch.yaml")
	if err := os.WriteFile(cfgFile, cfgText, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// pressVector: weight, hardness and force follow one latent factor; broken
// drops hardness by 3σ while force holds.
func pressVector(rng *rand.Rand, broken bool) [3]float64 {
	z := rng.NormFloat64()
	w := 250 + 2*z + 0.3*rng.NormFloat64()
	h := 80 + 4*z + 0.5*rng.NormFloat64()
	f := 12 + 0.5*z + 0.08*rng.NormFloat64()
	if broken {
		h -= 12
	}
	return [3]float64{w, h, f}
}

// pressStream: 300 one-second vectors, the correlation broken from 150 to 219.
func pressStream() []sample.Sample {
	rng := rand.New(rand.NewPCG(21, 22))
	var out []sample.Sample
	for i := range 300 {
		v := pressVector(rng, i >= 150 && i < 220)
		ts := t0.Add(time.Duration(i) * time.Second)
		for j, tag := range pressTags {
			out = append(out, sample.Sample{Time: ts, Site: "demo-plant", Line: "tableting1", Machine: "press", Tag: tag, Value: v[j]})
		}
	}
	return out
}

// The cut falls inside the active condition and in the middle of an
// observation vector (after its first tag), so the checkpoint must carry
// the EWMA, the persistence counters, the active flag, the lag window and
// the partly assembled vector.
const pcaCut = 3*170 + 1

func pcaFindings(fs []analytics.Finding) []analytics.Finding {
	var out []analytics.Finding
	for _, f := range fs {
		if f.Detector == pca.DetectorName {
			out = append(out, f)
		}
	}
	return out
}

func newEngine(t *testing.T, cfg *config.Config) *Engine {
	t.Helper()
	e, err := New(cfg, Options{StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.models) != 1 {
		t.Fatalf("%d PCA models loaded, want 1", len(e.models))
	}
	return e
}

// Checkpoint at the pcaModel level (what Engine.Snapshot/Restore call):
// the restored run's PCA findings equal the uninterrupted run's, value for
// value; without the checkpoint the condition is raised a second time.
func TestPCAModelCheckpointResumesExactly(t *testing.T) {
	cfg := pcaCheckpointConfig(t)
	stream := pressStream()
	want := pcaFindings(run(newEngine(t, cfg), stream))
	if len(want) < 2 || !want[0].Active || want[0].Time.Before(t0.Add(150*time.Second)) {
		t.Fatalf("scenario: want a start after the fault and an end; got %s", ids(want))
	}

	before := newEngine(t, cfg)
	got := pcaFindings(run(before, stream[:pcaCut]))
	if t2, q := before.models[0].det.Active(); !t2 && !q {
		t.Fatalf("no PCA condition active at the cut; findings so far %s", ids(got))
	}
	if before.models[0].nFresh != 1 {
		t.Fatalf("cut is not inside an observation vector: %d fresh values", before.models[0].nFresh)
	}
	saved := map[string][]byte{}
	for _, m := range before.models {
		b, err := m.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		saved[m.id()] = b
	}
	if _, ok := saved["pca/tableting1/press"]; !ok {
		t.Fatalf("checkpoint keys %v", saved)
	}

	after := newEngine(t, cfg)
	for _, m := range after.models {
		if err := m.restore(saved[m.id()]); err != nil {
			t.Fatal(err)
		}
	}
	got = append(got, pcaFindings(run(after, stream[pcaCut:]))...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed PCA findings differ from the uninterrupted run:\n got  %+v\n want %+v", got, want)
	}

	fresh := newEngine(t, cfg)
	again := pcaFindings(run(fresh, stream[pcaCut:]))
	if len(again) == 0 || !again[0].Active {
		t.Errorf("without the checkpoint the condition should be raised again; got %s", ids(again))
	}
}

// A checkpoint of a model bound to other tags is refused and leaves the
// model as it was.
func TestPCAModelRestoreRefusesOtherTags(t *testing.T) {
	cfg := pcaCheckpointConfig(t)
	e := newEngine(t, cfg)
	run(e, pressStream()[:pcaCut])
	b, err := e.models[0].snapshot()
	if err != nil {
		t.Fatal(err)
	}
	other := newEngine(t, cfg)
	other.models[0].tags = []string{"press/hardness", "press/tablet_weight", "press/compression_force"}
	beforeSnap, _ := other.models[0].snapshot()
	err = other.models[0].restore(b)
	if err == nil || !strings.Contains(err.Error(), "config has line tableting1 tags") {
		t.Fatalf("restore onto other tags: %v", err)
	}
	afterSnap, _ := other.models[0].snapshot()
	if string(beforeSnap) != string(afterSnap) {
		t.Error("refused restore changed the model state")
	}
}

// The same through Engine.Snapshot/Restore: every finding (univariate and
// PCA) of the restored run equals the uninterrupted run's.
func TestEngineCheckpointIncludesPCA(t *testing.T) {
	cfg := pcaCheckpointConfig(t)
	stream := pressStream()
	want := run(newEngine(t, cfg), stream)
	before := newEngine(t, cfg)
	got := run(before, stream[:pcaCut])
	b, err := before.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	after := newEngine(t, cfg)
	if err := after.Restore(b); err != nil {
		t.Fatal(err)
	}
	got = append(got, run(after, stream[pcaCut:])...)
	if len(pcaFindings(want)) < 2 {
		t.Fatalf("scenario: %s", ids(want))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed findings differ from the uninterrupted run:\n got  %+v\n want %+v", got, want)
	}
}

// A non-finite reading in the vector being assembled (JSON has no NaN) is
// checkpointed too: the restored model rejects that vector exactly as the
// uninterrupted one does.
func TestPCAModelCheckpointNonFiniteValue(t *testing.T) {
	cfg := pcaCheckpointConfig(t)
	stream := pressStream()
	stream[3*160+1].Value = math.NaN() // hardness of vector 160
	const cut = 3*160 + 2
	want := pcaFindings(run(newEngine(t, cfg), stream))
	before := newEngine(t, cfg)
	got := pcaFindings(run(before, stream[:cut]))
	b, err := before.models[0].snapshot()
	if err != nil {
		t.Fatalf("snapshot with a NaN reading: %v", err)
	}
	after := newEngine(t, cfg)
	if err := after.models[0].restore(b); err != nil {
		t.Fatal(err)
	}
	got = append(got, pcaFindings(run(after, stream[cut:]))...)
	if len(want) < 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed PCA findings differ:\n got  %s\n want %s", ids(got), ids(want))
	}
}
