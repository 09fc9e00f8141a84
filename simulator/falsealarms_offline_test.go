package simulator

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	aengine "github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// TestFalseAlarmsOffline is a fast cross-check of internal/cmd/falsealarms:
// the plant's physics read every 30 s of simulated time straight into the
// analytics engine (no OPC UA, NATS or alarm state machine), fault-free,
// counting the detectors' activations. About 2 s per seed-week. Run with
//
//	LINEWATCH_FALSEALARMS_SEEDS=21-40 [LINEWATCH_FALSEALARMS_CONFIG=file] go test -run FalseAlarmsOffline -v ./simulator/
//
// LINEWATCH_FALSEALARMS_HOURS (default 168) shortens each run and
// LINEWATCH_FALSEALARMS_PHASES=30 repeats it with the reads shifted by
// 0…29 s (where the 30 s sampling falls, which the real pipeline varies).
func TestFalseAlarmsOffline(t *testing.T) {
	spec := os.Getenv("LINEWATCH_FALSEALARMS_SEEDS")
	if spec == "" {
		t.Skip("set LINEWATCH_FALSEALARMS_SEEDS=first-last to run")
	}
	lo, hi, _ := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(lo, 10, 64)
	last, err2 := strconv.ParseInt(hi, 10, 64)
	if err1 != nil || err2 != nil || last < first {
		t.Fatalf("LINEWATCH_FALSEALARMS_SEEDS=%q: want first-last, e.g. 21-40", spec)
	}
	cfg, err := config.Demo()
	if f := os.Getenv("LINEWATCH_FALSEALARMS_CONFIG"); f != "" {
		cfg, err = config.Load(f)
	}
	if err != nil {
		t.Fatal(err)
	}
	hours, phases := 168, 1
	if h := os.Getenv("LINEWATCH_FALSEALARMS_HOURS"); h != "" {
		if hours, err = strconv.Atoi(h); err != nil || hours < 1 {
			t.Fatalf("LINEWATCH_FALSEALARMS_HOURS=%q: want hours ≥ 1", h)
		}
	}
	if p := os.Getenv("LINEWATCH_FALSEALARMS_PHASES"); p != "" {
		if phases, err = strconv.Atoi(p); err != nil || phases < 1 || phases > 30 {
			t.Fatalf("LINEWATCH_FALSEALARMS_PHASES=%q: want 1–30", p)
		}
	}
	total := map[string]int{}
	for seed := first; seed <= last; seed++ {
		for phase := range phases {
			runOffline(t, cfg, seed, phase, hours, total)
		}
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range total {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	fmt.Fprintf(&b, "seeds %d–%d × %d sampling phases × %d h = %.1f plant-days:", first, last, phases, hours, float64(int(last-first+1)*phases*hours)/24)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s %d;", k, total[k])
	}
	t.Log(b.String())
}

// runOffline runs one seed with reads at phase, phase+30 s, … for hours and
// counts the activations into total.
func runOffline(t *testing.T, cfg *config.Config, seed int64, phase, hours int, total map[string]int) {
	e, err := newEngine(DefaultPlant(), seed, DefaultStart, 0)
	if err != nil {
		t.Fatal(err)
	}
	an, err := aengine.New(cfg, aengine.Options{StatsEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	var buf []analytics.Finding
	for s := phase; s < hours*3600; s += 30 {
		e.advanceTo(DefaultStart.Add(time.Duration(s) * time.Second))
		for _, l := range cfg.Lines {
			batch := ""
			if bt, ok := e.byID[l.ID+"."+strings.ReplaceAll(l.BatchTag, "/", ".")]; ok {
				batch = bt.s
			}
			for _, m := range l.Machines {
				for _, tg := range m.Tags {
					buf = an.Process(readSample(e.byID[l.ID+"."+m.ID+"."+tg.Name], cfg.Site, batch), buf[:0])
					for _, f := range buf {
						if f.Active {
							total[f.Key()]++
							t.Logf("seed %d phase %d s day %.2f %s: %s", seed, phase, f.Time.Sub(DefaultStart).Hours()/24, f.Key(), f.Message)
						}
					}
				}
			}
		}
	}
}

// readSample is what the collector would publish for t now.
func readSample(t *tag, site, batch string) sample.Sample {
	s := sample.Sample{Time: t.ts, Site: site, Line: t.line, Machine: t.machine, Tag: t.name, Batch: batch}
	switch t.kind {
	case kindDouble:
		s.Value = t.f
	case kindUInt32:
		s.Value = float64(t.u)
	case kindBool:
		if t.b {
			s.Value = 1
		}
	case kindString:
		s.Text = t.s
	}
	return s
}
