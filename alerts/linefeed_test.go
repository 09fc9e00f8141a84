package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/internal/testenv"
)

// feeder is what an engine's line notifier is: LineFeed in this process,
// engine.Publisher for alerts in another.
type feeder interface {
	MachineState(analytics.MachineState)
	Notify(context.Context, []analytics.Finding) error
}

// orderScenario feeds three telemetry messages of the filler as the
// engine makes them, and returns the transitions each alarm must get.
//  1. CIP at 06:00.
//  2. The poll of 06:05 reports "running" and gives a fill-weight
//     finding: it is one of the running machine, not suppressed (the
//     engine saw the finding's sample before the state's).
//  3. The first poll of the next batch (06:20) reports CIP and ends the
//     batch, whose finding (fill speed) carries its last sample's time,
//     06:19:59: it is annunciated, then suppressed with the weight alarm.
//
// Before, every state of a message was applied first: the fill-speed
// alarm was suppressed before its own activation.
func orderScenario(t *testing.T, ctx context.Context, f feeder) map[string]string {
	t.Helper()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	st := func(s string, d time.Duration) analytics.MachineState {
		return analytics.MachineState{Time: at(d), Line: "filling1", Machine: "filler", State: s}
	}
	weight := fnd("filling1", "filler", "fill_weight", true, at(5*time.Minute))
	speed := fnd("filling1", "filler", "fill_speed", true, at(20*time.Minute-time.Second))
	for _, msg := range []struct {
		states []analytics.MachineState
		fs     []analytics.Finding
	}{
		{[]analytics.MachineState{st("cip", 0)}, nil},
		{[]analytics.MachineState{st("running", 5*time.Minute)}, []analytics.Finding{weight}},
		{[]analytics.MachineState{st("cip", 20*time.Minute)}, []analytics.Finding{speed}},
	} {
		for _, m := range msg.states {
			f.MachineState(m)
		}
		if err := f.Notify(ctx, msg.fs); err != nil {
			t.Fatal(err)
		}
	}
	site := demoConfig(t).Site
	return map[string]string{
		AlarmID(site, weight): "activate normal→unacknowledged, suppress unacknowledged→suppressed",
		AlarmID(site, speed):  "activate normal→unacknowledged, suppress unacknowledged→suppressed",
	}
}

func checkOrder(t *testing.T, trs []Transition, want map[string]string) bool {
	t.Helper()
	got := map[string][]string{}
	for _, tr := range trs {
		got[tr.Alarm.ID] = append(got[tr.Alarm.ID], fmt.Sprintf("%s %s→%s", tr.Event, tr.From, tr.To))
	}
	for id, w := range want {
		if g := strings.Join(got[id], ", "); g != w {
			t.Logf("%s:\n got %s\nwant %s", id, g, w)
			return false
		}
	}
	return true
}

// Analytics in this process: LineFeed applies machine states and
// findings in process-time order.
func TestLineFeedProcessOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	nc, js := testenv.NATSConn(t)
	cfg := scaleConfig(t)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)
	feed := s.LineFeed()
	want := orderScenario(t, context.Background(), feed)
	if feed.Pending() {
		t.Fatal("machine states still queued after Notify")
	}
	if !checkOrder(t, streamTransitions(t, js), want) {
		t.Fatal("transitions not in process-time order")
	}
}

// Analytics in another process: the same transitions through FINDINGS.
func TestFindingsProcessOrderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	nc, js := testenv.NATSConn(t)
	cfg := scaleConfig(t)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)
	runFindings(t, s)
	want := orderScenario(t, context.Background(), &engine.Publisher{JS: js, Site: cfg.Site})
	eventually(t, "transitions in process-time order", func() bool { return checkOrder(t, streamTransitions(t, js), want) })
}
