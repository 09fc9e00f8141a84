package detect

import (
	"math"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func smp(t time.Time, v float64) sample.Sample {
	return sample.Sample{Time: t, Site: "plant1", Line: "L1", Machine: "coldroom", Tag: "temp", Unit: "°C", Value: v, Batch: "B1"}
}

// feed runs values sampled every step from t0 through d and returns all findings.
func feed(t *testing.T, d Detector, step time.Duration, values ...float64) []analytics.Finding {
	t.Helper()
	var out []analytics.Finding
	for i, v := range values {
		out = d.Update(smp(at(time.Duration(i)*step), v), out)
	}
	return out
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
	}
}

type edge struct {
	rule   string
	active bool
	at     time.Time
}

func edges(fs []analytics.Finding) []edge {
	out := make([]edge, len(fs))
	for i, f := range fs {
		out[i] = edge{f.Rule, f.Active, f.Time}
	}
	return out
}

func wantEdges(t *testing.T, got []analytics.Finding, want ...edge) {
	t.Helper()
	g := edges(got)
	if len(g) != len(want) {
		t.Fatalf("got %d findings %v, want %d %v", len(g), g, len(want), want)
	}
	for i := range want {
		if g[i].rule != want[i].rule || g[i].active != want[i].active || !g[i].at.Equal(want[i].at) {
			t.Errorf("finding %d = %+v, want %+v", i, g[i], want[i])
		}
	}
}

func checkFinding(t *testing.T, f analytics.Finding, detector string) {
	t.Helper()
	if f.Detector != detector || f.Line != "L1" || f.Machine != "coldroom" || f.Site != "plant1" || f.Message == "" {
		t.Errorf("finding identity wrong: %+v", f)
	}
	if f.ID != analytics.MakeID(f) {
		t.Errorf("finding id %s is not MakeID", f.ID)
	}
}
