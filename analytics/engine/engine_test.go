package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// scenario: fill weight on target for 10 min, then +2 sigma; the cold room
// probe at 5 °C with a door-open excursion to 9.5 °C for 5 min at minute 20.
func scenario() []sample.Sample {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []sample.Sample
	for i := range 1800 {
		ts := t0.Add(time.Duration(i) * time.Second)
		fw := 2.0 + 0.01*rng.NormFloat64()
		if i >= 600 {
			fw += 0.02
		}
		temp := 5 + 0.1*rng.NormFloat64()
		if i >= 1200 && i < 1500 {
			temp = 9.5 + 0.1*rng.NormFloat64()
		}
		out = append(out,
			sample.Sample{Time: ts, Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "fill_weight", Value: fw, Batch: "B1"},
			sample.Sample{Time: ts, Site: "demo-plant", Line: "coldroom1", Machine: "coldroom", Tag: "temp_probe1", Value: temp},
		)
	}
	// a bad-quality value that must be ignored by default
	out = append(out, sample.Sample{Time: t0.Add(1800 * time.Second), Site: "demo-plant", Line: "filling1", Machine: "filler", Tag: "fill_weight", Value: 99, Status: 0x80000000, Batch: "B1"})
	return out
}

func demoEngine(t *testing.T) *Engine {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func run(e *Engine, ss []sample.Sample) []analytics.Finding {
	var fs []analytics.Finding
	for _, s := range ss {
		fs = e.Process(s, fs)
	}
	return fs
}

func first(fs []analytics.Finding, detector string, active bool) (analytics.Finding, bool) {
	for _, f := range fs {
		if f.Detector == detector && f.Active == active {
			return f, true
		}
	}
	return analytics.Finding{}, false
}

func TestEngineDetectsScenario(t *testing.T) {
	e := demoEngine(t)
	if !slices.Contains(e.Detectors(), "filling1/checkweigher/reject_count/p_chart") {
		t.Fatalf("p-chart not attached: %v", e.Detectors())
	}
	fs := run(e, scenario())
	shift := t0.Add(600 * time.Second)
	for _, det := range []string{"ewma", "cusum"} {
		f, ok := first(fs, det, true)
		if !ok {
			t.Fatalf("%s did not signal the 2-sigma fill-weight shift", det)
		}
		if f.Time.Before(shift) || f.Time.After(shift.Add(60*time.Second)) {
			t.Errorf("%s signalled at %s, want within 60 s after the shift at %s", det, f.Time, shift)
		}
		if f.Tag != "fill_weight" || f.Line != "filling1" {
			t.Errorf("%s finding on %s", det, f.Key())
		}
	}
	// limits: hi = 8 °C with a 10 s on-delay; the excursion starts at minute 20.
	var hi *analytics.Finding
	for i, f := range fs {
		if f.Detector == "limits" && f.Tag == "temp_probe1" && f.Active && f.Rule == "hi" {
			hi = &fs[i]
			break
		}
	}
	if hi == nil {
		t.Fatal("no hi limit finding for the cold room excursion")
	}
	if want := t0.Add(1210 * time.Second); !hi.Time.Equal(want) {
		t.Errorf("hi limit finding at %s, want %s (excursion start + 10 s on-delay)", hi.Time, want)
	}
	for _, f := range fs {
		if f.Value == 99 {
			t.Fatalf("bad-quality sample reached a detector: %+v", f)
		}
	}
	st := e.DrainStats(nil)
	if len(st) == 0 {
		t.Fatal("no statistics emitted")
	}
}

func TestSnapshotRestoreGivesSameFindings(t *testing.T) {
	ss := scenario()
	want := run(demoEngine(t), ss)

	a := demoEngine(t)
	got := run(a, ss[:1500])
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := demoEngine(t)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, run(b, ss[1500:])...)
	if ids(got) != ids(want) {
		t.Fatalf("findings differ after restore:\n got %s\nwant %s", ids(got), ids(want))
	}
}

func ids(fs []analytics.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s@%s:%t ", f.Key(), f.Time.Format("15:04:05"), f.Active)
	}
	return b.String()
}

func TestReplayCSVSameAsDirect(t *testing.T) {
	ss := scenario()
	var buf bytes.Buffer
	buf.WriteString("time,line,machine,tag,value,quality\n")
	for _, s := range ss {
		fmt.Fprintf(&buf, "%s,%s,%s,%s,%v,%d\n", s.Time.Format(time.RFC3339Nano), s.Line, s.Machine, s.Tag, s.Value, s.Status)
	}
	e := demoEngine(t)
	var got []analytics.Finding
	for s, err := range ReadCSV(&buf, "demo-plant") {
		if err != nil {
			t.Fatal(err)
		}
		got = e.Process(s, got)
	}
	want := run(demoEngine(t), ss)
	if ids(got) != ids(want) || len(got) == 0 {
		t.Fatalf("replay differs:\n got %s\nwant %s", ids(got), ids(want))
	}
}

func TestReadCSVErrors(t *testing.T) {
	in := "time,line,machine,tag,value\n" +
		"2026-11-23T08:00:00Z,l,m,t,1.5\n" +
		"yesterday,l,m,t,1\n" +
		"2026-11-23T08:00:01Z,l,m,t,open,bad\n" +
		"2026-11-23T08:00:02Z,l,m,t,2,weird\n"
	var got []string
	var n int
	for s, err := range ReadCSV(strings.NewReader(in), "s") {
		if err != nil {
			got = append(got, err.Error())
			continue
		}
		n++
		if s.Tag == "t" && s.Text == "open" && s.Status != 0x80000000 {
			t.Errorf("text sample status %x", s.Status)
		}
	}
	if n != 2 {
		t.Errorf("%d samples, want 2", n)
	}
	want := []string{`csv line 3: time "yesterday" is not RFC 3339`, `csv line 5: quality "weird"`}
	if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
		t.Fatalf("errors %q, want prefixes %q", got, want)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("time,line,machine,tag,value,quality\n2026-11-23T08:00:00Z,l,m,t,1.5,0\n"))
	f.Add([]byte("2026-11-23T08:00:00Z,l,m,t,\"a,b\",0x40000000\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for s, err := range ReadCSV(bytes.NewReader(data), "s") {
			if err == nil && (s.Line == "" || s.Time.IsZero()) {
				t.Fatalf("accepted incomplete sample %+v", s)
			}
		}
	})
}

type recorder struct {
	mu sync.Mutex
	fs []analytics.Finding
	n  int
}

func (r *recorder) Notify(_ context.Context, fs []analytics.Finding) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fs = append(r.fs, fs...)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.fs)
}

// waitFor polls a condition on real servers with a deadline (no fixed sleeps).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
