package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
)

// alarmService is a test-only stand-in for the alarm state of package
// alerts (it keeps LINEWATCH_ALARMS, publishes transitions on ALARMS and
// answers the command subjects with the documented Reply shapes), so the
// console tests can place alarms of any priority. Identity is the real
// thing: logins are answered by alerts.AuthServer and every command is
// verified with alerts.VerifyCommand against the same users file.
type alarmService struct {
	t    testing.TB
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	mu   sync.Mutex
	all  map[string]*alerts.Alarm
	sub  *nats.Subscription
	now  func() time.Time
	auth *identity.Authority
}

func newAlarmService(t testing.TB, nc *nats.Conn, js jetstream.JetStream, clk clock.Clock, usersFile string) *alarmService {
	now := clk.Now
	t.Helper()
	ctx := context.Background()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LINEWATCH_ALARMS"})
	if err != nil {
		t.Fatal(err)
	}
	users, err := identity.NewDirectory(usersFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	authKV, err := identity.OpenAuthBucket(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := identity.LoadOrCreateSigner(filepath.Join(t.TempDir(), "token.key"))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := identity.NewAuthority(identity.AuthorityOptions{Users: users, Signer: signer, KV: authKV, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := audit.Open(ctx, js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &alarmService{t: t, nc: nc, js: js, kv: kv, all: map[string]*alerts.Alarm{}, now: now, auth: auth}
	s.sub, err = nc.Subscribe(bus.CmdAlarms+".*", s.serve)
	if err != nil {
		t.Fatal(err)
	}
	as := alerts.NewAuthServer(auth, audit, clk, nil)
	authSub, err := nc.Subscribe(bus.CmdAuth+".*", func(m *nats.Msg) { as.Respond(ctx, m) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authSub.Unsubscribe() })
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

// place stores an alarm as given (defaults: site plant1, state
// unacknowledged, active, activated now) and publishes its activation.
func (s *alarmService) place(a alerts.Alarm) alerts.Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Site == "" {
		a.Site = "plant1"
	}
	if a.State == "" {
		a.State, a.Active = alerts.Unacknowledged, true
	}
	if a.ActivatedAt.IsZero() {
		a.ActivatedAt = s.now()
	}
	if old := s.all[a.ID]; old != nil {
		a.Seq = old.Seq
	}
	a.Activations++
	s.all[a.ID] = &a
	s.commit(&a, alerts.EvActivate, alerts.Normal, "", "")
	return a
}

// clear returns an alarm to normal conditions (unacknowledged → cleared
// unack, acknowledged → normal).
func (s *alarmService) clear(id string) alerts.Alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.all[id]
	from := a.State
	a.Active, a.ClearedAt = false, s.now()
	switch a.State {
	case alerts.Unacknowledged:
		a.State = alerts.RTNUnack
	case alerts.Acknowledged:
		a.State = alerts.Normal
	}
	s.commit(a, alerts.EvClear, from, "", "")
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
	reply := func(r alerts.Reply) {
		r.V = alerts.SchemaVersion
		b, _ := json.Marshal(r)
		_ = m.Respond(b)
	}
	cmd, err := alerts.DecodeCommand(m.Data)
	if err != nil {
		reply(alerts.Reply{Code: alerts.CodeInvalid, Message: err.Error()})
		return
	}
	u, err := alerts.VerifyCommand(context.Background(), s.auth, verb, cmd)
	if err != nil {
		reply(alerts.Reply{Code: alerts.CodeNotAuthorised, Message: err.Error()})
		return
	}
	if !identity.CanCommand(u.Role) {
		reply(alerts.Reply{Code: alerts.CodeNotAuthorised, Message: fmt.Sprintf("user %s has role %q", u.Name, u.Role)})
		return
	}
	cmd.Reason = strings.TrimSpace(cmd.Reason)
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
		a.State, a.AckedBy, a.AckedAt = alerts.Acknowledged, u.Name, s.now()
		if from == alerts.RTNUnack {
			a.State = alerts.Normal
		}
		s.commit(a, alerts.EvAck, from, u.Name, cmd.Reason)
		reply(alerts.Reply{OK: true, Code: alerts.CodeOK, Message: fmt.Sprintf("%s acknowledged by %s", a.ID, u.Name), Alarm: a})
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
		a.State, a.ShelvedBy, a.ShelveReason, a.ShelvedAt, a.ShelvedUntil = alerts.Shelved, u.Name, cmd.Reason, s.now(), s.now().Add(d)
		s.commit(a, alerts.EvShelve, from, u.Name, cmd.Reason)
		reply(alerts.Reply{OK: true, Code: alerts.CodeOK, Message: fmt.Sprintf("%s shelved by %s for %s", a.ID, u.Name, d), Alarm: a})
	default:
		reply(alerts.Reply{Code: alerts.CodeIllegal, Message: fmt.Sprintf("%s not supported by the test stand-in", verb)})
	}
}
