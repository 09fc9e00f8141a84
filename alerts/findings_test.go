package alerts

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

// runFindings starts s.RunFindings and stops it at cleanup.
func runFindings(t testing.TB, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunFindings(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunFindings: %v", err)
		}
	})
}

// eventually polls cond (the consumer delivers asynchronously) until it
// holds or 20 s have passed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("not within 20 s: %s", what)
		}
	}
}

// knownState is a machine's state as this worker reads it (FINDINGS'
// changes are in SharedBucket).
func (s *Service) knownState(line, machine string) string {
	st, _, err := s.remoteMachineState(context.Background(), line, machine)
	if err != nil {
		return "error: " + err.Error()
	}
	return st
}

// Analytics in another process: findings and machine states travel on
// FINDINGS (engine.Publisher → Service.RunFindings). A machine in CIP
// suppresses its alarms by design; back in production the suppression
// lifts. An unversioned (version 1) finding message is still applied, and
// a second worker reads every machine state from the shared bucket,
// whichever worker the line's consumer hands a change to.
func TestFindingsStreamCarriesSuppressionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)
	runFindings(t, s)
	pub := &engine.Publisher{JS: js, Site: cfg.Site}

	pub.MachineState(analytics.MachineState{Time: t0, Line: "filling1", Machine: "filler", State: "cip"})
	on := fnd("filling1", "filler", "fill_weight", true, t0.Add(time.Second))
	if err := pub.Notify(ctx, []analytics.Finding{on}); err != nil {
		t.Fatal(err)
	}
	id := AlarmID(cfg.Site, on)
	get := func(id string) Alarm { a, _, _ := s.Store().Get(ctx, id); return a }
	eventually(t, "fill weight alarm suppressed by design during CIP", func() bool {
		a := get(id)
		return a.State == SuppressedByDesign && a.Active && a.Suppressed
	})
	if pub.Pending() {
		t.Fatal("the machine state is still queued after Notify")
	}

	// Back in production: no finding, only the state change (Live calls
	// Notify with none when the publisher has one pending).
	pub.MachineState(analytics.MachineState{Time: t0.Add(time.Minute), Line: "filling1", Machine: "filler", State: "running"})
	if !pub.Pending() {
		t.Fatal("Pending is false with a queued machine state")
	}
	if err := pub.Notify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "suppression lifted after CIP", func() bool {
		a := get(id)
		return a.State == Unacknowledged && !a.Suppressed
	})

	// A version 1 message: a bare Finding without v or kind.
	old := fnd("coldroom1", "coldroom", "temp_probe1", true, t0.Add(2*time.Minute))
	old.Site = cfg.Site
	b, _ := json.Marshal(old)
	if _, err := js.Publish(ctx, bus.FindingSubject(cfg.Site, old.Line), b); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unversioned finding applied", func() bool { return get(AlarmID(cfg.Site, old)).State == Unacknowledged })

	// A second worker knows the last state at start, and every change.
	s2 := newService(t, cfg, nc, newClock(), nil)
	run(t, s2)
	runFindings(t, s2)
	eventually(t, "second worker knows the filler runs", func() bool { return s2.knownState("filling1", "filler") == "running" })
	pub.MachineState(analytics.MachineState{Time: t0.Add(3 * time.Minute), Line: "filling1", Machine: "filler", State: "stopped"})
	if err := pub.Notify(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*Service{s, s2} {
		eventually(t, "both workers know the filler stopped", func() bool { return w.knownState("filling1", "filler") == "stopped" })
	}
	eventually(t, "alarm suppressed again", func() bool { return get(id).State == SuppressedByDesign })
	// A redelivered older change (its sequence already recorded) changes nothing.
	if err := s2.applyRemoteMachineState(ctx, analytics.MachineState{Time: t0.Add(time.Minute), Line: "filling1", Machine: "filler", State: "running"}, 1); err != nil {
		t.Fatal(err)
	}
	if st := s2.knownState("filling1", "filler"); st != "stopped" {
		t.Fatalf("a redelivered older machine state replaced a newer one: %q", st)
	}
}
