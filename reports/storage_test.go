package reports

import (
	"bytes"
	"context"
	"iter"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/internal/display"
	"github.com/linewatch/linewatch/sample"
)

type sliceSource []sample.Sample

func (s sliceSource) Samples(ctx context.Context, q SampleQuery) iter.Seq2[sample.Sample, error] {
	return func(yield func(sample.Sample, error) bool) {
		for _, x := range s {
			if x.Line == q.Line && !x.Time.Before(q.From) && !x.Time.After(q.To) && !yield(x, nil) {
				return
			}
		}
	}
}

const storageConfig = `site: plant1
lines:
  - id: store
    machines:
      - id: room
        endpoint: opc.tcp://127.0.0.1:4840
        poll_groups:
          - {name: climate, interval: 10s, tags: [temp]}
        tags:
          - {name: temp, node_id: "ns=2;s=temp", unit: °C, role: temperature, decimals: 1, limits: {hi: 25}}
reports:
  storage_locations:
    - {id: dock, name: loading dock and fridge, tags: [store/room/temp]}
`

// TestStorageMKTWorkedExample reproduces the published worked example of
// Isopharm's "What is Mean Kinetic Temperature?" (systems.isopharm.co.uk,
// FAQ): a product 2 h in a 20 °C room, 4 h in 2 °C refrigeration and 1 h
// on a 25 °C loading dock is "thermally equivalent" to 15.7 °C for 7 h.
// Formula: USP <1079> / ICH Q1A(R2) mean kinetic temperature,
// Tk = (ΔH/R) / −ln(Σ tᵢ e^(−ΔH/RTᵢ) / Σ tᵢ) with ΔH/R = 10 000 K
// (ΔH = 83.144 kJ/mol); the exact value is 15.6776 °C.
func TestStorageMKTWorkedExample(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), storageConfig)
	var src sliceSource
	for i := 0; i <= 7*360; i++ { // every 10 s for 7 h, the last reading at the end
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		v := 20.0
		switch {
		case at.Sub(t0) >= 6*time.Hour:
			v = 25
		case at.Sub(t0) >= 2*time.Hour:
			v = 2
		}
		src = append(src, sample.Sample{Time: at, Line: "store", Machine: "room", Tag: "temp", Value: v})
	}
	loc := *cfg.Reports.StorageLocation("dock")
	sr, err := BuildStorage(context.Background(), cfg, loc, t0, t0.Add(7*time.Hour), src, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.ColdChain) != 1 || !sr.ColdChain[0].HasMKT {
		t.Fatalf("cold chain %+v", sr.ColdChain)
	}
	mkt := float64(sr.ColdChain[0].MKT)
	if math.Abs(mkt-15.6776) > 0.005 || display.Number(mkt, 1, "") != "15.7" {
		t.Errorf("MKT %.4f °C, want 15.6776 (published: 15.7)", mkt)
	}
	if sr.Tags[0].Sampling != 10*time.Second || sr.Tags[0].GapCount != 0 {
		t.Errorf("sampling %v, gaps %d", sr.Tags[0].Sampling, sr.Tags[0].GapCount)
	}
	var out bytes.Buffer
	if err := sr.WriteText(&out, cfg, display.MustNew(cfg)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "15.7 °C") || !strings.Contains(out.String(), "no limit") && !strings.Contains(out.String(), "MKT") {
		t.Errorf("text:\n%s", out.String())
	}
}

// TestStorageReportIntegration: the storage report of the fixture's cold
// room read from a real InfluxDB: its excursion, MKT, TOR, and the batches
// of its line stored there in the range (not those before it, not another
// line's).
func TestStorageReportIntegration(t *testing.T) {
	f := newFixture(t)
	loc := *f.cfg.Reports.StorageLocation("coldroom1")
	sr, err := BuildStorage(context.Background(), f.cfg, loc, t0.Add(-30*time.Minute), t0.Add(100*time.Minute), f.src, f.src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Tags) != 1 || sr.Tags[0].Key() != "coldroom/temp" || sr.Tags[0].Count != int64(len(f.temps)+2) {
		t.Fatalf("tags %+v", sr.Tags)
	}
	if len(sr.Excursions) != 1 || sr.Excursions[0].Duration != 12*time.Minute || !sr.Excursions[0].Start.Equal(f.excStart) {
		t.Errorf("excursions %+v", sr.Excursions)
	}
	cc := sr.ColdChain[0]
	if want := independentMKT(f.temps); math.Abs(float64(cc.MKT)-want) > 1e-6 || !cc.MKTOK || cc.TORUsed != 12*time.Minute || !cc.TOROK {
		t.Errorf("cold chain %+v, MKT want %v", cc, want)
	}
	if len(sr.Batches) != 1 || sr.Batches[0].ID != f.batch.ID {
		t.Errorf("batches %+v, want only %s", sr.Batches, f.batch.ID)
	}
	var out bytes.Buffer
	if err := sr.WriteText(&out, f.cfg, display.MustNew(f.cfg)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Storage location coldroom1 (2–8 °C cold room)", "Excursions (1):", "hi 8.00 °C", "B-2026-0042", "Vaccine X 10 mL", "12m0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := BuildStorage(context.Background(), f.cfg, loc, t0, t0, f.src, nil, Options{}); err == nil || !strings.Contains(err.Error(), "not after") {
		t.Errorf("empty range: %v", err)
	}
}

// TestGapsAgainstObservedSampling: a tag read every 30 s (the demo's
// simulated time per 1 s poll) has no gap however its poll interval is
// configured; a 10-minute hole is one gap, summarised; a text tag recorded
// on change is not judged.
func TestGapsAgainstObservedSampling(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), storageConfig)
	var src sliceSource
	end := t0.Add(2 * time.Hour)
	for at := t0; !at.After(end); at = at.Add(30 * time.Second) {
		if at.After(t0.Add(time.Hour)) && at.Before(t0.Add(70*time.Minute)) {
			continue
		}
		src = append(src, sample.Sample{Time: at, Line: "store", Machine: "room", Tag: "temp", Value: 5})
	}
	src = append(src, sample.Sample{Time: t0, Line: "store", Machine: "room", Tag: "state", Text: "running"})
	sortSamples(src)
	p, err := newPipeline(cfg, BatchRecord{ID: "B", Line: "store", Start: t0, End: end}, Options{ChartBuckets: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	var r Report
	p.fill(&r)
	var temp, state TagStats
	for _, ts := range r.Tags {
		switch ts.Tag {
		case "temp":
			temp = ts
		case "state":
			state = ts
		}
	}
	// The poll interval is 10 s; readings come every 30 s.
	if temp.PollInterval != 10*time.Second || temp.Sampling != 30*time.Second || temp.GapCount != 1 || temp.GapLongest != 10*time.Minute ||
		temp.GapTotal != temp.GapLongest || len(temp.Gaps) != 1 || !temp.Gaps[0].From.Equal(t0.Add(time.Hour)) {
		t.Errorf("temp: poll %v sampling %v gaps %d longest %v total %v list %+v", temp.PollInterval, temp.Sampling, temp.GapCount, temp.GapLongest, temp.GapTotal, temp.Gaps)
	}
	if state.GapCount != 0 || state.Sampling != 0 {
		t.Errorf("text tag judged for gaps: %+v", state)
	}
}

func sortSamples(s sliceSource) {
	sort.SliceStable(s, func(i, j int) bool { return s[i].Time.Before(s[j].Time) })
}

const spcConfig = `site: plant1
lines:
  - id: fill
    machines:
      - id: filler
        endpoint: opc.tcp://127.0.0.1:4840
        poll_groups:
          - {name: p, interval: 1s, tags: [w]}
        tags:
          - {name: w, node_id: "ns=2;s=w", unit: g, role: fill_weight, decimals: 3}
analytics:
  rules:
    - name: drift
      tags: [fill/filler/w]
      ewma: {lambda: 0.2, l: 3, baseline: {mean: 2.0, sigma: 0.01}}
      cusum: {k: 0.5, h: 5, baseline: {mean: 2.0, sigma: 0.01}}
`

// TestSPCChartsWhenSignalled: a mean shift of 3σ halfway through makes the
// EWMA and the CUSUM signal; the report then carries both charts, with the
// statistic crossing its limit.
func TestSPCChartsWhenSignalled(t *testing.T) {
	cfg := writeConfig(t, t.TempDir(), spcConfig)
	var src sliceSource
	end := t0.Add(time.Hour)
	for i := 0; i <= 3600; i += 10 {
		v := 2.0 + 0.005*math.Sin(float64(i))
		if i >= 1800 {
			v += 0.03
		}
		src = append(src, sample.Sample{Time: t0.Add(time.Duration(i) * time.Second), Line: "fill", Machine: "filler", Tag: "w", Value: v})
	}
	p, err := newPipeline(cfg, BatchRecord{ID: "B", Line: "fill", Start: t0, End: end}, Options{ChartBuckets: 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	var r Report
	p.fill(&r)
	got := map[string]SPCChart{}
	for _, c := range r.SPCCharts {
		got[c.Detector] = c
	}
	ew, ok := got["ewma"]
	if !ok || len(got) != 2 {
		t.Fatalf("SPC charts %+v, want ewma and cusum", r.SPCCharts)
	}
	last := ew.Points[len(ew.Points)-1].V
	if len(ew.Points) < 50 || ew.Decimals != 3 || !(last[0] > last[1]) {
		t.Errorf("EWMA chart: %d points, last %v (ewma above ucl expected)", len(ew.Points), last)
	}
	// The chart is the engine's: the configured baseline (mean 2.0), from
	// the first reading on, not one re-estimated from the first 25.
	if p0 := ew.Points[0]; !p0.Time.Equal(t0) || len(p0.V) != 4 || p0.V[3] != 2.0 {
		t.Errorf("first EWMA point %+v, want the bucket at %s with centre line 2.0", p0, t0)
	}
	cu := got["cusum"].Points
	if hi, h := cu[len(cu)-1].V[0], cu[len(cu)-1].V[2]; !(hi > h) {
		t.Errorf("CUSUM C+ %v not above H %v", hi, h)
	}
	// Both are drawn.
	r.Header.Start, r.Header.TimeZone = t0, "UTC"
	imgs, err := chartImages(&r, "svg")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, im := range imgs {
		titles = append(titles, im.Title)
	}
	if s := strings.Join(titles, "|"); !strings.Contains(s, "EWMA chart filler/w") || !strings.Contains(s, "CUSUM chart filler/w") {
		t.Errorf("chart titles %s", s)
	}
}
