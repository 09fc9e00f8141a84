package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

const machineCfg = `site: plant1
lines:
  - id: coldroom1
    batch_tag: room/batch_id
    machines:
      - id: room
        endpoint: opc.tcp://127.0.0.1:4840
        tags:
          - {name: probe, node_id: "ns=2;s=probe", unit: °C, role: temperature}
          - {name: humidity, node_id: "ns=2;s=humidity", unit: "%RH", role: humidity}
          - {name: weight, node_id: "ns=2;s=weight", unit: g, spec: {lsl: 1.95, usl: 2.05}}
          - {name: batch_id, node_id: "ns=2;s=batch", role: batch_id}
analytics:
  rules:
    - name: frozen probe
      tags: [coldroom1/room/probe]
      stale: {after: 5m}
    - name: capability
      tags: [coldroom1/room/weight]
      cpk: {min_cpk: 1.33, min_samples: 30}
`

func machineEngine(t *testing.T) *Engine {
	t.Helper()
	cfg, err := config.Parse([]byte(machineCfg), "machine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// roomSamples: one read a second for 40 min. The probe freezes at minute
// 10 (value and timestamp: re-reads repeat both) and recovers at minute
// 30; humidity keeps reporting. Batch B1 (weights with sd 0.03 g: Cpk
// 0.56) ends at minute 20, then B2 (sd 0.005 g: Cpk 3.3).
func roomSamples() []sample.Sample {
	rng := rand.New(rand.NewPCG(4, 2))
	var out []sample.Sample
	frozen := t0.Add(10 * time.Minute)
	for i := range 2400 {
		ts := t0.Add(time.Duration(i) * time.Second)
		b, sd := "B1", 0.03
		if i >= 1200 {
			b, sd = "B2", 0.005
		}
		mk := func(tag string, v float64, at time.Time) sample.Sample {
			return sample.Sample{Time: at, Site: "plant1", Line: "coldroom1", Machine: "room", Tag: tag, Value: v, Batch: b}
		}
		probeT := ts
		if ts.After(frozen) && i < 1800 {
			probeT = frozen
		}
		out = append(out, mk("probe", 5+0.1*rng.NormFloat64(), probeT), mk("humidity", 40+rng.NormFloat64(), ts),
			mk("weight", 2+sd*rng.NormFloat64(), ts))
	}
	return out
}

func TestEngineStaleProbeAndBatchCapability(t *testing.T) {
	ss := roomSamples()
	got := run(machineEngine(t), ss)
	type edge struct {
		det    string
		active bool
		at     time.Duration
		batch  string
	}
	var es []edge
	for _, f := range got {
		es = append(es, edge{f.Detector, f.Active, f.Time.Sub(t0), f.Batch})
	}
	want := []edge{
		{"cpk", true, 20*time.Minute - time.Second, "B1"}, // B1 judged when B2 starts, at B1's last read
		{"stale", true, 15 * time.Minute, "B1"},           // frozen at 10 min + 5 min
		{"stale", false, 30 * time.Minute, "B2"},          // first new value
	}
	// order by time for the comparison
	if len(es) != len(want) {
		t.Fatalf("findings %+v, want %+v", es, want)
	}
	idx := map[string]int{}
	for i, e := range es {
		idx[e.det+map[bool]string{true: "+", false: "-"}[e.active]] = i
	}
	for _, w := range want {
		i, ok := idx[w.det+map[bool]string{true: "+", false: "-"}[w.active]]
		if !ok || es[i] != w {
			t.Errorf("want %+v, got %+v", w, es)
		}
	}
	var cpk analytics.Finding
	for _, f := range got {
		if f.Detector == "cpk" {
			cpk = f
		}
	}
	if cpk.Statistic < 0.4 || cpk.Statistic > 0.75 || cpk.Limit != 1.33 || cpk.Tag != "weight" {
		t.Errorf("cpk finding %+v, want Cpk ≈ 0.56 of weight vs 1.33", cpk)
	}
}

// A restart in the middle (snapshot, restore into a new engine) changes
// nothing: the machine's clock and batch survive with the detectors.
func TestEngineMachineStateSurvivesRestart(t *testing.T) {
	ss := roomSamples()
	want := run(machineEngine(t), ss)
	for _, cut := range []int{1500, 3599, 3601, 5000} {
		e := machineEngine(t)
		got := run(e, ss[:cut])
		snap, err := e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		e2 := machineEngine(t)
		if err := e2.Restore(snap); err != nil {
			t.Fatal(err)
		}
		got = append(got, run(e2, ss[cut:])...)
		if len(got) != len(want) {
			t.Fatalf("cut %d: %d findings, want %d", cut, len(got), len(want))
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Active != want[i].Active {
				t.Errorf("cut %d: finding %d = %s %v, want %s %v", cut, i, got[i].ID, got[i].Active, want[i].ID, want[i].Active)
			}
		}
	}
}
