package detect

import (
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

func alternating(n int, a, b float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = a
		if i%2 == 1 {
			v[i] = b
		}
	}
	return v
}

func TestCapabilityByHand(t *testing.T) {
	// 9, 11, 9, 11 … (n = 20): mean 10, MR̄ 2, σ_within = 2/1.128 =
	// 1.773050; s = √(20/19) = 1.025978.
	v := alternating(20, 9, 11)
	c := CapabilityOf(v, 4, 16)
	near(t, "mean", c.Mean, 10, 1e-12)
	near(t, "sigma within", c.SigmaWithin, 1.773050, 1e-6)
	near(t, "sigma overall", c.SigmaOverall, 1.025978, 1e-6)
	near(t, "Cp", c.Cp, 12/(6*1.773050), 1e-6)  // 1.128
	near(t, "Cpk", c.Cpk, 6/(3*1.773050), 1e-6) // centred: Cpk = Cp
	near(t, "Pp", c.Pp, 12/(6*1.025978), 1e-6)  // 1.949
	// Off-centre: USL 14 → Cpu = 4/(3·1.77305) = 0.752, Cpl = 1.128.
	near(t, "Cpk off-centre", Cpk(v, 4, 14), 0.752000, 1e-6)
	// One-sided (upper only): Cp undefined, Cpk = Cpu.
	c = CapabilityOf(v, math.NaN(), 14)
	if !math.IsNaN(c.Cp) || math.Abs(c.Cpk-0.752) > 1e-6 || !math.IsNaN(c.Cpl) {
		t.Errorf("one-sided %+v", c)
	}
	if c := CapabilityOf([]float64{1}, 0, 2); !math.IsNaN(c.Cpk) {
		t.Errorf("n = 1 gives Cpk %g", c.Cpk)
	}
}

func TestCpkMonitorPerBatch(t *testing.T) {
	d, err := NewCpkMonitor(CpkParams{LSL: F(4), USL: F(16)})
	if err != nil {
		t.Fatal(err)
	}
	var got []analytics.Finding
	i := 0
	run := func(batch string, vals []float64) {
		for _, v := range vals {
			s := smp(at(time.Duration(i)*time.Minute), v)
			s.Batch = batch
			got = d.Update(s, got)
			i++
		}
	}
	run("B1", alternating(30, 9, 11))     // Cpk 1.128 < 1.33
	run("B2", alternating(30, 9.5, 10.5)) // Cpk 2.256
	run("B3", alternating(10, 9, 11))     // too few readings to judge
	got = d.Flush(smp(at(time.Duration(i)*time.Minute), 0), got)
	wantEdges(t, got, edge{"low", true, at(29 * time.Minute)}, edge{"low", false, at(59 * time.Minute)})
	checkFinding(t, got[0], "cpk")
	near(t, "Cpk of B1", got[0].Statistic, 6/(3*1.773050), 1e-6)
	if got[0].Batch != "B1" || got[1].Batch != "B2" {
		t.Errorf("batches %q %q", got[0].Batch, got[1].Batch)
	}
}

func TestReconcile(t *testing.T) {
	id := sample.Sample{Time: t0, Site: "plant1", Line: "L1", Machine: "coldroom", Tag: "temp", Batch: "B7"}
	r, fs, err := Reconcile(BatchCounts{Theoretical: 10000, Good: 9400, Rejects: 300, Samples: 50, Waste: 100},
		YieldParams{YieldMin: 95, ReconciliationMin: 99.5, ReconciliationMax: 100.5}, id)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "yield", r.Yield, 94, 1e-12)
	near(t, "reconciliation", r.Reconciliation, 98.5, 1e-12)
	near(t, "reject rate", r.RejectRate, 100*300.0/9700, 1e-12)
	near(t, "unaccounted", r.Unaccounted, 150, 1e-12)
	if len(fs) != 2 || fs[0].Rule != "yield_low" || fs[1].Rule != "reconciliation" || fs[1].Limit != 99.5 {
		t.Fatalf("findings %v", edges(fs))
	}
	checkFinding(t, fs[0], "yield")
	if _, _, err := Reconcile(BatchCounts{}, YieldParams{}, id); err == nil {
		t.Error("zero theoretical accepted")
	}
}
