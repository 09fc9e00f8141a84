package tep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestParseDatTransposed(t *testing.T) {
	// 52 lines of 3 values = 3 observations stored transposed, like
	// d00.dat; observation o of variable v holds v + 100·o.
	var b strings.Builder
	for v := 0; v < NumVars; v++ {
		fmt.Fprintf(&b, "  %.7e   %.7e   %.7e\n", float64(v), float64(v+100), float64(v+200))
	}
	X, err := parseDat(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	r, c := X.Dims()
	if r != 3 || c != NumVars || X.At(2, 51) != 251 || X.At(1, 0) != 100 {
		t.Fatalf("transposed file read as %d×%d, X[2,51]=%v", r, c, X.At(2, 51))
	}
}

func TestParseDatErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":  "",
		"shape":  "1 2 3\n4 5 6\n",
		"ragged": strings.Repeat("1 ", NumVars) + "\n1 2\n",
		"nan":    strings.Repeat("NaN ", NumVars) + "\n",
	} {
		if _, err := parseDat(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	if _, err := Load(t.TempDir() + "/absent"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v", err)
	}
}

// syntheticData builds a TEP-shaped data set from a 52-variable factor
// model; fault f shifts variable f by 10 (≈ 4 σ of the variable, 30 σ of its noise) from row 161 of its test file.
func syntheticData() *Data {
	rng := rand.New(rand.NewPCG(5, 6))
	W := mat.NewDense(NumVars, 6, nil)
	for i := 0; i < NumVars; i++ {
		for j := 0; j < 6; j++ {
			W.Set(i, j, rng.NormFloat64())
		}
	}
	rows := func(n, faultVar, from int) *mat.Dense {
		X := mat.NewDense(n, NumVars, nil)
		f := make([]float64, 6)
		for i := 0; i < n; i++ {
			for j := range f {
				f[j] = rng.NormFloat64()
			}
			for v := 0; v < NumVars; v++ {
				x := 0.3 * rng.NormFloat64()
				for j := range f {
					x += W.At(v, j) * f[j]
				}
				if v == faultVar && i >= from {
					x += 10
				}
				X.Set(i, v, x)
			}
		}
		return X
	}
	d := &Data{Train: rows(500, -1, 0), Normal: rows(960, -1, 0)}
	for f := 1; f <= NumFaults; f++ {
		d.Test[f] = rows(960, f, FaultStart)
		d.TrainFaults[f] = rows(480, f, 0)
	}
	return d
}

func TestRunOnSyntheticData(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 17 models")
	}
	rep, err := Run(context.Background(), syntheticData())
	if err != nil {
		t.Fatal(err)
	}
	for f := 1; f <= NumFaults; f++ {
		if d := rep.Plain.Detection[f].Q; d < 0.9 {
			t.Errorf("fault %d: plain Q detection %.3f on a large sensor shift, want ≥ 0.9", f, d)
		}
	}
	if far := rep.Plain.FalseAlarm.T2; far > 0.03 {
		t.Errorf("plain T² false-alarm rate %.3f on independent normal rows, want ≈ 0.01", far)
	}
	md := string(rep.Markdown("go run ./analytics/tep/cmd/tepbench"))
	for _, want := range []string{"| 21 |", "False-alarm rates", "(selected)", "go run ./analytics/tep/cmd/tepbench"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
