package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
)

var (
	lyoStart = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	lyoCycle = 32 * time.Hour
	lyoTags  = []string{"freezedryer/shelf_temp", "freezedryer/chamber_pressure", "freezedryer/condenser_temp"}
)

// lyoReads simulates the demo freeze dryer for cycles cycles, read every
// 30 s as the collector reads its poll group: one sample.Batch per read.
func lyoReads(t *testing.T, seed int64, cycles int, faults ...simulator.Fault) [][]sample.Sample {
	t.Helper()
	o, err := simulator.NewOffline(&simulator.Plant{Name: "lyo", Lines: []simulator.LineSpec{{ID: "lyo1", Model: simulator.ModelFreezeDryer, BatchPrefix: "L1"}}}, seed, lyoStart)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range faults {
		if _, err := o.Inject(f); err != nil {
			t.Fatal(err)
		}
	}
	var reads [][]sample.Sample
	for now := lyoStart; now.Before(lyoStart.Add(time.Duration(cycles) * lyoCycle)); now = now.Add(30 * time.Second) {
		o.AdvanceTo(now)
		b, _ := o.Read("lyo1.freezedryer.batch_id", "demo-plant", "")
		var read []sample.Sample
		for _, tag := range []string{"shelf_temp", "chamber_pressure", "condenser_temp", "phase", "batch_id"} {
			s, err := o.Read("lyo1.freezedryer."+tag, "demo-plant", b.Text)
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, s)
		}
		reads = append(reads, read)
	}
	return reads
}

// lyoEngine is the demo config with a golden-batch model of lyo1 trained
// on 10 simulated good cycles (as train-batch aligns them).
func lyoEngine(t *testing.T, file string) *Engine {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Analytics.BatchModels = []config.BatchModel{{Name: "lyo1-golden", File: file, Line: "lyo1", Tags: lyoTags, PhaseTag: "freezedryer/phase"}}
	e, err := New(cfg, Options{StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func trainLyo(t *testing.T) string {
	t.Helper()
	var bs []batchev.Batch
	var a *batchev.Aligner
	var evs []batchev.Event
	id := ""
	for _, read := range lyoReads(t, 1, 10) {
		for _, s := range read {
			if s.Batch != id {
				if a != nil {
					bs = append(bs, batchev.Batch{ID: id, Events: a.Flush(evs)})
				}
				id, a, evs = s.Batch, batchev.AlignBatch(len(lyoTags), batchev.DefaultStep), nil
			}
			switch i := indexOf(lyoTags, s.Machine+"/"+s.Tag); {
			case s.Tag == "phase":
				evs = a.PhaseValue(s.Batch, s.Time, s.Text, evs)
			case i >= 0:
				evs = a.Value(s.Batch, s.Time, i, s.Value, evs)
			}
		}
	}
	bs = append(bs, batchev.Batch{ID: id, Events: a.Flush(evs)})
	m, err := batchev.Train(bs, batchev.Options{Name: "lyo1-golden", Line: "lyo1", Variables: lyoTags, PhaseTag: "freezedryer/phase"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lyo1-golden.json")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// a good cycle, then one whose chamber pressure rises 30 µbar for 2 h in
// primary drying
func deviatingLyo(t *testing.T) []sample.Sample {
	rise := simulator.Fault{Kind: simulator.FaultPressureRise, Target: "lyo1", Offset: 30,
		At: lyoStart.Add(lyoCycle + 9*time.Hour), Duration: simulator.Duration(2 * time.Hour)}
	var ss []sample.Sample
	for _, r := range lyoReads(t, 7, 2, rise) {
		ss = append(ss, r...)
	}
	return ss
}

func batchFindings(fs []analytics.Finding) []analytics.Finding {
	var out []analytics.Finding
	for _, f := range fs {
		if f.Detector == batchev.DetectorName {
			out = append(out, f)
		}
	}
	return out
}

func TestEngineBatchModelFindsDeviatingCycle(t *testing.T) {
	file := trainLyo(t)
	ss := deviatingLyo(t)
	fs := batchFindings(run(lyoEngine(t, file), ss))
	on, ok := first(fs, batchev.DetectorName, true)
	if !ok {
		t.Fatal("no batch_evolution finding for the pressure rise")
	}
	if on.Line != "lyo1" || on.Batch != ss[len(ss)-1].Batch || on.Time.Before(lyoStart.Add(lyoCycle+9*time.Hour)) ||
		on.Time.After(lyoStart.Add(lyoCycle+9*time.Hour+20*time.Minute)) {
		t.Fatalf("first finding %s batch %s at %s: %s", on.Key(), on.Batch, on.Time, on.Message)
	}
	if !strings.Contains(on.Message, "chamber_pressure") {
		t.Errorf("finding does not name the chamber pressure: %s", on.Message)
	}
	// The demo config gives chamber_pressure µbar and 0 decimals: the
	// message writes its values so (issue 18).
	if !regexp.MustCompile(`^freezedryer/chamber_pressure -?\d+ µbar above the golden-batch envelope -?\d+ µbar \(mean -?\d+ µbar`).MatchString(on.Message) {
		t.Errorf("finding message not in the tag's unit and decimals: %s", on.Message)
	}
	// cleared when the rise ends (or at the next batch)
	if off, ok := first(fs, batchev.DetectorName, false); !ok || !off.Time.After(on.Time) {
		t.Errorf("not cleared: %v", fs)
	}

	// a restart half-way (checkpoint, new engine) gives the same findings
	a := lyoEngine(t, file)
	cut := len(ss) * 3 / 4
	got := run(a, ss[:cut])
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := lyoEngine(t, file)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, run(b, ss[cut:])...)
	if ids(batchFindings(got)) != ids(fs) {
		t.Fatalf("after restore:\n got %s\nwant %s", ids(batchFindings(got)), ids(fs))
	}
}

func TestEngineRejectsMismatchedBatchModel(t *testing.T) {
	file := trainLyo(t)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Analytics.BatchModels = []config.BatchModel{{Name: "lyo1-golden", File: file, Line: "lyo1",
		Tags: []string{"freezedryer/shelf_temp", "freezedryer/condenser_temp", "freezedryer/chamber_pressure"}, PhaseTag: "freezedryer/phase"}}
	_, err = New(cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "the file was trained on tags") {
		t.Fatalf("swapped tags: err %v", err)
	}
}

// Live on real JetStream, stopped half-way and restarted: the golden-batch
// findings (duplicates removed by id, as alerts does) equal the replay.
func TestBatchModelLiveEqualsReplayIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("needs NATS and simulated cycles")
	}
	file := trainLyo(t)
	rise := simulator.Fault{Kind: simulator.FaultPressureRise, Target: "lyo1", Offset: 30,
		At: lyoStart.Add(lyoCycle + 9*time.Hour), Duration: simulator.Duration(2 * time.Hour)}
	reads := lyoReads(t, 7, 2, rise)
	var ss []sample.Sample
	for _, r := range reads {
		ss = append(ss, r...)
	}
	want := batchFindings(run(lyoEngine(t, file), ss))
	if len(want) < 2 {
		t.Fatalf("replay found %d golden-batch findings, want the rise and its end", len(want))
	}
	_, js := testenv.NATSConn(t)
	ctx := context.Background()
	publish := func(part [][]sample.Sample) {
		for _, r := range part {
			data, err := sample.NewBatch(r).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.Publish(ctx, bus.TelemetrySubject("demo-plant", "lyo1", "freezedryer"), data); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := &recorder{}
	live := func() (context.CancelFunc, chan error) {
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		l := &Live{JS: js, Site: "demo-plant", Lines: []string{"lyo1"}, Consumer: "analytics", CheckpointEvery: 50 * time.Millisecond,
			Open: func(string) (*Engine, Notifier, error) { return lyoEngine(t, file), rec, nil }}
		go func() { done <- l.Run(lctx) }()
		return cancel, done
	}
	cut := len(reads) * 3 / 4 // inside the rise
	publish(reads[:cut])
	cancel, done := live()
	waitFor(t, func() bool { return lyoCheckpointed(t, js) })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	publish(reads[cut:])
	cancel, done = live()
	waitFor(t, func() bool { return lyoCheckpointed(t, js) && len(batchFindings(rec.snapshot())) >= len(want) })
	cancel()
	<-done
	seen := map[string]bool{}
	var got []analytics.Finding
	for _, f := range batchFindings(rec.snapshot()) {
		if !seen[f.ID] {
			seen[f.ID] = true
			got = append(got, f)
		}
	}
	if ids(got) != ids(want) {
		t.Fatalf("live golden-batch findings differ from replay:\n got %s\nwant %s", ids(got), ids(want))
	}
}

// lyoCheckpointed: lyo1's checkpoint covers the last message on TELEMETRY
// (the worker has analysed everything published so far).
func lyoCheckpointed(t *testing.T, js jetstream.JetStream) bool {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, bus.StreamTelemetry)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		return false
	}
	e, err := kv.Get(ctx, checkpointKey("analytics", "lyo1"))
	if err != nil {
		return false
	}
	var cp checkpoint
	return json.Unmarshal(e.Value(), &cp) == nil && cp.Seq >= st.CachedInfo().State.LastSeq
}

func (r *recorder) snapshot() []analytics.Finding {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]analytics.Finding(nil), r.fs...)
}

// The engine writes the running batch over its golden envelope to spc
// (what the lyo1 dashboard draws): one point per variable and maturity slice.
func TestEngineBatchModelStatsForDashboards(t *testing.T) {
	file := trainLyo(t)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Analytics.BatchModels = []config.BatchModel{{Name: "lyo1-golden", File: file, Line: "lyo1", Tags: lyoTags, PhaseTag: "freezedryer/phase"}}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(e, deviatingLyo(t))
	n, t2 := 0, 0
	for _, p := range e.DrainStats(nil) {
		if p.Detector != batchev.DetectorName {
			continue
		}
		st := map[string]float64{}
		for _, s := range p.Stats {
			st[s.Name] = s.Value
		}
		switch p.Tag {
		case "chamber_pressure":
			n++
			if !(st["lower"] < st["mean"] && st["mean"] < st["upper"]) {
				t.Fatalf("envelope %v", st)
			}
		case "lyo1-golden":
			t2++
			if p.Machine != "freezedryer" || !(st["t2_limit"] > 0 && st["spe_limit"] > 0) {
				t.Fatalf("model stats %s %v", p.Machine, st)
			}
		}
	}
	// 384 slices a cycle; the first cycle's freezing (48 slices) is joined
	// mid-phase, and the last slice is still open when the data ends
	if want := 2*384 - 48 - 1; n != want || t2 != n {
		t.Fatalf("%d chamber_pressure and %d T²/SPE points, want %d", n, t2, want)
	}
}
