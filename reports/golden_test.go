package reports

import (
	"bytes"
	"context"
	"iter"
	"path/filepath"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

var (
	lyoT0   = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	lyoVars = []string{"freezedryer/shelf_temp", "freezedryer/chamber_pressure", "freezedryer/condenser_temp"}
)

// lyoSamples simulates the demo freeze dryer read every minute, each
// sample stamped with the batch id of its read.
func lyoSamples(t *testing.T, seed int64, cycles int, faults ...simulator.Fault) []sample.Sample {
	t.Helper()
	o, err := simulator.NewOffline(&simulator.Plant{Name: "lyo", Lines: []simulator.LineSpec{{ID: "lyo1", Model: simulator.ModelFreezeDryer, BatchPrefix: "L1"}}}, seed, lyoT0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if _, err := o.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	var out []sample.Sample
	for now := lyoT0; now.Before(lyoT0.Add(time.Duration(cycles) * 32 * time.Hour)); now = now.Add(time.Minute) {
		o.AdvanceTo(now)
		b, _ := o.Read("lyo1.freezedryer.batch_id", "demo-plant", "")
		for _, tag := range []string{"shelf_temp", "chamber_pressure", "condenser_temp", "phase"} {
			s, _ := o.Read("lyo1.freezedryer."+tag, "demo-plant", b.Text)
			out = append(out, s)
		}
	}
	return out
}

func trainGolden(t *testing.T) string {
	t.Helper()
	var bs []batchev.Batch
	var a *batchev.Aligner
	var evs []batchev.Event
	id := ""
	for _, s := range lyoSamples(t, 1, 10) {
		if s.Batch != id {
			if a != nil {
				bs = append(bs, batchev.Batch{ID: id, Events: a.Flush(evs)})
			}
			id, a, evs = s.Batch, batchev.AlignBatch(3, batchev.DefaultStep), nil
		}
		if s.Tag == "phase" {
			evs = a.PhaseValue(s.Batch, s.Time, s.Text, evs)
			continue
		}
		for i, v := range lyoVars {
			if v == s.Machine+"/"+s.Tag {
				evs = a.Value(s.Batch, s.Time, i, s.Value, evs)
			}
		}
	}
	bs = append(bs, batchev.Batch{ID: id, Events: a.Flush(evs)})
	m, err := batchev.Train(bs, batchev.Options{Name: "lyo1-golden", Line: "lyo1", Variables: lyoVars, PhaseTag: "freezedryer/phase"})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "lyo1-golden.json")
	if err := m.Save(f); err != nil {
		t.Fatal(err)
	}
	return f
}

type lyoSource []sample.Sample

func (s lyoSource) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		for _, x := range s {
			if x.Line == q.Line && !x.Time.Before(q.From) && x.Time.Before(q.To) && !yield(x, nil) {
				return
			}
		}
	}
}

// A lyo1 batch report, with a golden-batch model configured, holds each
// variable's trajectory over the envelope (the deviation marked) and the
// detector's signal, and renders the charts.
func TestReportGoldenBatchTrajectories(t *testing.T) {
	file := trainGolden(t)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Analytics.BatchModels = []config.BatchModel{{Name: "lyo1-golden", File: file, Line: "lyo1", Tags: lyoVars, PhaseTag: "freezedryer/phase"}}
	start := lyoT0.Add(32 * time.Hour)
	rise := simulator.Fault{Kind: simulator.FaultPressureRise, Target: "lyo1", Offset: 30, At: start.Add(9 * time.Hour), Duration: simulator.Duration(2 * time.Hour)}
	ss := lyoSamples(t, 5, 2, rise)
	b := BatchRecord{ID: ss[len(ss)-1].Batch, Line: "lyo1", Start: start, End: start.Add(32 * time.Hour)}
	r, err := Build(context.Background(), cfg, b, Sources{Samples: lyoSource(ss)}, Options{GeneratedBy: "qa"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GoldenBatch) != 3 {
		t.Fatalf("%d golden-batch charts, want 3", len(r.GoldenBatch))
	}
	for _, c := range r.GoldenBatch {
		// judged from the batch start: all 384 slices but the last, open one
		if len(c.Points) != 383 {
			t.Errorf("%s: %d points, want 383", c.Tag, len(c.Points))
		}
		// A single slice outside ±3σ happens by chance (p = 0.0027 a slice:
		// about one a cycle per variable); the detector wants 3 in a row.
		during, other := 0, 0
		for _, p := range c.Points {
			switch {
			case !p.Outside:
			case c.Tag == "chamber_pressure" && !p.Time.Before(rise.At) && p.Time.Before(rise.At.Add(2*time.Hour+5*time.Minute)):
				during++
			default:
				other++
			}
		}
		if c.Tag == "chamber_pressure" && during < 20 {
			t.Errorf("pressure outside the envelope in %d slices of the 2 h rise, want ≥ 20", during)
		}
		if other > 4 {
			t.Errorf("%s outside the envelope in %d slices with no fault", c.Tag, other)
		}
	}
	found := false
	for _, s := range r.Signals {
		if s.Detector == batchev.DetectorName && s.Tag == "chamber_pressure" {
			found = true
		}
	}
	if !found {
		t.Errorf("no batch_evolution signal on chamber_pressure: %+v", r.Signals)
	}
	imgs, err := chartImages(r, "png")
	if err != nil {
		t.Fatal(err)
	}
	golden := 0
	for _, im := range imgs {
		if bytes.HasPrefix([]byte(im.Title), []byte("Golden batch ")) && bytes.HasPrefix(im.Data, []byte("\x89PNG")) {
			golden++
		}
	}
	if golden != 3 {
		t.Fatalf("%d golden-batch chart images, want 3", golden)
	}
}
