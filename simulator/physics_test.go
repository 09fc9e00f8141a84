package simulator

import (
	"math"
	"regexp"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat"
)

func newTestEngine(t testing.TB, seed int64) *engine {
	t.Helper()
	e, err := newEngine(DefaultPlant(), seed, DefaultStart, 0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// series samples tags once per simulated minute for d.
func series(e *engine, d time.Duration, ids ...string) map[string][]float64 {
	out := map[string][]float64{}
	for range int(d / time.Minute) {
		e.advanceTo(e.clock.Add(time.Minute))
		for _, id := range ids {
			t := e.byID[id]
			var v float64
			switch t.kind {
			case kindDouble:
				v = t.f
			case kindUInt32:
				v = float64(t.u)
			case kindBool:
				if t.b {
					v = 1
				}
			}
			out[id] = append(out[id], v)
		}
	}
	return out
}

func TestDeterministicWithSeed(t *testing.T) {
	ids := []string{"filling1.filler.fill_weight", "coldroom1.coldroom.temp_probe1", "tableting1.press.reject_count", "lyo1.freezedryer.shelf_temp"}
	a := series(newTestEngine(t, 42), 3*time.Hour, ids...)
	b := series(newTestEngine(t, 42), 3*time.Hour, ids...)
	c := series(newTestEngine(t, 43), 3*time.Hour, ids...)
	for _, id := range ids {
		for i := range a[id] {
			if a[id][i] != b[id][i] {
				t.Fatalf("%s differs at minute %d with the same seed: %v vs %v", id, i, a[id][i], b[id][i])
			}
		}
	}
	same := true
	for i := range a[ids[0]] {
		same = same && a[ids[0]][i] == c[ids[0]][i]
	}
	if same {
		t.Error("seed 43 produced the same fill weights as seed 42")
	}
}

func TestColdRoomCyclesWithinLimits(t *testing.T) {
	e := newTestEngine(t, 1)
	s := series(e, 24*time.Hour, "coldroom1.coldroom.temp_probe1", "coldroom1.coldroom.compressor_running", "coldroom1.coldroom.humidity")
	temps, comp := s["coldroom1.coldroom.temp_probe1"], s["coldroom1.coldroom.compressor_running"]
	starts := 0
	for i := 1; i < len(comp); i++ {
		if comp[i] == 1 && comp[i-1] == 0 {
			starts++
		}
	}
	if starts < 24 {
		t.Errorf("compressor started %d times in 24 h, want regular cycling (> 24)", starts)
	}
	mean := stat.Mean(temps, nil)
	if mean < 4 || mean > 6 {
		t.Errorf("mean air temperature %.2f °C, want about 5", mean)
	}
	// Thermal mass: consecutive minutes are strongly autocorrelated.
	if r := stat.Correlation(temps[1:], temps[:len(temps)-1], nil); r < 0.7 {
		t.Errorf("lag-1 autocorrelation %.2f, want > 0.7", r)
	}
	for _, h := range s["coldroom1.coldroom.humidity"] {
		if h < 20 || h > 100 {
			t.Fatalf("humidity %.1f %%RH out of range", h)
		}
	}
}

func TestTabletPressCorrelations(t *testing.T) {
	e := newTestEngine(t, 5)
	e.advanceTo(e.clock.Add(30 * time.Minute)) // past the batch changeover
	s := series(e, 3*time.Hour, "tableting1.press.tablet_weight", "tableting1.press.compression_force", "tableting1.press.hardness")
	w, f, h := s["tableting1.press.tablet_weight"], s["tableting1.press.compression_force"], s["tableting1.press.hardness"]
	if r := stat.Correlation(w, f, nil); r < 0.7 {
		t.Errorf("corr(weight, force) = %.2f, want strong positive", r)
	}
	if r := stat.Correlation(f, h, nil); r < 0.5 {
		t.Errorf("corr(force, hardness) = %.2f, want positive", r)
	}
	if m := stat.Mean(w, nil); math.Abs(m-250) > 2 {
		t.Errorf("mean tablet weight %.1f mg, want 250", m)
	}
}

func TestFillingBatchesAndRejectRate(t *testing.T) {
	e := newTestEngine(t, 9)
	good, rej := e.byID["filling1.checkweigher.good_count"], e.byID["filling1.checkweigher.reject_count"]
	batch := e.byID["filling1.filler.batch_id"]
	e.advanceTo(DefaultStart.Add(8*time.Hour - time.Second))
	g, r := float64(good.u), float64(rej.u)
	rate := r / (g + r)
	if rate < 0.003 || rate > 0.008 {
		t.Errorf("reject rate over the first batch %.4f, want about 0.005", rate)
	}
	if g < 100000 {
		t.Errorf("only %v good vials in 8 h at 300/min", g)
	}
	if batch.s != "F1-20260105-001" {
		t.Errorf("batch %q", batch.s)
	}
	e.advanceTo(DefaultStart.Add(8 * time.Hour))
	if batch.s != "F1-20260105-002" || good.u != 0 || rej.u != 0 {
		t.Errorf("at the batch boundary: batch %q good %d reject %d, want a new batch and counters reset", batch.s, good.u, rej.u)
	}
	if !regexp.MustCompile(`^F1-\d{8}-\d{3}$`).MatchString(batch.s) {
		t.Errorf("batch id format %q", batch.s)
	}
	// Next day restarts the sequence.
	e.advanceTo(DefaultStart.Add(24 * time.Hour))
	if batch.s != "F1-20260106-001" {
		t.Errorf("first batch of the next day %q, want F1-20260106-001", batch.s)
	}
}

func TestRejectCreepRaisesRejects(t *testing.T) {
	e := newTestEngine(t, 9)
	e.advanceTo(DefaultStart.Add(time.Hour))
	if _, _, err := e.inject(Fault{Kind: FaultRejectCreep, Target: "tableting1.press.reject_count", Rate: 0.01}); err != nil {
		t.Fatal(err)
	}
	rej := e.byID["tableting1.press.reject_count"]
	r0 := rej.u
	e.advanceTo(DefaultStart.Add(3 * time.Hour))
	// 36 tablets/s, creep to 2 % after 2 h: ≈ 36*7200*0.01 = 2600 extra rejects.
	if got := rej.u - r0; got < 1800 {
		t.Errorf("%d rejects in 2 h of creep, want > 1800", got)
	}
}

func TestFreezeDryerPhases(t *testing.T) {
	e := newTestEngine(t, 2)
	phase := e.byID["lyo1.freezedryer.phase"]
	pres := e.byID["lyo1.freezedryer.chamber_pressure"]
	shelf := e.byID["lyo1.freezedryer.shelf_temp"]
	check := func(at time.Duration, want string) {
		t.Helper()
		e.advanceTo(DefaultStart.Add(at))
		if phase.s != want {
			t.Fatalf("phase at +%v = %q, want %q", at, phase.s, want)
		}
	}
	check(3*time.Hour, "freezing")
	if shelf.f > -35 {
		t.Errorf("shelf %.1f °C during freezing, want below -35", shelf.f)
	}
	check(10*time.Hour, "primary_drying")
	if pres.f < 80 || pres.f > 120 {
		t.Errorf("chamber pressure %.1f µbar in primary drying, want about 100", pres.f)
	}
	check(30*time.Hour, "secondary_drying")
	if shelf.f < 20 {
		t.Errorf("shelf %.1f °C in secondary drying, want warm", shelf.f)
	}
	check(33*time.Hour, "freezing") // next cycle
}

func BenchmarkAdvanceOneHour(b *testing.B) {
	e := newTestEngine(b, 1)
	for b.Loop() {
		e.advanceTo(e.clock.Add(time.Hour))
	}
}
