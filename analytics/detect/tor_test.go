package detect

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

func TestTORBudgetWarningsAtExactTimes(t *testing.T) {
	d, err := NewTOR(TORColdChain(10 * time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	m := time.Minute
	var got []analytics.Finding
	// t0 5 °C, then 9 °C from t1. A reading counts until the next one, so
	// after the reading at tk the used time is (k−1) min: 50 % (5 min) at
	// t6, 80 % (8 min) at t9, 100 % (10 min) at t11.
	for i := 0; i <= 13; i++ {
		v := 9.0
		if i == 0 {
			v = 5
		}
		got = d.Update(smp(at(time.Duration(i)*m), v), got)
	}
	wantEdges(t, got,
		edge{"warn50", true, at(6 * m)},
		edge{"warn80", true, at(9 * m)},
		edge{"budget", true, at(11 * m)},
	)
	checkFinding(t, got[0], "tor")
	if got[0].Severity != analytics.Warning || got[2].Severity != analytics.Critical {
		t.Errorf("severities %v %v", got[0].Severity, got[2].Severity)
	}
	near(t, "warn80 statistic %", got[1].Statistic, 80, 1e-9)
	near(t, "budget used_s", got[2].Evidence["used_s"], 600, 1e-9)
	if d.Used() != 12*m {
		t.Errorf("used = %v, want 12m", d.Used())
	}

	// A new batch gets a full budget; the old batch's conditions end.
	s := smp(at(14*m), 5)
	s.Batch = "B2"
	got = d.Update(s, got[:0])
	wantEdges(t, got,
		edge{"warn50", false, at(14 * m)}, edge{"warn80", false, at(14 * m)}, edge{"budget", false, at(14 * m)})
	if got[0].Batch != "B1" || d.Used() != 0 {
		t.Errorf("reset: batch %q used %v", got[0].Batch, d.Used())
	}
}

func TestTORLowSideAndFreeze(t *testing.T) {
	d, err := NewTOR(TORParams{High: 8, Low: 2, Budget: 4 * time.Minute, FreezeSensitive: true})
	if err != nil {
		t.Fatal(err)
	}
	m := time.Minute
	// 1.5 °C counts as out (below 2); 0 °C is frozen for freeze-sensitive
	// product: the freeze alarm starts on the first reading at or below 0.
	got := feed(t, d, m, 5, 1.5, 1.5, 0, 3)
	wantEdges(t, got,
		edge{"warn50", true, at(3 * m)}, // 2 min of 1.5 °C
		edge{"freeze", true, at(3 * m)},
	) // at t4: 3 of 4 min used (0 °C is below 2 °C too), 75 %
	if got[1].Severity != analytics.Critical {
		t.Errorf("freeze severity %v", got[1].Severity)
	}
	var st []Stat
	st = d.AppendStats(st)
	if st[1].Name != "tor_used_pct" || st[1].Value != 75 || st[3].Name != "tor_frozen_s" || st[3].Value != 60 {
		t.Errorf("stats %v", st)
	}
}

func TestTORValidate(t *testing.T) {
	if _, err := NewTOR(TORParams{High: 2, Low: 8}); err == nil {
		t.Error("inverted range and no budget accepted")
	}
	if _, err := NewTOR(TORParams{Budget: time.Hour, Warn: []float64{0.8, 0.5}}); err == nil {
		t.Error("decreasing warn fractions accepted")
	}
}
