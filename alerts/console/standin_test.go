package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
)

// alarmService is a test-only stand-in for the alarm service of package
// alerts, which another helper is writing in parallel (it is not an
// external component and not a mock of one): it keeps LINEWATCH_ALARMS,
// publishes transitions on ALARMS and answers the command subjects with
// the documented Reply shapes. The lead switches the e2e test to the real
// service once it exists.
type alarmService struct {
	t   testing.TB
	nc  *nats.Conn
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	mu  sync.Mutex
	all map[string]*alerts.Alarm
	sub *nats.Subscription
	now func() time.Time
}

func newAlarmService(t testing.TB, nc *nats.Conn, js jetstream.JetStream, now func() time.Time) *alarmService {
	t.Helper()
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "LINEWATCH_ALARMS"})
	if err != nil {
		t.Fatal(err)
	}
	s := &alarmService{t: t, nc: nc, js: js, kv: kv, all: map[string]*alerts.Alarm{}, now: now}
	s.sub, err = nc.Subscribe(bus.CmdAlarms+".*", s.serve)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.sub.Unsubscribe() })
	return s
}

func (s *alarmService) activate(line, machine string, p alerts.Priority, msg string) alerts.Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	a := &alerts.Alarm{
		ID: fmt.Sprintf("plant1/%s/%s/temp/limit", line, machine), Site: "plant1", Line: line, Machine: machine,
		Tag: "temp", Detector: "limit", Priority: p, State: alerts.Unacknowledged, Active: true,
		Message: msg, Value: 9.4, Limit: 8, ActivatedAt: now, Activations: 1,
	}
	s.all[a.ID] = a
	s.commit(a, alerts.EvActivate, alerts.Normal, "", "")
	return *a
}

// commit stores a and publishes its transition (caller holds mu).
func (s *alarmService) commit(a *alerts.Alarm, ev alerts.Event, from alerts.State, by, reason string) {
	a.Seq++
	a.UpdatedAt = s.now()
	b, _ := json.Marshal(a)
	ctx := context.Background()
	if _, err := s.kv.Put(ctx, strings.ReplaceAll(a.ID, "/", "."), b); err != nil {
		s.t.Errorf("stand-in KV put: %v", err)
	}
	tr := alerts.Transition{V: alerts.SchemaVersion, ID: fmt.Sprintf("%s#%d", a.ID, a.Seq), Seq: a.Seq, Time: a.UpdatedAt,
		Event: ev, From: from, To: a.State, By: by, Reason: reason, Alarm: *a}
	tb, _ := json.Marshal(tr)
	if _, err := s.js.Publish(ctx, bus.AlarmSubject(a.Site, a.Line, string(a.Priority)), tb, jetstream.WithMsgID(tr.ID)); err != nil {
		s.t.Errorf("stand-in publish: %v", err)
	}
}

func (s *alarmService) serve(m *nats.Msg) {
	verb := m.Subject[len(bus.CmdAlarms)+1:]
	var cmd alerts.Command
	reply := func(r alerts.Reply) {
		r.V = alerts.SchemaVersion
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	if err := json.Unmarshal(m.Data, &cmd); err != nil || cmd.Operator == "" {
		reply(alerts.Reply{Code: alerts.CodeInvalid, Message: "command needs JSON with alarm and operator"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.all[cmd.Alarm]
	if a == nil {
		reply(alerts.Reply{Code: alerts.CodeUnknownAlarm, Message: fmt.Sprintf("no alarm %q", cmd.Alarm)})
		return
	}
	from := a.State
	switch verb {
	case "ack":
		if a.State == alerts.Acknowledged {
			reply(alerts.Reply{Code: alerts.CodeAlreadyAcknowledged, Message: fmt.Sprintf("%s was already acknowledged by %s", a.ID, a.AckedBy)})
			return
		}
		a.State, a.AckedBy, a.AckedAt = alerts.Acknowledged, cmd.Operator, s.now()
		s.commit(a, alerts.EvAck, from, cmd.Operator, cmd.Reason)
		reply(alerts.Reply{OK: true, Code: alerts.CodeOK, Message: fmt.Sprintf("%s acknowledged by %s", a.ID, cmd.Operator), Alarm: a})
	case "shelve":
		d, err := time.ParseDuration(cmd.Duration)
		if err != nil || d > 8*time.Hour {
			reply(alerts.Reply{Code: alerts.CodeShelveTooLong, Message: fmt.Sprintf("shelve duration %q exceeds the maximum of 8h0m0s", cmd.Duration)})
			return
		}
		if cmd.Reason == "" {
			reply(alerts.Reply{Code: alerts.CodeReasonRequired, Message: "a reason is required to shelve"})
			return
		}
		a.State, a.ShelvedBy, a.ShelveReason, a.ShelvedAt, a.ShelvedUntil = alerts.Shelved, cmd.Operator, cmd.Reason, s.now(), s.now().Add(d)
		s.commit(a, alerts.EvShelve, from, cmd.Operator, cmd.Reason)
		reply(alerts.Reply{OK: true, Code: alerts.CodeOK, Message: fmt.Sprintf("%s shelved by %s for %s", a.ID, cmd.Operator, d), Alarm: a})
	default:
		reply(alerts.Reply{Code: alerts.CodeIllegal, Message: fmt.Sprintf("%s not supported by the test stand-in", verb)})
	}
}
