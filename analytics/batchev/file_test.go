package batchev

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

// smallModel trains on three short synthetic cycles (fast, for file tests).
func smallModel(t testing.TB) *Model {
	t.Helper()
	var bs []Batch
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b := range 4 {
		a := AlignBatch(2, time.Minute)
		var evs []Event
		start := t0.Add(time.Duration(b) * time.Hour)
		evs = a.PhaseValue("B", start, "dry", evs)
		for s := 0; s < 600; s += 10 {
			ts := start.Add(time.Duration(s) * time.Second)
			evs = a.Value("B", ts, 0, float64(s)/60+0.1*float64((s*7+b*13)%5), evs)
			evs = a.Value("B", ts, 1, 3+0.1*float64((s*3+b*11)%7), evs)
		}
		bs = append(bs, Batch{ID: "B" + string(rune('1'+b)), Events: a.Flush(evs)})
	}
	m, err := Train(bs, Options{Name: "m", Line: "l", Variables: []string{"x/a", "x/b"}, PhaseTag: "x/phase", Step: time.Minute, MinBatches: 4})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelFileRoundTripRecordsBatches(t *testing.T) {
	m := smallModel(t)
	path := filepath.Join(t.TempDir(), "m.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, m)
	}
	if !reflect.DeepEqual(got.Batches, []string{"B1", "B2", "B3", "B4"}) {
		t.Fatalf("source batches %q", got.Batches)
	}
}

func TestModelFileTamperedIsRejected(t *testing.T) {
	b, err := smallModel(t).MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	// widen the envelope: a silent detector
	bad := bytes.Replace(b, []byte(`"sigma": 3,`), []byte(`"sigma": 30,`), 1)
	if bytes.Equal(bad, b) {
		t.Fatal("test did not alter the file")
	}
	if _, err := ReadModel(bytes.NewReader(bad)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("tampered file: err %v, want ErrChecksum", err)
	}
	// a removed source batch is tampering too
	bad = bytes.Replace(b, []byte(`"B1",`), nil, 1)
	if _, err := ReadModel(bytes.NewReader(bad)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("batch removed: err %v, want ErrChecksum", err)
	}
}

func TestReadModelErrors(t *testing.T) {
	good, err := smallModel(t).MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{`, "not valid JSON"},
		{`{"version":1,"kind":"pca"}`, `kind "pca", want "batch_evolution"`},
		{`{"version":2,"kind":"batch_evolution"}`, "version 2, this linewatch reads version 1"},
		{strings.Replace(string(good), `"window"`, `"extra": 1, "window"`, 1), "unknown field"},
		{string(good) + "{}", "not valid JSON"},
	} {
		_, err := ReadModel(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60q: err %v, want %q", tc.in, err, tc.want)
		}
	}
	// a file whose checksum matches but whose content is unusable
	m := smallModel(t)
	m.Phases[0].Points[0].SD[1] = 0
	if _, err := m.MarshalFile(); err == nil || !strings.Contains(err.Error(), "σ > 0") {
		t.Errorf("zero σ: err %v", err)
	}
}

func FuzzReadModel(f *testing.F) {
	good, err := smallModel(f).MarshalFile()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"kind":"batch_evolution","phases":[{"points":[{}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadModel(bytes.NewReader(b))
		if err != nil {
			return
		}
		// whatever loads is usable: it re-encodes, and a detector scores with it
		out, err := m.MarshalFile()
		if err != nil {
			t.Fatalf("loaded model does not re-encode: %v", err)
		}
		if m2, err := ReadModel(bytes.NewReader(out)); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-encoded model differs or fails: %v", err)
		}
		d, err := NewDetector(m, DetectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Unix(0, 0)
		d.Phase("b", t0, m.Phases[0].Name, nil)
		for i := range 3 * len(m.Variables) {
			d.Value("b", t0.Add(time.Duration(i)*m.Step), i%len(m.Variables), 1e300, nil)
		}
	})
}

func TestDetectorSnapshotResumesExactly(t *testing.T) {
	m := goldenModel(t)
	// a pressure rise across the cut: findings on both sides of it
	rise := simulator.Fault{Kind: simulator.FaultPressureRise, Target: "lyo1", Offset: 30,
		At: simStart.Add(cycle + 4*time.Hour + 3*time.Hour + 50*time.Minute), Duration: simulator.Duration(time.Hour)}
	ss := simulate(t, 3, 2, rise)
	a, _ := NewDetector(m, DetectorConfig{Site: "site"})
	feed := func(d *Detector, part []sample.Sample) (fs []analytics.Finding) {
		for _, s := range part {
			if s.Tag == "phase" {
				fs = d.Phase(s.Batch, s.Time, s.Text, fs)
			} else if i := varIndex(s); i >= 0 {
				fs = d.Value(s.Batch, s.Time, i, s.Value, fs)
			}
		}
		return fs
	}
	// cut in the middle of a slice of primary drying
	cut := len(ss) * 5 / 8
	got := feed(a, ss[:cut])
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewDetector(m, DetectorConfig{Site: "site"})
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, feed(b, ss[cut:])...)
	wantAll := feed(mustDetector(t, m), ss)
	if len(wantAll) < 2 || !reflect.DeepEqual(got, wantAll) {
		t.Fatalf("after restore:\n got %v\nwant %v", got, wantAll)
	}
	if len(got) == 0 && len(a.al.s.Points) == 0 {
		t.Fatal("the cut fell outside an open slice: the test proves nothing")
	}
	other := smallModel(t)
	od, _ := NewDetector(other, DetectorConfig{})
	if err := od.Restore(snap); err == nil || !strings.Contains(err.Error(), "checkpoint is for model lyo1-golden") {
		t.Fatalf("restore into another model: %v", err)
	}
}

func mustDetector(t testing.TB, m *Model) *Detector {
	d, err := NewDetector(m, DetectorConfig{Site: "site"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// A checkpoint is outside data too (a KV bucket): Restore refuses what does
// not fit the model and never leaves a detector that panics.
func FuzzDetectorRestore(f *testing.F) {
	m := smallModel(f)
	d := mustDetector(f, m)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d.Phase("B", t0, "dry", nil)
	d.Value("B", t0.Add(time.Second), 0, 1, nil)
	snap, err := d.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add([]byte(`{"v":1,"model":"m","variables":["x/a","x/b"],"aligner":{"points":[{"i":7}]},"detector":{"env":[{},{}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := mustDetector(t, m)
		if err := d.Restore(b); err != nil {
			return
		}
		for i := range 200 {
			d.Value("B", t0.Add(time.Duration(i)*10*time.Second), i%2, float64(i), nil)
		}
		d.Phase("C", t0.Add(time.Hour), "dry", nil)
	})
}

// A line whose batches run one phase of the same name: each new batch
// starts it anew (maturity from the batch change), not where the last ended.
func TestAlignerNewBatchRestartsSamePhase(t *testing.T) {
	a := NewAligner(1, time.Minute, []string{"run"})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []Event
	evs = a.PhaseValue("A", t0, "run", evs) // joined: start unseen
	for s := 0; s < 600; s += 30 {
		evs = a.Value("A", t0.Add(time.Duration(s)*time.Second), 0, 1, evs)
	}
	if len(evs) != 0 {
		t.Fatalf("judged a phase whose start was not seen: %+v", evs)
	}
	t1 := t0.Add(10 * time.Minute)
	for s := 0; s <= 150; s += 30 {
		evs = a.Value("B", t1.Add(time.Duration(s)*time.Second), 0, 2, evs)
	}
	var idx []int
	for _, e := range evs {
		if e.Kind == EvSlice {
			idx = append(idx, e.Index)
			if e.Batch != "B" || e.Phase != "run" || e.Values[0] != 2 {
				t.Fatalf("slice %+v", e)
			}
		}
	}
	if len(idx) != 2 || idx[0] != 0 || idx[1] != 1 {
		t.Fatalf("slices of batch B at maturity %v, want [0 1]", idx)
	}
}
