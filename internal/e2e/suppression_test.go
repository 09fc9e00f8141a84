package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/simulator"
)

// Suppression by design across processes: collector, analytics and alerts
// each a process of its own with its role's NATS credentials. The filler's
// fill weight steps out of its limits while the line runs; at the next
// batch the filler goes into CIP and its alarms are suppressed by design,
// and when production resumes the suppression lifts. The machine state
// reaches the alerts process only over stream FINDINGS.
func TestRemoteSuppressionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with child processes: skipped with -short")
	}
	m := time.Minute
	plant := simulator.DefaultPlant()
	for i := range plant.Lines {
		if l := &plant.Lines[i]; l.ID == "filling1" {
			// Batches of 20 min, each starting with 5 min of CIP; no random stops.
			l.BatchLength = simulator.Duration(20 * m)
			l.Params = map[string]float64{"cip_minutes": 5, "stops_per_hour": 0, "faults_per_hour": 0}
		}
	}
	faults := []simulator.Fault{
		// 2.1 g, above hi (2.04) and hihi (2.06), from 7 min, while the filler runs.
		{Kind: simulator.FaultStep, Target: "filling1.filler.fill_weight", Offset: 0.1, At: T0.Add(7 * m), Duration: simulator.Duration(60 * m)},
	}
	p := startPlant(t, plantOptions{Speed: 60, PollInterval: 100 * time.Millisecond, Faults: faults, NoApp: true, Plant: plant})
	procs := []*child{p.child("collector"), p.child("analytics"), p.child("alerts")}
	for _, c := range procs {
		c.start()
	}
	limits := func(tr alerts.Transition) bool {
		return strings.HasPrefix(tr.Alarm.ID, p.cfg.Site+"/filling1/filler/fill_weight/limits")
	}
	// events of the fill weight limit alarms, in order, per alarm
	events := func() map[string][]alerts.Event {
		out := map[string][]alerts.Event{}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		trs, err := alerts.NewReader(p.js).Transitions(ctx, alerts.TransitionQuery{Site: p.cfg.Site, Line: "filling1"})
		if err != nil {
			return nil // ALARMS not made yet: the alerts process is starting
		}
		for _, tr := range trs {
			if limits(tr) {
				out[tr.Alarm.ID] = append(out[tr.Alarm.ID], tr.Event)
			}
		}
		return out
	}
	// activate … suppress … unsuppress for one alarm
	cycle := func(evs []alerts.Event) bool {
		want := []alerts.Event{alerts.EvActivate, alerts.EvSuppress, alerts.EvUnsuppress}
		for _, e := range evs {
			if len(want) > 0 && e == want[0] {
				want = want[1:]
			}
		}
		return len(want) == 0
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		evs := events()
		done := false
		for _, e := range evs {
			done = done || cycle(e)
		}
		if done {
			t.Logf("fill weight limit alarms: %v", evs)
			break
		}
		if time.Now().After(deadline) {
			p.dumpChildren(procs...)
			t.Fatalf("no fill weight limit alarm was activated, suppressed during CIP and unsuppressed after it within 90 s (simulated now %s): %v",
				p.sim.Now().Sub(T0), evs)
		}
		time.Sleep(200 * time.Millisecond) // polling the stream; the scenario runs in real time
	}
	// The suppression happened while the filler was in CIP: the suppress
	// transition's alarm saw its last finding before CIP started (T0+20 min).
	for _, tr := range p.transitions() {
		if limits(tr) && tr.Event == alerts.EvSuppress {
			if tr.To != alerts.SuppressedByDesign && tr.From != alerts.Shelved && tr.From != alerts.OutOfService {
				t.Errorf("suppress transition to %s, want %s: %+v", tr.To, alerts.SuppressedByDesign, tr)
			}
			if lf := tr.Alarm.LastFindingAt; lf.Before(T0.Add(7*m)) || lf.After(T0.Add(20*m)) {
				t.Errorf("alarm suppressed with its last finding at %s, want one while running (7–20 min), before the CIP", lf.Sub(T0))
			}
		}
	}
	for _, c := range procs {
		c.stop()
	}
}
