package alerts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestSystemFindingIDsAndPriority(t *testing.T) {
	cfg := demoConfig(t)
	c := health.Condition{V: 1, Site: cfg.Site, Source: health.SourceCollector, Name: health.CommLost, Line: "tableting1", Machine: "press",
		Active: true, Priority: health.High, Reason: "opc.tcp://x: EOF", Since: t0}
	f := SystemFinding(c)
	if got, want := AlarmID(cfg.Site, f), cfg.Site+"/tableting1/press/opcua_comm_lost/system"; got != want {
		t.Errorf("alarm id %q, want %q", got, want)
	}
	if f.ID != SystemFinding(c).ID {
		t.Error("the same change must give the same finding id (republish = duplicate)")
	}
	if p := PriorityOf(cfg, f); p != High {
		t.Errorf("priority %s, want high from the condition", p)
	}
	if !strings.Contains(f.Message, "OPC UA communication lost") || !strings.Contains(f.Message, "EOF") {
		t.Errorf("message %q must name the condition and the reason", f.Message)
	}
	site := SystemFinding(health.Condition{Site: cfg.Site, Source: health.SourceStore, Name: health.SpoolInUse, Active: true, Priority: health.Low, Since: t0})
	if got, want := AlarmID(cfg.Site, site), cfg.Site+"/_system/store/spool_in_use/system"; got != want {
		t.Errorf("site-wide alarm id %q, want %q", got, want)
	}
	if p := PriorityOf(cfg, site); p != Low {
		t.Errorf("spool in use priority %s, want low", p)
	}
	clear := c
	clear.Active, clear.Since = false, t0.Add(time.Minute)
	if SystemFinding(clear).ID == f.ID {
		t.Error("a clear must have its own finding id")
	}
}

// runHealth runs s.RunHealth until the returned stop is called.
func runHealth(t testing.TB, s *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.RunHealth(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunHealth: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func waitAlarm(t *testing.T, s *Service, id string, ok func(Alarm) bool) Alarm {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a, _, err := s.Store().Get(context.Background(), id)
		if err == nil && ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarm %s: %+v (err %v): condition not reached", id, a, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a remote state, not timing
	}
}

// A condition reported by a component travels over stream HEALTH and
// becomes an alarm with the ISA-18.2 lifecycle of any other; a change
// published while no alerts worker runs is applied when one starts.
func TestSystemConditionsBecomeAlarmsIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: embedded NATS")
	}
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	clock := newClock()
	rec := &recorder{}
	s := newService(t, cfg, nc, clock, rec)
	stopHealth := runHealth(t, s)

	reg, err := health.New(health.Options{Site: cfg.Site, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	pctx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	go reg.Run(pctx, health.JetStreamPublisher(js), -1)

	lost := health.Condition{Source: health.SourceCollector, Name: health.CommLost, Line: "tableting1", Machine: "press",
		Active: true, Priority: health.High, Reason: "opc.tcp://127.0.0.1:4841: secure channel lost"}
	reg.Report(lost)
	id := cfg.Site + "/tableting1/press/opcua_comm_lost/system"
	a := waitAlarm(t, s, id, func(a Alarm) bool { return a.State == Unacknowledged })
	if a.Priority != High || a.Detector != SystemDetector || !strings.Contains(a.Message, "secure channel lost") {
		t.Errorf("comm-lost alarm %+v: want high priority, detector system, the reason in the message", a)
	}
	// Republishing the active condition (periodic resync, reconnect) is no new transition.
	reg.Resync()
	for reg.Pending() > 0 {
		time.Sleep(10 * time.Millisecond) // waiting for the publisher, not timing
	}
	if r := s.Execute(ctx, VerbAck, signedAs(t, s, "alice", VerbAck, Command{Alarm: id})); !r.OK {
		t.Fatalf("ack of a system alarm: %+v", r)
	}
	clock.Advance(time.Minute)
	lost.Active = false
	reg.Report(lost)
	waitAlarm(t, s, id, func(a Alarm) bool { return a.State == Normal && !a.Active })

	// The alarm service is down while InfluxDB starts refusing writes.
	stopHealth()
	clock.Advance(time.Minute)
	reg.Report(health.Condition{Source: health.SourceStore, Name: health.InfluxWrite, Active: true, Priority: health.High,
		Reason: `write to http://127.0.0.1:8086: 404 Not Found: database not found: "linewatch"`})
	for reg.Pending() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	s2 := newService(t, cfg, nc, clock, rec)
	runHealth(t, s2)
	dbID := cfg.Site + "/_system/store/influxdb_write_failing/system"
	db := waitAlarm(t, s2, dbID, func(a Alarm) bool { return a.Active })
	if !strings.Contains(db.Message, "database not found") {
		t.Errorf("InfluxDB alarm message %q must carry the reason", db.Message)
	}

	var events []string
	for _, tr := range streamTransitions(t, js) {
		if tr.Alarm.ID == id {
			events = append(events, string(tr.Event))
		}
	}
	if got, want := strings.Join(events, ","), "activate,ack,clear"; got != want {
		t.Errorf("comm-lost transitions on ALARMS: %s, want %s (each once)", got, want)
	}
	if _, err := js.Stream(ctx, bus.StreamHealth); err != nil {
		t.Errorf("stream %s: %v", bus.StreamHealth, err)
	}
}

// Every condition a reporter can raise has the operator's text, not just
// its name (nats_spool_dropping had none when it was added).
func TestEverySystemConditionHasText(t *testing.T) {
	for _, name := range health.Names {
		if systemText[name] == "" {
			t.Errorf("condition %s has no alarm text in systemText", name)
		}
	}
}
