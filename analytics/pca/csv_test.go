package pca

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTrainCSVMatchesTrain(t *testing.T) {
	s := newSynthetic(11, 5, 2, 0.3)
	X := s.rows(400)
	var b bytes.Buffer
	b.WriteString("time,a,b,c,d,e\n")
	for i := 0; i < 400; i++ {
		b.WriteString(t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339))
		for j := 0; j < 5; j++ {
			b.WriteString("," + strconv.FormatFloat(X.At(i, j), 'g', -1, 64))
		}
		b.WriteString("\n")
	}
	b.WriteString(t0.Add(400*time.Minute).Format(time.RFC3339) + ",1,2,,4,5\n") // incomplete: skipped
	got, err := TrainCSV(&b, Options{Name: "csv", Components: 2})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Train(X, []string{"a", "b", "c", "d", "e"}, Options{Name: "csv", Components: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got.TrainingRows != 400 || got.T2Limit != want.T2Limit || got.QLimit != want.QLimit {
		t.Fatalf("CSV model rows %d limits %v/%v, want 400 %v/%v", got.TrainingRows, got.T2Limit, got.QLimit, want.T2Limit, want.QLimit)
	}
	if !got.From.Equal(t0) || !got.To.Equal(t0.Add(399*time.Minute)) {
		t.Fatalf("training range %s..%s", got.From, got.To)
	}
}

func TestReadWideCSVErrors(t *testing.T) {
	for name, in := range map[string]string{
		"one variable": "time,a\n2026-01-01T00:00:00Z,1\n",
		"bad time":     "time,a,b\nyesterday,1,2\n",
		"bad number":   "time,a,b\n2026-01-01T00:00:00Z,1,x\n",
		"unsorted":     "time,a,b\n2026-01-01T00:01:00Z,1,2\n2026-01-01T00:00:00Z,1,2\n",
		"no rows":      "time,a,b\n",
		"ragged":       "time,a,b\n2026-01-01T00:00:00Z,1\n",
	} {
		if _, err := ReadWideCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzReadWideCSV(f *testing.F) {
	f.Add([]byte("time,a,b\n2026-01-01T00:00:00Z,1,2\n2026-01-01T00:01:00Z,3,4\n"))
	f.Add([]byte("time,a,a\n"))
	f.Add([]byte("t,a,b\n2026-01-01T00:00:00Z,NaN,2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ReadWideCSV(bytes.NewReader(b))
		if err != nil {
			return
		}
		r, c := w.X.Dims()
		if r != len(w.Times) || c != len(w.Names) {
			t.Fatalf("matrix %d×%d for %d times and %d names", r, c, len(w.Times), len(w.Names))
		}
	})
}
