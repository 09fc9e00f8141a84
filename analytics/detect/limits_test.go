package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

func TestLimitsDelaysAndDeadband(t *testing.T) {
	d, err := NewLimits(LimitsParams{Hi: F(8), HiHi: F(9.2), OnDelay: 2 * time.Minute, OffDelay: 3 * time.Minute, Deadband: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	m := time.Minute
	got := feed(t, d, m,
		7,   // t0
		8.5, // t1 beyond hi: pending
		9,   // t2
		9.5, // t3 2 min beyond: hi starts
		7.8, // t4 inside hi but within deadband (> 7.5)
		7.4, // t5 past deadband: hi clearing from t5
		7.0, // t6
		8.2, // t7 back in the deadband: clearing restarts
		7.0, // t8 clearing from t8
		7.0, // t9
		7.0, // t10
		7.0, // t11 3 min: hi ends
		9,   // t12 pending
		7,   // t13 pending cancelled
		9,   // t14
		9,   // t15 only 1 min: no alarm
		7,   // t16
	)
	// hihi: beyond 9.2 only at t3 (9.5), on-delay 2 min never met.
	wantEdges(t, got,
		edge{"hi", true, at(3 * m)},
		edge{"hi", false, at(11 * m)},
	)
	checkFinding(t, got[0], "limits")
	if got[0].Severity != analytics.Warning || got[0].Limit != 8 || got[0].Value != 9.5 {
		t.Errorf("start finding = %+v", got[0])
	}
	if got[1].Evidence["peak"] != 9.5 {
		t.Errorf("end finding peak = %v, want 9.5", got[1].Evidence["peak"])
	}

	ex := d.Excursions()
	want := []Excursion{
		{Rule: "hi", Limit: 8, Start: at(m), End: at(4 * m), Duration: 3 * m, Peak: 9.5, DegreeMinutes: 0.5 + 1 + 1.5},
		{Rule: "hihi", Limit: 9.2, Start: at(3 * m), End: at(4 * m), Duration: m, Peak: 9.5, DegreeMinutes: 0.3},
		{Rule: "hi", Limit: 8, Start: at(7 * m), End: at(8 * m), Duration: m, Peak: 8.2, DegreeMinutes: 0.2},
		{Rule: "hi", Limit: 8, Start: at(12 * m), End: at(13 * m), Duration: m, Peak: 9, DegreeMinutes: 1},
		{Rule: "hi", Limit: 8, Start: at(14 * m), End: at(16 * m), Duration: 2 * m, Peak: 9, DegreeMinutes: 2},
	}
	if len(ex) != len(want) {
		t.Fatalf("excursions = %+v, want %d", ex, len(want))
	}
	for i := range want {
		g, w := ex[i], want[i]
		if g.Rule != w.Rule || !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Duration != w.Duration || g.Peak != w.Peak || g.Batch != "B1" {
			t.Errorf("excursion %d = %+v, want %+v", i, g, w)
		}
		near(t, "degree-minutes", g.DegreeMinutes, w.DegreeMinutes, 1e-9)
	}
}

func TestLimitsHiHiNoDelayAndLowSide(t *testing.T) {
	d, err := NewLimits(LimitsParams{Lo: F(2), LoLo: F(0), Hi: F(8), HiHi: F(10), OffDelay: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	m := time.Minute
	got := feed(t, d, m, 5, 11, 5, 5, 1, -1, 3, 3)
	wantEdges(t, got,
		edge{"hi", true, at(m)}, edge{"hihi", true, at(m)}, // same sample: lo, hi, lolo, hihi order
		edge{"hi", false, at(3 * m)}, edge{"hihi", false, at(3 * m)},
		edge{"lo", true, at(4 * m)},
		edge{"lolo", true, at(5 * m)},
		edge{"lo", false, at(7 * m)}, edge{"lolo", false, at(7 * m)},
	)
	if got[1].Severity != analytics.Critical {
		t.Errorf("hihi severity = %v, want critical", got[1].Severity)
	}
	ex := d.Excursions()
	// lo excursion t4..t6: readings 1 (1 below) and -1 (3 below), 1 min each.
	var lo Excursion
	for _, e := range ex {
		if e.Rule == "lo" {
			lo = e
		}
	}
	if lo.Peak != -1 || lo.Duration != 2*m || lo.DegreeMinutes != 4 {
		t.Errorf("lo excursion = %+v, want peak -1, 2m, 4 degree-minutes", lo)
	}
}

func TestLimitsOpenExcursionAndGap(t *testing.T) {
	d, _ := NewLimits(LimitsParams{Hi: F(8), MaxGap: 5 * time.Minute})
	var out []analytics.Finding
	out = d.Update(smp(at(0), 9), out)
	out = d.Update(smp(at(time.Hour), 10), out) // a 1 h gap counts only 5 min
	ex := d.Excursions()
	if len(ex) != 1 || !ex[0].Open() || ex[0].DegreeMinutes != 5 || ex[0].Peak != 10 || ex[0].Duration != time.Hour {
		t.Errorf("open excursion = %+v", ex)
	}
	if len(out) != 1 {
		t.Errorf("findings = %v", edges(out))
	}
}

func TestLimitsIgnoresBadQualityAndOldSamples(t *testing.T) {
	d, _ := NewLimits(LimitsParams{Hi: F(8)})
	bad := smp(at(0), 50)
	bad.Status = 0x80000000 // Bad
	unc := smp(at(0), 50)
	unc.Status = 0x40000000 // Uncertain
	var out []analytics.Finding
	out = d.Update(bad, out)
	out = d.Update(unc, out)
	out = d.Update(smp(at(time.Minute), 5), out)
	out = d.Update(smp(at(0), 50), out) // older than the last accepted
	if len(out) != 0 {
		t.Errorf("findings from ignored samples: %v", edges(out))
	}
}

func TestHumidityPreset(t *testing.T) {
	d, err := NewLimits(HumidityParams(30, 65))
	if err != nil {
		t.Fatal(err)
	}
	// On-delay 5 min: 70 %RH from t1 alarms at t6; 64.5 is inside the 1 %RH
	// deadband, 63.9 ends it.
	got := feed(t, d, time.Minute, 50, 70, 70, 70, 70, 70, 70, 64.5, 63.9)
	wantEdges(t, got, edge{"hi", true, at(6 * time.Minute)}, edge{"hi", false, at(8 * time.Minute)})
	checkFinding(t, got[0], "humidity")
}

func TestLimitsValidate(t *testing.T) {
	_, err := NewLimits(LimitsParams{Lo: F(8), Hi: F(2), Deadband: -1})
	if err == nil || !strings.Contains(err.Error(), "hi = 2 must be above lo = 8") || !strings.Contains(err.Error(), "deadband") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewLimits(LimitsParams{}); err == nil {
		t.Error("no limits accepted")
	}
}

func TestExcursionsOf(t *testing.T) {
	var ss []sample.Sample
	for i, v := range []float64{5, 9, 9, 5, 9, 5} {
		ss = append(ss, smp(at(time.Duration(i)*time.Minute), v))
	}
	ex, err := ExcursionsOf(ss, LimitsParams{Hi: F(8)})
	if err != nil || len(ex) != 2 || ex[0].DegreeMinutes != 2 || ex[1].Duration != time.Minute {
		t.Errorf("ExcursionsOf = %+v, %v", ex, err)
	}
}
