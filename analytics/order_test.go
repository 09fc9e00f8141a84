package analytics

import (
	"testing"
	"time"
)

func TestProcessOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := func(s string, d time.Duration) MachineState {
		return MachineState{Time: t0.Add(d), State: s}
	}
	f := func(det string, d time.Duration) Finding {
		return Finding{Time: t0.Add(d), Detector: det}
	}
	for _, c := range []struct {
		name   string
		states []MachineState
		fs     []Finding
		want   string
	}{
		{"none", nil, nil, ""},
		{"same time: state first", []MachineState{st("run", 0)}, []Finding{f("a", 0)}, "run a "},
		{"older finding first", []MachineState{st("cip", time.Second)}, []Finding{f("cpk", 0)}, "cpk cip "},
		{"interleaved", []MachineState{st("cip", time.Second), st("run", 3*time.Second)},
			[]Finding{f("a", 0), f("b", 2*time.Second), f("c", 4*time.Second)}, "a cip b run c "},
		// Findings out of time order keep the engine's order between them.
		{"findings never reordered", []MachineState{st("cip", time.Second)},
			[]Finding{f("late", 2*time.Second), f("early", 0)}, "cip late early "},
	} {
		var got string
		for _, m := range ProcessOrder(c.states, c.fs) {
			if m.MachineState != nil {
				got += m.MachineState.State + " "
			} else {
				got += m.Finding.Detector + " "
			}
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
