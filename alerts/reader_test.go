package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestDecoders(t *testing.T) {
	tr := Transition{V: SchemaVersion, ID: "s/l/m/t/limits/hi#1", Seq: 1, Time: t0, Event: EvActivate, From: Normal, To: Unacknowledged,
		Alarm: Alarm{ID: "s/l/m/t/limits/hi", State: Unacknowledged, Active: true}}
	b, _ := json.Marshal(tr)
	got, err := DecodeTransition(b)
	if err != nil || got.ID != tr.ID || got.Alarm.State != Unacknowledged || !got.Time.Equal(t0) {
		t.Fatalf("transition: %+v, %v", got, err)
	}
	rec, _ := json.Marshal(record{Alarm: tr.Alarm, V: SchemaVersion, Pending: []Transition{tr}})
	if a, err := DecodeAlarm(rec); err != nil || a.ID != tr.Alarm.ID || !a.Active {
		t.Fatalf("alarm: %+v, %v", a, err)
	}
	// Unversioned values (an Alarm as written by stand-ins and older tools) read as version 1.
	bare, _ := json.Marshal(tr.Alarm)
	if a, err := DecodeAlarm(bare); err != nil || a.ID != tr.Alarm.ID {
		t.Fatalf("unversioned alarm: %+v, %v", a, err)
	}
	for name, c := range map[string]struct {
		dec  func([]byte) error
		in   string
		want string
	}{
		"transition newer":      {decT, `{"v":2,"id":"a#1","alarm":{"id":"a"}}`, "upgrade"},
		"transition not JSON":   {decT, `{"v":1`, "alarm transition"},
		"transition without id": {decT, `{"v":1,"alarm":{"id":"a"}}`, "not a transition"},
		"alarm newer":           {decA, `{"v":9,"id":"a"}`, "upgrade"},
		"alarm without id":      {decA, `{"v":1,"state":"normal"}`, "without id"},
	} {
		err := c.dec([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
		if strings.Contains(name, "newer") && !errors.Is(err, ErrNewerSchema) {
			t.Errorf("%s: %v is not ErrNewerSchema", name, err)
		}
	}
}

func decT(b []byte) error { _, err := DecodeTransition(b); return err }
func decA(b []byte) error { _, err := DecodeAlarm(b); return err }

// Whatever ALARMS or the bucket holds, the decoders never panic, and a
// decoded value has an id and a version this reader knows.
func FuzzDecoders(f *testing.F) {
	tr := Transition{V: 1, ID: "a#1", Alarm: Alarm{ID: "a", Evidence: map[string]float64{"x": 1}}}
	b, _ := json.Marshal(tr)
	f.Add(b)
	r, _ := json.Marshal(record{Alarm: tr.Alarm, V: 1, Pending: []Transition{tr}})
	f.Add(r)
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tr, err := DecodeTransition(b); err == nil && (tr.ID == "" || tr.Alarm.ID == "" || tr.V > SchemaVersion) {
			t.Fatalf("accepted %q as %+v", b, tr)
		}
		if a, err := DecodeAlarm(b); err == nil && a.ID == "" {
			t.Fatalf("accepted %q as %+v", b, a)
		}
	})
}

// The Reader against a real worker: Get, List, Watch, Transitions
// (filtered by line, strict about what does not decode) and Follow.
func TestReaderIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	rd := NewReader(js)
	if _, err := rd.List(ctx); !errors.Is(err, ErrNoAlarmState) {
		t.Fatalf("List before any worker: %v, want ErrNoAlarmState", err)
	}
	cfg := demoConfig(t)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)

	fctx, stop := context.WithCancel(ctx)
	followed := make(chan Transition, 16)
	followDone := make(chan error, 1)
	go func() {
		followDone <- rd.Follow(fctx, TransitionQuery{Line: "coldroom1"}, func(tr Transition, err error) {
			if err != nil {
				t.Errorf("follow: %v", err)
				return
			}
			followed <- tr
		})
	}()
	watched := make(chan AlarmUpdate, 16)
	watchDone := make(chan error, 1)
	go func() { watchDone <- rd.Watch(fctx, func(u AlarmUpdate) { watched <- u }) }()
	if u := <-watched; !u.Synced {
		t.Fatalf("first watch update of an empty bucket: %+v, want Synced", u)
	}

	cold := fnd("coldroom1", "coldroom", "temp_probe1", true, t0)
	fill := fnd("filling1", "filler", "fill_weight", true, t0)
	if err := s.Notify(ctx, []analytics.Finding{cold, fill}); err != nil {
		t.Fatal(err)
	}
	coldID := AlarmID(cfg.Site, cold)
	select {
	case tr := <-followed:
		if tr.Alarm.ID != coldID || tr.Event != EvActivate {
			t.Fatalf("followed %+v, want the cold room activation", tr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Follow got nothing within 20 s")
	}
	for seen := map[string]bool{}; !seen[coldID] || !seen[AlarmID(cfg.Site, fill)]; {
		select {
		case u := <-watched:
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			seen[u.Alarm.ID] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("Watch saw %v within 20 s", seen)
		}
	}
	stop()
	if err := <-followDone; err != nil {
		t.Fatal(err)
	}
	if err := <-watchDone; err != nil {
		t.Fatal(err)
	}

	if a, rev, err := rd.Get(ctx, coldID); err != nil || a.State != Unacknowledged || rev == 0 {
		t.Fatalf("Get: %+v rev %d, %v", a, rev, err)
	}
	if all, err := rd.List(ctx); err != nil || len(all) != 2 {
		t.Fatalf("List: %d alarms, %v", len(all), err)
	}
	trs, err := rd.Transitions(ctx, TransitionQuery{Site: cfg.Site, Line: "coldroom1"})
	if err != nil || len(trs) != 1 || trs[0].Alarm.ID != coldID {
		t.Fatalf("Transitions of coldroom1: %s, %v", summary(trs), err)
	}
	if trs, err := rd.Transitions(ctx, TransitionQuery{Since: time.Now().Add(time.Hour)}); err != nil || len(trs) != 0 {
		t.Fatalf("Transitions from an hour ahead: %s, %v", summary(trs), err)
	}
	// Something that is not a transition on ALARMS is an error naming it,
	// not a silent gap in a report.
	if _, err := js.Publish(ctx, bus.AlarmSubject(cfg.Site, "coldroom1", "low"), []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Transitions(ctx, TransitionQuery{Line: "coldroom1"}); err == nil || !strings.Contains(err.Error(), "linewatch.alarms."+cfg.Site+".coldroom1.low") {
		t.Fatalf("Transitions over a foreign message: %v, want an error naming its subject", err)
	}
}

// The Reader needs nothing but the operator role's NATS permissions: the
// console and `linewatch alarms list/watch/kpi` read with them.
func TestReaderOperatorRoleIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS")
	}
	dataDir := t.TempDir()
	srv := testenv.SecureNATS(t, dataDir)
	anc, _ := testenv.RoleConn(t, srv.ClientURL(), dataDir, bus.RoleAlerts)
	_, ojs := testenv.RoleConn(t, srv.ClientURL(), dataDir, bus.RoleOperator)
	cfg := demoConfig(t)
	s := newService(t, cfg, anc, newClock(), nil)
	run(t, s)
	ctx := context.Background()
	rd := NewReader(ojs)

	fctx, stop := context.WithCancel(ctx)
	defer stop()
	followed := make(chan Transition, 4)
	followErr := make(chan error, 1)
	go func() {
		// From an hour back: the transition is delivered whether it is
		// stored before or after the consumer is made.
		followErr <- rd.Follow(fctx, TransitionQuery{Line: "filling1", Since: time.Now().Add(-time.Hour)}, func(tr Transition, err error) {
			if err == nil {
				followed <- tr
			}
		})
	}()
	f := fnd("filling1", "filler", "fill_weight", true, t0)
	id := AlarmID(cfg.Site, f)
	if err := s.Notify(ctx, []analytics.Finding{f}); err != nil {
		t.Fatal(err)
	}
	select {
	case tr := <-followed:
		if tr.Alarm.ID != id || tr.Event != EvActivate {
			t.Fatalf("followed %+v", tr)
		}
	case err := <-followErr:
		t.Fatalf("Follow as operator: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("Follow as operator got nothing within 20 s")
	}
	if _, _, err := rd.Get(ctx, id); err != nil {
		t.Fatalf("Get as operator: %v", err)
	}
	if all, err := rd.List(ctx); err != nil || len(all) != 1 {
		t.Fatalf("List as operator: %d, %v", len(all), err)
	}
	if trs, err := rd.Transitions(ctx, TransitionQuery{Site: cfg.Site, Line: "filling1"}); err != nil || len(trs) == 0 {
		t.Fatalf("Transitions as operator: %d, %v", len(trs), err)
	}
}
