package tep

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// DocCommand is the command docs/benchmarks/tep.md records, run from the
// repository root with the data set at ../shared/datasets/tep.
const DocCommand = "go run ./analytics/tep/cmd/tepbench -data ../shared/datasets/tep -out docs/benchmarks/tep.md"

// braatzDir is $LINEWATCH_TEP_DATA, or ../shared/datasets/tep next to the
// repository root (where DocCommand looks).
func braatzDir() string {
	if d := os.Getenv("LINEWATCH_TEP_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "datasets", "tep")
}

// TestBraatzFigures runs the benchmark on the real Braatz files and holds
// the figures of docs/benchmarks/tep.md, so a change to the detector that
// loses detection or adds false alarms fails here. It also checks that the
// committed report is what the code generates (LINEWATCH_TEP_UPDATE=1
// rewrites it). Skipped under -short and when the data set is absent.
// Source of the data and the published comparison figures: Russell, Chiang
// & Braatz (2000), Chiang, Russell & Braatz (2001); see the data README.
func TestBraatzFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the full TEP benchmark (≈ 10 s)")
	}
	d, err := Load(braatzDir())
	if errors.Is(err, ErrNoData) {
		t.Skipf("TEP data set not found at %s (set LINEWATCH_TEP_DATA)", braatzDir())
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 0.002 {
			t.Errorf("%s = %.4f, want %.4f", what, got, want)
		}
	}
	// Plain PCA reproduces the textbook monitor (issue #5).
	near("plain mean missed", rep.Plain.MeanMissed(Excluded...).Combined, 0.1904)
	near("plain false-alarm rate", rep.Plain.FalseAlarm.Combined, 0.0719)
	// The improved method: chosen on training data, held to its figures.
	if got, want := rep.Improved.Method.Name, "DPCA l=0 a=20 T²+Q+T²r EWMA λ=0.2"; got != want {
		t.Errorf("selected %q, want %q", got, want)
	}
	miss, far := rep.Improved.MeanMissed(Excluded...).Combined, rep.Improved.FalseAlarm.Combined
	near("improved mean missed", miss, 0.0435)
	near("improved false-alarm rate", far, 0.0344)
	if miss > 0.12 || far > 0.05 {
		t.Errorf("improved: mean missed %.4f at false-alarm rate %.4f, target ≤ 0.12 at ≤ 0.05 (issue #19)", miss, far)
	}
	if got := rep.Improved.Detection[5].Combined; got < 0.99 {
		t.Errorf("fault 5 detection %.3f, want ≥ 0.99 (the residual T²'s case)", got)
	}

	doc := filepath.Join("..", "..", "docs", "benchmarks", "tep.md")
	md := rep.Markdown(DocCommand)
	if os.Getenv("LINEWATCH_TEP_UPDATE") != "" {
		if err := os.WriteFile(doc, md, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != string(md) {
		t.Errorf("%s is not what the benchmark generates; rerun `%s` (or this test with LINEWATCH_TEP_UPDATE=1)", doc, DocCommand)
	}
}
