package batchev

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

// The freeze dryer of the demo plant, simulated without sockets.
var (
	simStart  = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	cycle     = 32 * time.Hour // freezing 4 h, primary drying 20 h, secondary drying 8 h
	lyoVars   = []string{"freezedryer/shelf_temp", "freezedryer/chamber_pressure", "freezedryer/condenser_temp"}
	readEvery = 30 * time.Second
)

func lyoPlant() *simulator.Plant {
	return &simulator.Plant{Name: "lyo", Lines: []simulator.LineSpec{{ID: "lyo1", Model: simulator.ModelFreezeDryer, BatchPrefix: "L1"}}}
}

// simulate reads the freeze dryer every 30 s for cycles cycles as the
// collector would (the variables, then the phase, every sample stamped
// with the batch id of its read); inject schedules faults first.
func simulate(t testing.TB, seed int64, cycles int, faults ...simulator.Fault) []sample.Sample {
	t.Helper()
	o, err := simulator.NewOffline(lyoPlant(), seed, simStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if _, err := o.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	end := simStart.Add(time.Duration(cycles) * cycle)
	ids := []string{"lyo1.freezedryer.shelf_temp", "lyo1.freezedryer.chamber_pressure", "lyo1.freezedryer.condenser_temp", "lyo1.freezedryer.phase"}
	var out []sample.Sample
	for now := simStart; now.Before(end); now = now.Add(readEvery) {
		o.AdvanceTo(now)
		b, err := o.Read("lyo1.freezedryer.batch_id", "site", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			s, err := o.Read(id, "site", b.Text)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
	}
	return out
}

// byBatch splits a stream into its batches, in order.
func byBatch(ss []sample.Sample) (ids []string, parts [][]sample.Sample) {
	for _, s := range ss {
		if len(ids) == 0 || ids[len(ids)-1] != s.Batch {
			ids = append(ids, s.Batch)
			parts = append(parts, nil)
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], s)
	}
	return ids, parts
}

func varIndex(s sample.Sample) int {
	for i, v := range lyoVars {
		if v == s.Machine+"/"+s.Tag {
			return i
		}
	}
	return -1
}

// alignForTraining aligns one batch's samples as train-batch does.
func alignForTraining(ss []sample.Sample, step time.Duration) []Event {
	a := AlignBatch(len(lyoVars), step)
	var evs []Event
	for _, s := range ss {
		if s.Tag == "phase" {
			evs = a.PhaseValue(s.Batch, s.Time, s.Text, evs)
		} else if i := varIndex(s); i >= 0 {
			evs = a.Value(s.Batch, s.Time, i, s.Value, evs)
		}
	}
	return a.Flush(evs)
}

func trainOn(t testing.TB, ss []sample.Sample) *Model {
	t.Helper()
	ids, parts := byBatch(ss)
	var bs []Batch
	for i, id := range ids {
		bs = append(bs, Batch{ID: id, Events: alignForTraining(parts[i], DefaultStep)})
	}
	m, err := Train(bs, Options{Name: "lyo1-golden", Line: "lyo1", Variables: lyoVars, PhaseTag: "freezedryer/phase", Source: "simulator"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// detectAll runs a stream through a detector as the engine routes it.
func detectAll(t testing.TB, m *Model, ss []sample.Sample) []analytics.Finding {
	t.Helper()
	return detectAllWith(t, m, ss, DetectorConfig{Site: "site", Severity: analytics.Warning})
}

// detectAllWith is detectAll with a detector configuration.
func detectAllWith(t testing.TB, m *Model, ss []sample.Sample, cfg DetectorConfig) []analytics.Finding {
	t.Helper()
	d, err := NewDetector(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var fs []analytics.Finding
	for _, s := range ss {
		if s.Tag == "phase" {
			fs = d.Phase(s.Batch, s.Time, s.Text, fs)
		} else if i := varIndex(s); i >= 0 {
			fs = d.Value(s.Batch, s.Time, i, s.Value, fs)
		}
	}
	return fs
}

var golden *Model

func goldenModel(t testing.TB) *Model {
	if golden == nil {
		golden = trainOn(t, simulate(t, 1, 10))
	}
	return golden
}

func TestTrainedOnTenGoodCycles(t *testing.T) {
	m := goldenModel(t)
	if len(m.Batches) != 10 {
		t.Fatalf("source batches %q, want 10", m.Batches)
	}
	want := map[string]int{"freezing": 48, "primary_drying": 240, "secondary_drying": 96}
	for _, ph := range m.Phases {
		if len(ph.Points) != want[ph.Name] {
			t.Errorf("phase %s: %d maturity points, want %d", ph.Name, len(ph.Points), want[ph.Name])
		}
	}
	if len(m.Phases) != 3 {
		t.Fatalf("phases %d, want 3", len(m.Phases))
	}
	if d := m.Phases[1].Durations; d.N != 10 || d.Min < 20*3600-30 || d.Max > 20*3600+30 {
		t.Errorf("primary drying durations %+v, want 10 of 20 h", d)
	}
	// the envelope follows the recipe: shelf at −20 °C late in primary drying
	p := m.Phases[1].Points[200]
	if p.Mean[0] < -20.5 || p.Mean[0] > -19.5 || p.SD[0] > 0.3 {
		t.Errorf("primary drying at 16h40m: shelf %v ± %v, want −20 ± < 0.3", p.Mean[0], p.SD[0])
	}
}

func TestSilentOnTenFurtherGoodCycles(t *testing.T) {
	m := goldenModel(t)
	// 11 cycles: the detector joins the first in its first phase (start
	// unseen, so its freezing is not judged); 10 are watched whole.
	fs := detectAll(t, m, simulate(t, 2, 11))
	for _, f := range fs {
		t.Errorf("false alarm: %s %s", f.Key(), f.Message)
	}
}
