package alerts

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

func alarmsInStream(t testing.TB, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamAlarms)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestFindingsBecomeTransitionsOnce(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	rec := &recorder{}
	clock := newClock()
	s := newService(t, cfg, nc, clock, rec)

	on := fnd("coldroom1", "coldroom", "temp_probe1", true, t0)
	off := fnd("coldroom1", "coldroom", "temp_probe1", false, t0.Add(time.Minute))
	if err := s.Notify(ctx, []analytics.Finding{on}); err != nil {
		t.Fatal(err)
	}
	// Replays: the same finding again, and the whole sequence twice.
	for range 2 {
		if err := s.Notify(ctx, []analytics.Finding{on, off, on, off}); err != nil {
			t.Fatal(err)
		}
	}
	trs := streamTransitions(t, js)
	if n := alarmsInStream(t, js); n != 2 || len(trs) != 2 {
		t.Fatalf("want 2 transitions in ALARMS, got %d messages:\n%s", n, summary(trs))
	}
	id := "demo-plant/coldroom1/coldroom/temp_probe1/limits/hi"
	a, c := trs[0], trs[1]
	if a.ID != id+"#1" || a.Event != EvActivate || a.To != Unacknowledged || a.V != 1 || a.Alarm.Priority != Urgent ||
		a.Alarm.Value != 9.5 || a.Alarm.Limit != 8 || a.Alarm.Message != "temp_probe1 above hi" {
		t.Fatalf("activation: %+v", a)
	}
	if c.ID != id+"#2" || c.Event != EvClear || c.From != Unacknowledged || c.To != RTNUnack {
		t.Fatalf("clear: %+v", c)
	}
	if got := rec.all(); len(got) != 2 {
		t.Fatalf("OnTransition called %d times, want 2", len(got))
	}
	// Published on the line's priority subject.
	stream, _ := js.Stream(ctx, bus.StreamAlarms)
	m, err := stream.GetLastMsgForSubject(ctx, bus.AlarmSubject("demo-plant", "coldroom1", "urgent"))
	if err != nil || !strings.Contains(string(m.Data), `"v":1`) {
		t.Fatalf("subject: %v", err)
	}
	st, _, err := s.Store().Get(ctx, id)
	if err != nil || st.State != RTNUnack || st.Seq != 2 || st.LastFinding != off.ID {
		t.Fatalf("stored state: %+v %v", st, err)
	}
	// An older finding arriving late changes nothing.
	late := fnd("coldroom1", "coldroom", "temp_probe1", true, t0.Add(30*time.Second))
	if err := s.Notify(ctx, []analytics.Finding{late}); err != nil || alarmsInStream(t, js) != 2 {
		t.Fatalf("late finding: %v", err)
	}
}

func TestPriorityFromConfig(t *testing.T) {
	cfg := demoConfig(t)
	cases := []struct {
		f    analytics.Finding
		want Priority
	}{
		{fnd("coldroom1", "coldroom", "temp_probe2", true, t0), Urgent},                                           // rule tags
		{analytics.Finding{Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "cusum"}, High},     // rule detectors
		{analytics.Finding{Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "limits"}, Medium},  // default
		{analytics.Finding{Line: "coldroom1", Machine: "coldroom", Tag: "temp_probe1", Detector: "ewma"}, Urgent}, // first rule wins
	}
	for _, c := range cases {
		if got := PriorityOf(cfg, c.f); got != c.want {
			t.Errorf("%s: got %s, want %s", c.f.Key(), got, c.want)
		}
	}
	cfg.Lines[0].Machines[0].Tags[0].Alarm.Priority = "low" // tag override beats rules
	if got := PriorityOf(cfg, analytics.Finding{Line: "filling1", Machine: "filler", Tag: "fill_weight", Detector: "cusum"}); got != Low {
		t.Errorf("tag override: got %s", got)
	}
}

func TestCommandsRepliesAndAudit(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	clock := newClock()
	s := newService(t, cfg, nc, clock, nil)
	run(t, s)
	f := fnd("filling1", "filler", "fill_weight", true, t0)
	if err := s.Notify(ctx, []analytics.Finding{f}); err != nil {
		t.Fatal(err)
	}
	id := AlarmID(cfg.Site, f)
	cases := []struct {
		verb string
		who  string
		c    Command
		code string
		want State
	}{
		{VerbAck, "alice", Command{Alarm: "demo-plant/nope/x/y/limits"}, CodeUnknownAlarm, ""},
		{VerbAck, "vera", Command{Alarm: id}, CodeNotAuthorised, ""},
		{VerbShelve, "alice", Command{Alarm: id, Duration: "30m"}, CodeReasonRequired, ""},
		{VerbShelve, "alice", Command{Alarm: id, Duration: "9h", Reason: "x"}, CodeShelveTooLong, ""},
		{VerbShelve, "alice", Command{Alarm: id, Duration: "soon", Reason: "x"}, CodeInvalid, ""},
		{"explode", "alice", Command{Alarm: id}, CodeInvalid, ""},
		{VerbOutOfService, "alice", Command{Alarm: id, Reason: "x"}, CodeNotAuthorised, ""},
		{VerbComment, "bob", Command{Alarm: id, Comment: "operator on the way"}, CodeOK, Unacknowledged},
		{VerbAck, "alice", Command{Alarm: id, Reason: "seen"}, CodeOK, Acknowledged},
		{VerbAck, "bob", Command{Alarm: id}, CodeAlreadyAcknowledged, ""},
		{VerbShelve, "alice", Command{Alarm: id, Duration: "30m", Reason: "scale recalibration"}, CodeOK, Shelved},
		{VerbShelve, "alice", Command{Alarm: id, Duration: "30m", Reason: "again"}, CodeAlreadyShelved, ""},
		{VerbUnshelve, "bob", Command{Alarm: id, Reason: "done"}, CodeOK, Unacknowledged},
		{VerbReset, "bob", Command{Alarm: id}, CodeNotLatched, ""},
		{VerbOutOfService, "carol", Command{Alarm: id, Reason: "scale removed"}, CodeOK, OutOfService},
		{VerbReturnToService, "carol", Command{Alarm: id, Reason: "scale back"}, CodeOK, Unacknowledged},
	}
	for _, c := range cases {
		r := command(t, nc, c.verb, signedAs(t, s, c.who, c.verb, c.c))
		if r.Code != c.code || r.OK != (c.code == CodeOK) || r.V != SchemaVersion || r.Message == "" {
			t.Fatalf("%s %+v: got %+v, want %s", c.verb, c.c, r, c.code)
		}
		if c.code == CodeOK && (r.Alarm == nil || r.Alarm.State != c.want) {
			t.Fatalf("%s: alarm %+v, want state %s", c.verb, r.Alarm, c.want)
		}
	}
	// Malformed bodies are answered, not dropped.
	m, err := nc.Request(bus.CmdSubject(VerbAck), []byte(`{"v":2,"alarm":`), 5*time.Second)
	if err != nil || !strings.Contains(string(m.Data), CodeInvalid) {
		t.Fatalf("bad JSON: %v %s", err, m.Data)
	}

	es := auditEntries(t, js)
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Old+"→"+e.New)
	}
	want := []string{
		"vera alarm.ack.denied →user vera has role \"viewer\"",
		"alice alarm.shelve.denied →reason_required: shelving alarm",
		"alice alarm.out_of_service.denied →",
		"bob alarm.comment unacknowledged→unacknowledged",
		"alice alarm.ack unacknowledged→acknowledged",
		"alice alarm.shelve acknowledged→shelved until 2026-03-01T08:30:00Z",
		"bob alarm.unshelve shelved→unacknowledged",
		"carol alarm.out_of_service unacknowledged→out_of_service",
		"carol alarm.return_to_service out_of_service→unacknowledged",
	}
	if len(got) != len(want) {
		t.Fatalf("audit:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("audit entry %d: got %q, want %q", i+1, got[i], want[i])
		}
	}
	if es[5].Reason != "scale recalibration" || es[5].Object != id+"#4" {
		t.Fatalf("shelve audit entry: %+v", es[5])
	}
}

func TestConcurrentAcksOneWins(t *testing.T) {
	srv := testenv.NATS(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	conn := func() *nats.Conn {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// Two workers share the command queue group; two clients ack at once.
	w1 := newService(t, cfg, conn(), newClock(), nil)
	w2 := newService(t, cfg, conn(), newClock(), nil)
	run(t, w1)
	run(t, w2)
	const alarms = 8
	var ids []string
	for i := range alarms {
		f := fnd("filling1", "filler", "tag"+string(rune('a'+i)), true, t0)
		if err := w1.Notify(ctx, []analytics.Finding{f}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, AlarmID(cfg.Site, f))
	}
	c1, c2 := conn(), conn()
	for _, id := range ids {
		var wg sync.WaitGroup
		replies := make([]Reply, 2)
		for i, who := range []string{"alice", "bob"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = command(t, []*nats.Conn{c1, c2}[i], VerbAck, signedAs(t, w1, who, VerbAck, Command{Alarm: id}))
			}()
		}
		wg.Wait()
		ok, already := 0, 0
		for _, r := range replies {
			switch r.Code {
			case CodeOK:
				ok++
			case CodeAlreadyAcknowledged:
				already++
			}
		}
		if ok != 1 || already != 1 {
			t.Fatalf("%s: replies %+v, want one ok and one already_acknowledged", id, replies)
		}
	}
	nc := conn()
	js, _ := jetstream.New(nc)
	acks := 0
	for _, tr := range streamTransitions(t, js) {
		if tr.Event == EvAck {
			acks++
		}
	}
	if acks != alarms {
		t.Fatalf("%d ack transitions, want %d", acks, alarms)
	}
}

func TestShelveExpiresOnTheClock(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	clock := newClock()
	s := newService(t, demoConfig(t), nc, clock, nil)
	f := fnd("filling1", "filler", "fill_weight", true, t0)
	s.Notify(ctx, []analytics.Finding{f})
	id := AlarmID("demo-plant", f)
	if r := s.Execute(ctx, VerbShelve, signedAs(t, s, "alice", VerbShelve, Command{Alarm: id, Duration: "30m", Reason: "recalibration"})); !r.OK {
		t.Fatal(r.Message)
	}
	clock.Advance(29 * time.Minute)
	s.Tick(ctx)
	if a, _, _ := s.Store().Get(ctx, id); a.State != Shelved {
		t.Fatalf("shelve ended early: %s", a.State)
	}
	// The condition clears while shelved, then the shelve runs out: the
	// alarm returns to the state the condition implies (normal).
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", "fill_weight", false, t0.Add(10*time.Minute))})
	clock.Advance(time.Minute)
	s.Tick(ctx)
	a, _, _ := s.Store().Get(ctx, id)
	if a.State != Normal || !a.ShelvedUntil.IsZero() {
		t.Fatalf("after expiry: %+v", a)
	}
	trs := streamTransitions(t, js)
	last := trs[len(trs)-1]
	if last.Event != EvShelveExpire || last.From != Shelved || last.To != Normal || last.By != "" {
		t.Fatalf("expiry transition: %+v", last)
	}
}

func TestSuppressionByDesign(t *testing.T) {
	nc, _ := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)
	s.SetMachineState("filling1", "filler", "cip")
	on := fnd("filling1", "filler", "fill_weight", true, t0)
	s.Notify(ctx, []analytics.Finding{on})
	id := AlarmID(cfg.Site, on)
	if a, _, _ := s.Store().Get(ctx, id); a.State != SuppressedByDesign || !a.Active {
		t.Fatalf("during CIP: %+v", a)
	}
	// Back to production: the suppression lifts (in Run, or at the latest
	// before the next finding), the still-active condition is annunciated
	// (unacknowledged) and then clears unacknowledged.
	s.SetMachineState("filling1", "filler", "running")
	s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", "fill_weight", false, t0.Add(time.Minute))})
	if a, _, _ := s.Store().Get(ctx, id); a.State != RTNUnack || a.Suppressed || a.Seq != 4 {
		t.Fatalf("after CIP: %+v", a)
	}
}

func TestWorkerRestartKeepsState(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	clock := newClock()
	s1 := newService(t, cfg, nc, clock, nil)
	on := fnd("tableting1", "press", "hardness", true, t0)
	s1.Notify(ctx, []analytics.Finding{on})
	id := AlarmID(cfg.Site, on)
	s1.Execute(ctx, VerbAck, signedAs(t, s1, "alice", VerbAck, Command{Alarm: id}))
	before, _, _ := s1.Store().Get(ctx, id)

	s2 := newService(t, cfg, nc, clock, nil) // a new worker process
	after, _, err := s2.Store().Get(ctx, id)
	if err != nil || after.State != Acknowledged || after.Seq != before.Seq || after.AckedBy != "alice" {
		t.Fatalf("after restart: %+v %v", after, err)
	}
	s2.Notify(ctx, []analytics.Finding{on}) // redelivered after the restart
	if r := s2.Execute(ctx, VerbAck, signedAs(t, s2, "bob", VerbAck, Command{Alarm: id})); r.Code != CodeAlreadyAcknowledged {
		t.Fatalf("ack after restart: %+v", r)
	}
	if n := alarmsInStream(t, js); n != 2 {
		t.Fatalf("%d transitions, want 2", n)
	}
}

func TestFloodSummary(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	cfg.Alarms.Flood.Threshold, cfg.Alarms.Flood.EndBelow, cfg.Alarms.Flood.Window = 3, 2, 10*time.Minute
	clock := newClock()
	rec := &recorder{}
	s := newService(t, cfg, nc, clock, rec)
	for i := range 5 {
		if s.Flooding("filling1") != (i > 3) {
			t.Fatalf("after %d alarms flooding=%t", i, s.Flooding("filling1"))
		}
		s.Notify(ctx, []analytics.Finding{fnd("filling1", "filler", "t"+string(rune('a'+i)), true, t0)})
		clock.Advance(time.Second)
	}
	if !s.Flooding("filling1") || s.Flooding("coldroom1") {
		t.Fatal("filling1 should flood, coldroom1 not")
	}
	clock.Advance(10 * time.Minute)
	s.Tick(ctx)
	if s.Flooding("filling1") {
		t.Fatal("flood should have ended")
	}
	var floods []Transition
	for _, tr := range streamTransitions(t, js) {
		if tr.Alarm.Detector == "flood" {
			floods = append(floods, tr)
		}
	}
	if len(floods) != 2 || floods[0].Event != EvFloodStart || floods[1].Event != EvFloodEnd || floods[0].Alarm.ID != "demo-plant/filling1/_flood" || floods[0].Alarm.Value != 4 {
		t.Fatalf("flood transitions:\n%s", summary(floods))
	}
	if n := len(rec.all()); n != 7 {
		t.Fatalf("hook saw %d transitions, want 5 alarms + 2 flood", n)
	}
}

func TestDecodeCommand(t *testing.T) {
	if _, err := DecodeCommand([]byte(`{"v":2,"alarm":"a","token":"t","extra":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := DecodeCommand([]byte(`{"v":2,"alarm":"a","token":"t","operator":"carol"}`)); err == nil || !strings.Contains(err.Error(), "operator") {
		t.Fatalf("operator field in a v=2 command: %v", err)
	}
	if _, err := DecodeCommand([]byte(`{"v":1,"alarm":"a","operator":"o"}`)); err == nil || !strings.Contains(err.Error(), "v=1") {
		t.Fatalf("version: %v", err)
	}
	if _, err := DecodeCommand([]byte(`{"v":2,"alarm":"a"}`)); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("no token: %v", err)
	}
	c, err := DecodeCommand([]byte(`{"v":2,"alarm":"a","token":"t","nonce":"n","proof":"p","duration":"30m","reason":"r"}`))
	if err != nil || c.Duration != "30m" || c.Reason != "r" || c.Token != "t" || c.Nonce != "n" || c.Proof != "p" {
		t.Fatalf("%+v %v", c, err)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"v":2,"alarm":"site/l/m/t/limits","token":"lw1.x.y","nonce":"abc","proof":"p","reason":"x","duration":"30m"}`))
	f.Add([]byte(`{"v":1,"alarm":"a","operator":"alice"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err == nil && (c.V != CommandVersion || c.Alarm == "" || c.Token == "") {
			t.Fatalf("accepted invalid command %+v", c)
		}
	})
}

func TestKey(t *testing.T) {
	if got := Key("site1/l1/m.1/temp probe/limits"); got != "site1.l1.m=2E1.temp=20probe.limits" {
		t.Fatalf("key %q", got)
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"", " ", "scale recalibration", "\u200b", " a\tb \n", "\x1b[31m", "x\u202e", "\u3164"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := cleanText("reason", s)
		if err != nil {
			return
		}
		if out != strings.TrimFunc(out, blank) || !utf8.ValidString(out) || strings.ContainsFunc(out, func(r rune) bool { return r != '\n' && r != '\t' && unicode.IsControl(r) }) {
			t.Fatalf("cleanText(%q) = %q", s, out)
		}
		if again, _ := cleanText("reason", out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", s, out, again)
		}
	})
}
