package detect

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// factories builds one of every detector; the same list feeds the
// snapshot, fuzz and allocation tests.
func factories(t testing.TB) map[string]func() Detector {
	must := func(d Detector, err error) Detector {
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return map[string]func() Detector{
		"limits": func() Detector {
			return must(NewLimits(LimitsParams{Lo: F(2), Hi: F(8), HiHi: F(12), OnDelay: 2 * time.Minute, OffDelay: time.Minute, Deadband: 0.3}))
		},
		"flatline": func() Detector { return must(NewFlatline(FlatlineParams{Duration: 10 * time.Minute, Tolerance: 0.01})) },
		"roc":      func() Detector { return must(NewROC(ROCParams{MaxRise: 1, MaxFall: 1})) },
		"mkt":      func() Detector { return must(NewRollingMKT(MKTParams{Window: time.Hour, Limit: 7, Buckets: 60})) },
		"tor":      func() Detector { return must(NewTOR(TORParams{Budget: 30 * time.Minute, FreezeSensitive: true})) },
		"nelson": func() Detector {
			return must(NewNelson(NelsonParams{SPCParams: SPCParams{Baseline: 20}, MovingRange: true}))
		},
		"ewma":  func() Detector { return must(NewEWMA(EWMAParams{SPCParams: SPCParams{Baseline: 20}})) },
		"cusum": func() Detector { return must(NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: 5, Sigma: 0.5}})) },
		"ph":    func() Detector { return must(NewPageHinkley(PageHinkleyParams{Lambda: 3, MinInstances: 10})) },
		"cpk": func() Detector {
			return must(NewCpkMonitor(CpkParams{LSL: F(2), USL: F(8), MinSamples: 10, MinCpk: 10}))
		},
		"p_chart": func() Detector {
			return must(NewPChart(PChartParams{GoodTag: "good", RejectTag: "rej", BaselineSubgroups: 5, Laney: true}))
		},
	}
}

// series is a cold-room temperature with noise, a slow drift, a stuck
// period, a warm excursion, a freeze and a batch change.
func series(n int) []sample.Sample {
	var ss []sample.Sample
	for i := range n {
		v := 5 + 0.4*math.Sin(float64(i)*0.7) + 0.2*math.Sin(float64(i)*2.3)
		switch {
		case i >= 60 && i < 75:
			v = 5.5 // stuck
		case i >= 120 && i < 140:
			v = 9 + float64(i-120)*0.3
		case i >= 200 && i < 205:
			v = -0.5
		case i >= 250:
			v += float64(i-250) * 0.02
		}
		s := smp(at(time.Duration(i)*time.Minute), v)
		if i >= 300 {
			s.Batch = "B2"
		}
		ss = append(ss, s)
		// Counter readings for the p-chart, on the same clock.
		g := s
		g.Tag, g.Value = "good", float64(i*100)
		r := s
		r.Tag, r.Value = "rej", float64(i*3+(i/7)%3+max(0, i-250))
		if i%2 == 0 {
			ss = append(ss, g, r)
		}
	}
	return ss
}

// seriesFor is what the engine would route to the detector: the counter
// pair for the p-chart, the temperature tag for the others.
func seriesFor(name string, n int) []sample.Sample {
	var out []sample.Sample
	for _, s := range series(n) {
		if (name == "p_chart") == (s.Tag != "temp") {
			out = append(out, s)
		}
	}
	return out
}

func TestSnapshotRestoreContinuesExactly(t *testing.T) {
	for name, mk := range factories(t) {
		ss := seriesFor(name, 400)
		t.Run(name, func(t *testing.T) {
			whole := mk()
			var want []analytics.Finding
			for _, s := range ss {
				want = whole.Update(s, want)
			}
			if len(want) == 0 {
				t.Fatalf("%s: the series produces no findings; the test would prove nothing", name)
			}
			for _, cut := range []int{1, len(ss) / 3, len(ss) * 4 / 5, len(ss) - 1} {
				a := mk()
				var got []analytics.Finding
				for _, s := range ss[:cut] {
					got = a.Update(s, got)
				}
				snap, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				b := mk()
				if err := b.Restore(snap); err != nil {
					t.Fatalf("restore at %d: %v", cut, err)
				}
				for _, s := range ss[cut:] {
					got = b.Update(s, got)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("cut %d: restored run differs:\n got %v\nwant %v", cut, edges(got), edges(want))
				}
				if !reflect.DeepEqual(a.AppendStats(nil), a.AppendStats(nil)) {
					t.Fatal("stats not stable")
				}
			}
		})
	}
}

func TestRestoreRejectsOtherParamsAndGarbage(t *testing.T) {
	a, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 1, Sigma: 1}, Lambda: 0.2})
	b, _ := NewEWMA(EWMAParams{SPCParams: SPCParams{Mean: 1, Sigma: 1}, Lambda: 0.3})
	snap, _ := a.Snapshot()
	if err := b.Restore(snap); err == nil || !strings.Contains(err.Error(), "different parameters") {
		t.Errorf("restore into other params: %v", err)
	}
	c, _ := NewCUSUM(CUSUMParams{SPCParams: SPCParams{Mean: 1, Sigma: 1}})
	if err := c.Restore(snap); err == nil || !strings.Contains(err.Error(), `"ewma"`) {
		t.Errorf("restore into other detector: %v", err)
	}
	var env map[string]any
	_ = json.Unmarshal(snap, &env)
	env["v"] = 99
	bad, _ := json.Marshal(env)
	if err := a.Restore(bad); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("restore of version 99: %v", err)
	}
	// A state with the right fingerprint but impossible content.
	n, _ := NewNelson(NelsonParams{SPCParams: SPCParams{Mean: 0, Sigma: 1}})
	snap, _ = n.Snapshot()
	_ = json.Unmarshal(snap, &env)
	env["state"].(map[string]any)["n"] = -3
	bad, _ = json.Marshal(env)
	if err := n.Restore(bad); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("restore of n = -3: %v", err)
	}
	if err := a.Restore([]byte("{")); err == nil {
		t.Error("garbage restored")
	}
}

// FuzzRestore: a saved state is read back from disk or a KV store, so it
// is parsed like any input. Restore must fail or leave a detector that
// keeps working, never panic.
func FuzzRestore(f *testing.F) {
	fs := factories(f)
	ss := series(200)
	for n, mk := range fs {
		d := mk()
		for _, s := range seriesFor(n, 200) {
			d.Update(s, nil)
		}
		snap, err := d.Snapshot()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(snap)
	}
	f.Add([]byte(`{"v":1,"detector":"nelson","params":"x","state":{"n":-3}}`))
	f.Add([]byte(`null`))
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range names {
			d := fs[n]()
			if d.Restore(data) != nil {
				continue
			}
			for _, s := range ss[:20] {
				d.Update(s, nil)
			}
			d.AppendStats(nil)
		}
	})
}
