package alerts

import (
	"reflect"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
)

var (
	t0     = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	policy = Policy{ShelveMax: time.Hour, SupervisorShelveMax: 4 * time.Hour, ChatterCount: 3, ChatterWindow: time.Minute}
)

// base returns an alarm in state s with the conditions that state implies.
func base(s State) Alarm {
	a := Alarm{ID: "site1/l1/m1/temp/limits/hi", Site: "site1", Line: "l1", Machine: "m1", Tag: "temp",
		Detector: "limits", Rule: "hi", Priority: High, State: s, Seq: 7, LastFinding: "f0", LastFindingAt: t0}
	switch s {
	case Unacknowledged, OutOfService:
		a.Active = true
	case Acknowledged:
		a.Active, a.AckedBy, a.AckedAt = true, "bob", t0
	case Latched:
		a.Latching, a.AckedBy, a.AckedAt = true, "bob", t0
	case Shelved:
		a.Active, a.ShelvedBy, a.ShelveReason, a.ShelvedAt, a.ShelvedUntil = true, "bob", "sensor swap", t0, t0.Add(time.Hour)
	case SuppressedByDesign:
		a.Suppressed = true
	}
	if s == OutOfService {
		a.OutOfServiceBy, a.OutOfServiceReason = "carol", "probe removed"
	}
	return a
}

func finding(active bool, id string, at time.Time) *analytics.Finding {
	return &analytics.Finding{ID: id, Time: at, Line: "l1", Machine: "m1", Tag: "temp", Detector: "limits", Rule: "hi",
		Active: active, Value: 9.1, Limit: 8, Message: "temp above hi"}
}

// defaultInput is a well-formed input of each event.
func defaultInput(ev Event) Input {
	in := Input{Event: ev, Role: RoleOperator, By: "alice"}
	switch ev {
	case EvActivate:
		in = Input{Event: ev, Role: RoleSystem, Finding: finding(true, "f1", t0.Add(time.Second))}
	case EvClear:
		in = Input{Event: ev, Role: RoleSystem, Finding: finding(false, "f1", t0.Add(time.Second))}
	case EvSuppress, EvUnsuppress, EvShelveExpire:
		in = Input{Event: ev, Role: RoleSystem}
	case EvShelve:
		in.Duration, in.Reason = 30*time.Minute, "probe being replaced"
	case EvOutOfService, EvInService:
		in.Role, in.By, in.Reason = RoleSupervisor, "carol", "maintenance"
	case EvComment:
		in.Reason = "checked on site"
	}
	return in
}

var allStates = []State{Normal, Unacknowledged, Acknowledged, RTNUnack, Latched, Shelved, SuppressedByDesign, OutOfService}
var allEvents = []Event{EvActivate, EvClear, EvAck, EvReset, EvShelve, EvUnshelve, EvShelveExpire, EvSuppress, EvUnsuppress, EvOutOfService, EvInService, EvComment}

// want is either a state (accepted) or a code (refused).
type want struct {
	to   State
	code string
}

func to(s State) want      { return want{to: s} }
func code(c string) want   { return want{code: c} }
func (w want) ok() bool    { return w.code == "" }
func (w want) str() string { return string(w.to) + w.code }

// matrix is every state × every event with the default input. Source of
// the states and transitions: ANSI/ISA-18.2-2016 §11, figure 5 (A–H).
var matrix = map[State]map[Event]want{
	Normal: {
		EvActivate: to(Unacknowledged), EvClear: code(CodeNoChange), EvAck: code(CodeIllegal), EvReset: code(CodeNotLatched),
		EvShelve: to(Shelved), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(SuppressedByDesign), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(Normal),
	},
	Unacknowledged: {
		EvActivate: code(CodeNoChange), EvClear: to(RTNUnack), EvAck: to(Acknowledged), EvReset: code(CodeNotLatched),
		EvShelve: to(Shelved), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(SuppressedByDesign), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(Unacknowledged),
	},
	Acknowledged: {
		EvActivate: code(CodeNoChange), EvClear: to(Normal), EvAck: code(CodeAlreadyAcknowledged), EvReset: code(CodeNotLatched),
		EvShelve: to(Shelved), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(SuppressedByDesign), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(Acknowledged),
	},
	RTNUnack: {
		EvActivate: to(Unacknowledged), EvClear: code(CodeNoChange), EvAck: to(Normal), EvReset: code(CodeNotLatched),
		EvShelve: to(Shelved), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(SuppressedByDesign), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(RTNUnack),
	},
	Latched: {
		EvActivate: to(Unacknowledged), EvClear: code(CodeNoChange), EvAck: code(CodeAlreadyAcknowledged), EvReset: to(Normal),
		EvShelve: to(Shelved), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(SuppressedByDesign), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(Latched),
	},
	Shelved: {
		EvActivate: code(CodeNoChange), EvClear: to(Shelved), EvAck: code(CodeIllegal), EvReset: code(CodeNotLatched),
		EvShelve: code(CodeAlreadyShelved), EvUnshelve: to(Unacknowledged), EvShelveExpire: to(Unacknowledged),
		EvSuppress: to(Shelved), EvUnsuppress: code(CodeNoChange), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(Shelved),
	},
	SuppressedByDesign: {
		EvActivate: to(SuppressedByDesign), EvClear: code(CodeNoChange), EvAck: code(CodeIllegal), EvReset: code(CodeNotLatched),
		EvShelve: code(CodeIllegal), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: code(CodeNoChange), EvUnsuppress: to(Normal), EvOutOfService: to(OutOfService),
		EvInService: code(CodeIllegal), EvComment: to(SuppressedByDesign),
	},
	OutOfService: {
		EvActivate: code(CodeNoChange), EvClear: to(OutOfService), EvAck: code(CodeIllegal), EvReset: code(CodeNotLatched),
		EvShelve: code(CodeIllegal), EvUnshelve: code(CodeNotShelved), EvShelveExpire: code(CodeNotShelved),
		EvSuppress: to(OutOfService), EvUnsuppress: code(CodeNoChange), EvOutOfService: code(CodeIllegal),
		EvInService: to(Unacknowledged), EvComment: to(OutOfService),
	},
}

func check(t *testing.T, a Alarm, in Input, now time.Time, w want) (Alarm, Transition) {
	t.Helper()
	before := a
	got, tr, err := Apply(a, in, now, policy)
	if !w.ok() {
		if ErrorCode(err) != w.code {
			t.Fatalf("%s on %s: got code %q (%v), want %q", in.Event, a.State, ErrorCode(err), err, w.code)
		}
		if !reflect.DeepEqual(got, before) || !reflect.DeepEqual(tr, Transition{}) {
			t.Fatalf("%s on %s refused but alarm changed:\n got %+v\nwant %+v", in.Event, a.State, got, before)
		}
		return got, tr
	}
	if err != nil {
		t.Fatalf("%s on %s: %v, want → %s", in.Event, a.State, err, w.to)
	}
	from := a.State
	if from == "" {
		from = Normal
	}
	if got.State != w.to || tr.To != w.to || tr.From != from {
		t.Fatalf("%s on %s: got %s (transition %s→%s), want %s", in.Event, a.State, got.State, tr.From, tr.To, w.to)
	}
	if got.Seq != a.Seq+1 || tr.Seq != got.Seq || tr.ID != TransitionID(a.ID, a.Seq+1) || tr.V != SchemaVersion || !tr.Time.Equal(now) || tr.Event != in.Event {
		t.Fatalf("%s on %s: bad transition %+v", in.Event, a.State, tr)
	}
	if personEvents[in.Event] && (tr.By != in.By || tr.Reason != in.Reason) {
		t.Fatalf("%s: person-caused transition must carry who (%q) and why (%q): %+v", in.Event, in.By, in.Reason, tr)
	}
	if !reflect.DeepEqual(tr.Alarm, got) {
		t.Fatalf("transition alarm differs from returned alarm")
	}
	return got, tr
}

func TestApplyEveryStateEveryEvent(t *testing.T) {
	now := t0.Add(2 * time.Hour) // past the shelve of base(Shelved)
	for _, s := range allStates {
		for _, ev := range allEvents {
			w, ok := matrix[s][ev]
			if !ok {
				t.Fatalf("matrix misses %s × %s", s, ev)
			}
			t.Run(string(s)+"/"+string(ev), func(t *testing.T) {
				check(t, base(s), defaultInput(ev), now, w)
			})
		}
	}
}

func TestApplyVariants(t *testing.T) {
	now := t0.Add(time.Minute)
	latching := func(s State) Alarm { a := base(s); a.Latching = true; return a }
	urgent := base(Unacknowledged)
	urgent.Priority = Urgent
	shelvedSuppressed := base(Shelved)
	shelvedSuppressed.Suppressed = true
	oosSuppressed := base(OutOfService)
	oosSuppressed.Suppressed = true
	shelvedInactive := base(Shelved)
	shelvedInactive.Active = false
	with := func(ev Event, f func(*Input)) Input { in := defaultInput(ev); f(&in); return in }
	cases := []struct {
		name string
		a    Alarm
		in   Input
		now  time.Time
		w    want
	}{
		{"latching ack then clear latches", latching(Acknowledged), defaultInput(EvClear), now, to(Latched)},
		{"latching rtn ack latches", latching(RTNUnack), defaultInput(EvAck), now, to(Latched)},
		{"shelve not yet expired", base(Shelved), defaultInput(EvShelveExpire), t0.Add(30 * time.Minute), code(CodeIllegal)},
		{"shelve expires exactly at until", base(Shelved), defaultInput(EvShelveExpire), t0.Add(time.Hour), to(Unacknowledged)},
		{"shelve expiry of cleared condition", shelvedInactive, defaultInput(EvShelveExpire), t0.Add(time.Hour), to(Normal)},
		{"unshelve while suppressed", shelvedSuppressed, defaultInput(EvUnshelve), now, to(SuppressedByDesign)},
		{"return to service while suppressed", oosSuppressed, defaultInput(EvInService), now, to(SuppressedByDesign)},
		{"shelve needs reason", base(Unacknowledged), with(EvShelve, func(i *Input) { i.Reason = "" }), now, code(CodeReasonRequired)},
		{"shelve needs duration", base(Unacknowledged), with(EvShelve, func(i *Input) { i.Duration = 0 }), now, code(CodeInvalid)},
		{"operator shelve too long", base(Unacknowledged), with(EvShelve, func(i *Input) { i.Duration = 2 * time.Hour }), now, code(CodeShelveTooLong)},
		{"supervisor shelve longer", base(Unacknowledged), with(EvShelve, func(i *Input) { i.Duration, i.Role, i.By = 2*time.Hour, RoleSupervisor, "carol" }), now, to(Shelved)},
		{"supervisor shelve too long", base(Unacknowledged), with(EvShelve, func(i *Input) { i.Duration, i.Role, i.By = 5*time.Hour, RoleSupervisor, "carol" }), now, code(CodeShelveTooLong)},
		{"operator may not shelve urgent", urgent, defaultInput(EvShelve), now, code(CodeNotAuthorised)},
		{"supervisor may shelve urgent", urgent, with(EvShelve, func(i *Input) { i.Role, i.By = RoleSupervisor, "carol" }), now, to(Shelved)},
		{"operator may not take out of service", base(Unacknowledged), with(EvOutOfService, func(i *Input) { i.Role = RoleOperator }), now, code(CodeNotAuthorised)},
		{"operator may not return to service", base(OutOfService), with(EvInService, func(i *Input) { i.Role = RoleOperator }), now, code(CodeNotAuthorised)},
		{"unknown person", base(Unacknowledged), with(EvAck, func(i *Input) { i.Role = "" }), now, code(CodeNotAuthorised)},
		{"ack needs identity", base(Unacknowledged), with(EvAck, func(i *Input) { i.By = "" }), now, code(CodeInvalid)},
		{"person cannot activate", base(Normal), with(EvActivate, func(i *Input) { i.Role, i.By = RoleSupervisor, "carol" }), now, code(CodeNotAuthorised)},
		{"person cannot expire a shelve", base(Shelved), with(EvShelveExpire, func(i *Input) { i.Role, i.By = RoleOperator, "alice" }), t0.Add(2 * time.Hour), code(CodeNotAuthorised)},
		{"out of service needs reason", base(Normal), with(EvOutOfService, func(i *Input) { i.Reason = "" }), now, code(CodeReasonRequired)},
		{"comment needs text", base(Normal), with(EvComment, func(i *Input) { i.Reason = "" }), now, code(CodeReasonRequired)},
		{"same finding again", base(Normal), with(EvActivate, func(i *Input) { i.Finding.ID = "f0" }), now, code(CodeDuplicate)},
		{"older finding", base(Normal), with(EvActivate, func(i *Input) { i.Finding.Time = t0.Add(-time.Second) }), now, code(CodeDuplicate)},
		{"activate without finding", base(Normal), with(EvActivate, func(i *Input) { i.Finding = nil }), now, code(CodeInvalid)},
		{"activate with inactive finding", base(Normal), with(EvActivate, func(i *Input) { i.Finding.Active = false }), now, code(CodeInvalid)},
		{"unknown event", base(Normal), Input{Event: "explode", Role: RoleSystem}, now, code(CodeInvalid)},
		{"flood events are not alarm inputs", base(Normal), Input{Event: EvFloodStart, Role: RoleSystem}, now, code(CodeInvalid)},
		{"zero state is normal", func() Alarm { a := base(Normal); a.State = ""; return a }(), defaultInput(EvActivate), now, to(Unacknowledged)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { check(t, c.a, c.in, c.now, c.w) })
	}
}

func TestApplyRecordsWhoWhatWhen(t *testing.T) {
	a := base(Normal)
	in := defaultInput(EvActivate)
	in.Finding.Evidence = map[string]float64{"mean": 9}
	in.Finding.Batch = "B42"
	a, _ = check(t, a, in, t0.Add(2*time.Second), to(Unacknowledged))
	if a.Activations != 1 || !a.ActivatedAt.Equal(in.Finding.Time) || a.Value != 9.1 || a.Limit != 8 || a.Batch != "B42" || a.Evidence["mean"] != 9 || a.LastFinding != "f1" {
		t.Fatalf("activation not recorded: %+v", a)
	}
	a, _ = check(t, a, defaultInput(EvAck), t0.Add(3*time.Second), to(Acknowledged))
	if a.AckedBy != "alice" || !a.AckedAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("ack not recorded: %+v", a)
	}
	sh := defaultInput(EvShelve)
	a, _ = check(t, a, sh, t0.Add(4*time.Second), to(Shelved))
	if a.ShelvedBy != "alice" || a.ShelveReason != sh.Reason || !a.ShelvedUntil.Equal(t0.Add(4*time.Second+30*time.Minute)) {
		t.Fatalf("shelve not recorded: %+v", a)
	}
	a, _ = check(t, a, defaultInput(EvUnshelve), t0.Add(5*time.Second), to(Unacknowledged))
	if !a.ShelvedUntil.IsZero() || a.ShelvedBy != "" {
		t.Fatalf("unshelve left shelve fields: %+v", a)
	}
}

func TestChattering(t *testing.T) {
	a := base(Normal)
	for i := range 3 {
		at := t0.Add(time.Duration(i*10+1) * time.Second)
		a, _ = check(t, a, Input{Event: EvActivate, Role: RoleSystem, Finding: finding(true, "on"+string(rune('a'+i)), at)}, at, to(Unacknowledged))
		if got, want := a.Chattering, i == 2; got != want {
			t.Fatalf("after %d activations chattering=%t, want %t", i+1, got, want)
		}
		off := at.Add(time.Second)
		a, _ = check(t, a, Input{Event: EvClear, Role: RoleSystem, Finding: finding(false, "off"+string(rune('a'+i)), off)}, off, to(RTNUnack))
	}
	// An activation long after the window ends the chattering.
	late := t0.Add(time.Hour)
	a, _ = check(t, a, Input{Event: EvActivate, Role: RoleSystem, Finding: finding(true, "late", late)}, late, to(Unacknowledged))
	if a.Chattering || len(a.RecentActivations) != 1 || a.Activations != 4 {
		t.Fatalf("chattering should end: %+v", a)
	}
}

// TestRefusalTimesInSiteZone: a refusal that names a time (already
// acknowledged at, shelved until) writes it with Policy.Time, the site
// zone 24-hour and labelled; without it, UTC.
func TestRefusalTimesInSiteZone(t *testing.T) {
	dublin, err := time.LoadLocation("Europe/Dublin")
	if err != nil {
		t.Fatal(err)
	}
	zoned := policy
	zoned.Time = func(x time.Time) string { return x.In(dublin).Format("2006-01-02 15:04:05 MST") }
	for _, c := range []struct {
		p    Policy
		s    State
		in   Input
		want string
	}{
		{zoned, Acknowledged, Input{Event: EvAck, Role: RoleOperator, By: "alice"},
			"alarm site1/l1/m1/temp/limits/hi was already acknowledged by bob at 2026-03-01 08:00:00 GMT"},
		{zoned, Shelved, Input{Event: EvShelve, Role: RoleOperator, By: "alice", Reason: "x", Duration: time.Minute},
			"alarm site1/l1/m1/temp/limits/hi is already shelved by bob until 2026-03-01 09:00:00 GMT"},
		{policy, Shelved, Input{Event: EvShelveExpire, Role: RoleSystem},
			"shelve of site1/l1/m1/temp/limits/hi runs until 2026-03-01 09:00:00 UTC"},
	} {
		_, _, err := Apply(base(c.s), c.in, t0, c.p)
		var e *Error
		if !asError(err, &e) || e.Message != c.want {
			t.Errorf("%s on %s: %v, want message %q", c.in.Event, c.s, err, c.want)
		}
	}
}
