package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/bus"
)

// alarmService is a test-only stand-in for the alarm service of package
// alerts (being written in parallel; not an external component): it
// publishes transitions on ALARMS and keeps the LINEWATCH_ALARMS bucket the
// way the real service does. The lead switches e2e tests to the real one.
type alarmService struct {
	t  testing.TB
	js jetstream.JetStream
	kv jetstream.KeyValue
}

func newAlarmService(t testing.TB, js jetstream.JetStream) *alarmService {
	t.Helper()
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: alerts.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return &alarmService{t: t, js: js, kv: kv}
}

func testAlarm(line, machine string, p alerts.Priority) alerts.Alarm {
	return alerts.Alarm{
		ID: fmt.Sprintf("plant1/%s/%s/temp/limit", line, machine), Site: "plant1", Line: line,
		Machine: machine, Tag: "temp", Detector: "limit", Priority: p,
		Message: "product temperature above 8 °C", Value: 9.1, Limit: 8,
	}
}

// activate raises a and publishes the transition; it returns it.
func (s *alarmService) activate(a *alerts.Alarm, at time.Time) alerts.Transition {
	s.t.Helper()
	a.Seq++
	a.Activations++
	from := a.State
	if from == "" {
		from = alerts.Normal
	}
	a.State, a.Active, a.ActivatedAt, a.UpdatedAt = alerts.Unacknowledged, true, at, at
	return s.publish(a, alerts.EvActivate, from, at, "")
}

func (s *alarmService) ack(a *alerts.Alarm, at time.Time, by string) alerts.Transition {
	s.t.Helper()
	a.Seq++
	from := a.State
	a.State, a.AckedAt, a.AckedBy, a.UpdatedAt = alerts.Acknowledged, at, by, at
	return s.publish(a, alerts.EvAck, from, at, by)
}

func (s *alarmService) publish(a *alerts.Alarm, ev alerts.Event, from alerts.State, at time.Time, by string) alerts.Transition {
	s.t.Helper()
	ctx := context.Background()
	tr := alerts.Transition{
		V: alerts.SchemaVersion, ID: fmt.Sprintf("%s#%d", a.ID, a.Seq), Seq: a.Seq, Time: at,
		Event: ev, From: from, To: a.State, By: by, Alarm: *a,
	}
	state, _ := json.Marshal(a)
	if _, err := s.kv.Put(ctx, alerts.Key(a.ID), state); err != nil {
		s.t.Fatal(err)
	}
	s.publishRaw(tr, true)
	return tr
}

func (s *alarmService) publishRaw(tr alerts.Transition, withMsgID bool) {
	s.t.Helper()
	body, _ := json.Marshal(tr)
	var opts []jetstream.PublishOpt
	if withMsgID {
		opts = append(opts, jetstream.WithMsgID(tr.ID))
	}
	subj := bus.AlarmSubject(tr.Alarm.Site, tr.Alarm.Line, string(tr.Alarm.Priority))
	if _, err := s.js.Publish(context.Background(), subj, body, opts...); err != nil {
		s.t.Fatal(err)
	}
}
