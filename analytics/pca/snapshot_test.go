package pca

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/linewatch/linewatch/analytics"
)

// shiftedRows is 350 rows with x6 shifted by 8σ on rows 200–249.
func shiftedRows(m *Model, s *synthetic) *mat.Dense {
	X := s.rows(350)
	for i := 200; i < 250; i++ {
		X.Set(i, 6, X.At(i, 6)+8*m.Std[6])
	}
	return X
}

func observeRows(t *testing.T, d *Detector, X *mat.Dense, from, to int) []analytics.Finding {
	t.Helper()
	var out []analytics.Finding
	for i := from; i < to; i++ {
		fs, err := d.Observe(t0.Add(time.Duration(i)*time.Minute), X.RawRowView(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fs...)
	}
	return out
}

func filteredDetector(t *testing.T, m *Model) *Detector {
	t.Helper()
	f, err := TheoreticalFilter(m, 0.2, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDetector(m, DetectorConfig{Line: "L1", Filter: f, Severity: analytics.Warning})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A dynamic-PCA detector with EWMA and persistence, snapshotted in the
// middle of an active Q condition and restored into a detector built from
// the model file, continues exactly as the uninterrupted one: same
// findings, value for value, and no second start of the condition.
func TestDetectorSnapshotResumesExactly(t *testing.T) {
	m, s := trainSynthetic(t, 2)
	X := shiftedRows(m, s)
	want := observeRows(t, filteredDetector(t, m), X, 0, 350)
	if len(want) < 2 {
		t.Fatalf("scenario too weak: %d findings", len(want))
	}
	const cut = 225 // inside the shift: the Q condition is active
	first := filteredDetector(t, m)
	got := observeRows(t, first, X, 0, cut)
	if _, q := first.Active(); !q {
		t.Fatalf("Q not active at the cut; findings so far %+v", got)
	}
	snap, err := first.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// The restarted process loads the model from its file.
	b, err := m.MarshalFile()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := ReadModel(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	second := filteredDetector(t, loaded)
	if second.ModelSHA256() != first.ModelSHA256() || len(first.ModelSHA256()) != 64 {
		t.Fatalf("model sha256 %q after load, %q before", second.ModelSHA256(), first.ModelSHA256())
	}
	if err := second.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, observeRows(t, second, X, cut, 350)...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed findings differ from the uninterrupted run:\n got  %+v\n want %+v", got, want)
	}
	a1, b1, c1, d1 := second.Statistics()
	ref := filteredDetector(t, m)
	observeRows(t, ref, X, 0, 350)
	a2, b2, c2, d2 := ref.Statistics()
	if [4]float64{a1, b1, c1, d1} != [4]float64{a2, b2, c2, d2} {
		t.Errorf("final statistics %v, uninterrupted %v", [4]float64{a1, b1, c1, d1}, [4]float64{a2, b2, c2, d2})
	}

	// Without the snapshot the restarted detector refills its lag window
	// and warms its EWMA: it raises the same condition a second time.
	fresh := filteredDetector(t, loaded)
	again := observeRows(t, fresh, X, cut, 350)
	if len(again) == 0 || !again[0].Active {
		t.Errorf("a detector without restored state should re-raise the condition; got %+v", again)
	}
}

// Restore refuses a snapshot of another model, of a retrained model of the
// same name, of another filter or version, and leaves the state unchanged.
func TestDetectorRestoreRefusesMismatch(t *testing.T) {
	m, s := trainSynthetic(t, 0)
	d := filteredDetector(t, m)
	observeRows(t, d, shiftedRows(m, s), 0, 210)
	snap, err := d.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	retrained, err := Train(newSynthetic(43, 10, 3, 0.3).rows(2000), names(10), Options{Name: "synthetic", Components: 3})
	if err != nil {
		t.Fatal(err)
	}
	renamed := m.Clone()
	renamed.Name = "other"
	plain, err := NewDetector(m, DetectorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		det     *Detector
		data    []byte
		model   bool // wraps ErrSnapshotModel
		message string
	}{
		{"retrained", filteredDetector(t, retrained), snap, true, "retrained or edited"},
		{"renamed", filteredDetector(t, renamed), snap, true, `snapshot of model "synthetic", detector runs "other"`},
		{"other filter", plain, snap, true, "snapshot filter lambda 0.2"},
		{"version", filteredDetector(t, m), bytes.Replace(snap, []byte(`"v":1`), []byte(`"v":9`), 1), false, "snapshot version 9"},
		{"short history", filteredDetector(t, m), bytes.Replace(snap, []byte(`"head":0`), []byte(`"head":4`), 1), false, "does not fit"},
		{"not json", filteredDetector(t, m), []byte("{"), false, "restore detector"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, err := c.det.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			err = c.det.Restore(c.data)
			if err == nil {
				t.Fatal("restored")
			}
			if errors.Is(err, ErrSnapshotModel) != c.model || !strings.Contains(err.Error(), c.message) {
				t.Errorf("error %q; want ErrSnapshotModel=%v and %q", err, c.model, c.message)
			}
			after, _ := c.det.Snapshot()
			if !bytes.Equal(before, after) {
				t.Errorf("state changed by a refused restore")
			}
		})
	}
}

// FuzzDetectorRestore: any byte string is refused or yields a detector
// that can keep observing without panicking.
func FuzzDetectorRestore(f *testing.F) {
	m, s := trainSynthetic(f, 1)
	d, err := NewDetector(m, DetectorConfig{})
	if err != nil {
		f.Fatal(err)
	}
	X := s.rows(20)
	for i := range 10 {
		if _, err := d.Observe(t0.Add(time.Duration(i)*time.Minute), X.RawRowView(i)); err != nil {
			f.Fatal(err)
		}
	}
	snap, err := d.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"hist":[1,2]}`))
	f.Add(bytes.Replace(snap, []byte(`"filled":2`), []byte(`"filled":-1`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDetector(m, DetectorConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Restore(data) != nil {
			return
		}
		for i := 10; i < 20; i++ {
			d.Observe(t0.Add(time.Duration(i)*time.Minute), X.RawRowView(i))
		}
	})
}
