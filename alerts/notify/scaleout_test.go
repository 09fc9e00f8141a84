package notify_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

// startStoppable runs a notifier until stop is called (a worker that
// goes away) or the test ends.
func (r *rig) startStoppable(t testing.TB, alarms config.Alarms) (stop func()) {
	t.Helper()
	n, err := notify.New(context.Background(), notify.Options{JS: r.js, Alarms: alarms, Clock: r.clk,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Retry: notify.Retry{Base: time.Second, Max: 8 * time.Second, Attempts: 4}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// A worker that armed an escalation goes away; the worker that remains
// takes the escalation over from the dedupe bucket and sends it once,
// at the time it was due.
func TestEscalationTakenOverIntegration(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(t)
	rx := newReceiver(t)
	route := webhookRoute("urgent", rx.srv.URL)
	route.EscalateAfter = 10 * time.Minute
	alarms := config.Alarms{Routes: []config.Route{route}}
	stopA := r.startStoppable(t, alarms)
	a := testAlarm("L1", "coldroom", alerts.Urgent)
	r.svc.activate(&a, t0)
	if got := rx.next(t); got.p.Escalation {
		t.Fatal("first notification must not be an escalation")
	}
	waitTimers(t, r.clk, 1)
	r.drained(t)
	stopA() // its timer stops with it
	if n := r.clk.Waiters(); n != 0 {
		t.Fatalf("%d timers after worker A stopped", n)
	}
	r.clk.Advance(5 * time.Minute)
	r.startStoppable(t, alarms) // worker B
	waitTimers(t, r.clk, 1)     // B armed A's escalation
	r.clk.Advance(5*time.Minute - time.Second)
	if len(rx.got) != 0 {
		t.Fatal("escalated early")
	}
	r.clk.Advance(time.Second)
	got := rx.next(t)
	if !got.p.Escalation || got.p.Alarm.ID != a.ID {
		t.Fatalf("after the deadline got %s, want the escalation of %s", got.body, a.ID)
	}
	// Sent: its record is gone, so no worker starting later escalates again.
	kv, err := r.js.KeyValue(context.Background(), notify.DedupeBucket)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "escalation record deleted once sent", func() bool {
		kl, err := kv.ListKeysFiltered(context.Background(), "escalation.>")
		if err != nil {
			return false
		}
		n := 0
		for range kl.Keys() {
			n++
		}
		return n == 0
	})
	if len(rx.got) != 0 {
		t.Fatalf("%d more notifications after the escalation", len(rx.got))
	}
}

// Two alerts workers and two notifiers on one flood: exactly one flood
// summary on ALARMS (flood_start, and one flood_end when it is over) and
// one flood webhook, as with one worker (the issue measured 2 and 2).
func TestFloodTwoWorkersIntegration(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	srv := testenv.NATS(t)
	conn := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	rx := newReceiver(t)
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MoveDataDir(t.TempDir())
	cfg.Alarms.OnDelay, cfg.Alarms.OffDelay = 0, 0
	cfg.Alarms.Flood = config.Flood{Threshold: 3, EndBelow: 2, Window: 10 * time.Minute}
	cfg.Alarms.Routes = []config.Route{webhookRoute("ops", rx.srv.URL)}
	clk := clock.NewFake(t0)
	var ws []*alerts.Service
	for range 2 {
		s, err := alerts.New(cfg, conn(), alerts.Options{Clock: clk, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.RunFindings(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunFindings: %v", err)
			}
		})
		ws = append(ws, s)
	}
	r := &rig{clk: clk}
	r.js, _ = jetstreamOf(t, conn())
	for range 2 {
		r.startStoppable(t, cfg.Alarms)
	}
	// Eight alarms of one line within a minute.
	pub := &engine.Publisher{JS: r.js, Site: cfg.Site}
	for i := range 8 {
		f := analytics.Finding{Time: t0.Add(time.Duration(i) * time.Second), Line: "filling1", Machine: "filler",
			Tag: "t" + string(rune('a'+i)), Detector: "limits", Active: true, Value: 2, Limit: 1}
		if err := pub.Notify(context.Background(), []analytics.Finding{f}); err != nil {
			t.Fatal(err)
		}
	}
	kinds := map[string]int{}
	for range 3 + 1 { // three alarms before the flood, then its summary
		kinds[rx.next(t).p.Kind]++
	}
	eventually(t, "eight activations and the flood start on ALARMS", func() bool {
		return len(floodEvents(t, r)) == 1 && countEvent(t, r, alerts.EvActivate) == 8
	})
	r.drained(t)
	if kinds[notify.KindTransition] != 3 || kinds[notify.KindFloodStart] != 1 || len(rx.got) != 0 {
		t.Fatalf("webhooks %v and %d more, want 3 transitions and 1 flood start", kinds, len(rx.got))
	}
	// The flood is over once the window passes; both workers check.
	clk.Advance(11 * time.Minute)
	var wg sync.WaitGroup
	for _, s := range ws {
		wg.Go(func() { s.Tick(context.Background()) })
	}
	wg.Wait()
	for _, s := range ws {
		s.Tick(context.Background())
	}
	evs := floodEvents(t, r)
	if len(evs) != 2 || evs[0] != alerts.EvFloodStart || evs[1] != alerts.EvFloodEnd {
		t.Fatalf("flood summaries on ALARMS: %v, want one start and one end", evs)
	}
}

func floodEvents(t testing.TB, r *rig) []alerts.Event {
	var out []alerts.Event
	for _, tr := range transitions(t, r) {
		if tr.Alarm.Detector == "flood" {
			out = append(out, tr.Event)
		}
	}
	return out
}

func countEvent(t testing.TB, r *rig, ev alerts.Event) int {
	n := 0
	for _, tr := range transitions(t, r) {
		if tr.Event == ev {
			n++
		}
	}
	return n
}

func transitions(t testing.TB, r *rig) []alerts.Transition {
	t.Helper()
	trs, err := alerts.NewReader(r.js).Transitions(context.Background(), alerts.TransitionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return trs
}

// eventually polls cond (real servers deliver asynchronously) for up to 20 s.
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

func jetstreamOf(t testing.TB, nc *nats.Conn) (jetstream.JetStream, error) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js, nil
}
