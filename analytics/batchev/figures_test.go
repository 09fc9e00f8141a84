package batchev

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGoldenBatchFigures prints the figures of docs/analytics.md (golden
// batch): findings on good cycles and the detection maturity of each
// deviating cycle kind over several seeds. Run with
//
//	LINEWATCH_BATCHEV_FIGURES=40 go test -run GoldenBatchFigures -v ./analytics/batchev/
//
// (the number of further good cycles; the deviating kinds run on 5 seeds).
func TestGoldenBatchFigures(t *testing.T) {
	spec := os.Getenv("LINEWATCH_BATCHEV_FIGURES")
	if spec == "" {
		t.Skip("set LINEWATCH_BATCHEV_FIGURES=cycles to run")
	}
	n, err := strconv.Atoi(spec)
	if err != nil || n < 1 {
		t.Fatalf("LINEWATCH_BATCHEV_FIGURES=%q: want a number of cycles", spec)
	}
	m := goldenModel(t)
	var b strings.Builder
	// seed 20 (TestSilentOnTenFurtherGoodCycles uses seed 2); +1: the first is joined mid-phase
	fs := detectAll(t, m, simulate(t, 20, n+1))
	slices := 0
	for _, p := range m.Phases {
		slices += len(p.Points)
	}
	fmt.Fprintf(&b, "good cycles watched: %d (%d maturity slices × 3 variables, T², SPE); findings: %d\n", n, n*slices, len(fs))
	for _, f := range fs {
		fmt.Fprintf(&b, "  false: %s %s\n", f.Key(), f.Message)
	}
	fmt.Fprintln(&b, "\n| deviating cycle | starts at (phase, maturity) | caught after (5 seeds: min – max) | stated bound | first finding names |")
	fmt.Fprintln(&b, "|---|---|---|---|---|")
	for _, tc := range deviatingCases(simStart.Add(cycle)) {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		names := ""
		for seed := int64(100); seed < 105; seed++ {
			fs := detectAll(t, m, simulate(t, seed, 2, tc.fault))
			if len(fs) == 0 || fs[0].Time.Before(tc.phaseStart.Add(tc.from)) {
				t.Fatalf("%s seed %d: missed or early: %v", tc.name, seed, fs)
			}
			d := fs[0].Time.Sub(tc.phaseStart.Add(tc.from))
			lo, hi = min(lo, d), max(hi, d)
			names = fs[0].Key()
		}
		phase := "freezing"
		if tc.phaseStart.After(simStart.Add(cycle)) {
			phase = "primary_drying"
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s – %s | %s | %s |\n", tc.name, phase, tc.from, lo, hi, tc.within, names)
	}
	t.Log("\n" + b.String())
}
