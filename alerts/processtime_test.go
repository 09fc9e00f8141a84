package alerts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestTransitionProcessAndRecordedTime: a finding's transition happens at
// the sample's time, a person's at the process clock given with the input
// (the demo's simulated plant), and both keep the recording time.
func TestTransitionProcessAndRecordedTime(t *testing.T) {
	recorded := t0.Add(6 * time.Hour) // the wall clock runs 6 h ahead of the plant
	act := defaultInput(EvActivate)
	a, tr, err := Apply(base(Normal), act, recorded, policy)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.At().Equal(act.Finding.Time) || !tr.ProcessTime.Equal(act.Finding.Time) || !tr.RecordedAt().Equal(recorded) {
		t.Fatalf("activation: process %v recorded %v; want %v and %v", tr.At(), tr.RecordedAt(), act.Finding.Time, recorded)
	}
	ack := defaultInput(EvAck)
	ack.ProcessTime = act.Finding.Time.Add(time.Minute)
	_, tr, err = Apply(a, ack, recorded.Add(2*time.Second), policy)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.At().Equal(ack.ProcessTime) || !tr.RecordedAt().Equal(recorded.Add(2*time.Second)) {
		t.Fatalf("ack: process %v recorded %v", tr.At(), tr.RecordedAt())
	}
	ack.ProcessTime = time.Time{}
	_, tr, _ = Apply(a, ack, recorded, policy)
	if !tr.At().Equal(recorded) {
		t.Fatalf("ack without a process clock: process time %v, want the recording time %v", tr.At(), recorded)
	}
}

// TestOldTransitionRecordsHaveAProcessTime: records written before
// process_time existed decode, and At falls back to the finding time of
// an activation and to the recording time of a person's action.
func TestOldTransitionRecordsHaveAProcessTime(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       time.Time
	}{
		{"activation", `{"v":1,"id":"s/l/m/t/limits/hi#1","seq":1,"time":"2026-03-02T14:00:02Z","event":"activate","from":"normal","to":"unacknowledged",
			"alarm":{"id":"s/l/m/t/limits/hi","last_finding_at":"2026-03-02T08:00:00Z"}}`, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)},
		{"ack", `{"v":1,"id":"s/l/m/t/limits/hi#2","seq":2,"time":"2026-03-02T14:00:09Z","event":"ack","from":"unacknowledged","to":"acknowledged","by":"alice",
			"alarm":{"id":"s/l/m/t/limits/hi","last_finding_at":"2026-03-02T08:00:00Z"}}`, time.Date(2026, 3, 2, 14, 0, 9, 0, time.UTC)},
		{"new record", `{"v":1,"id":"s/l/m/t/limits/hi#2","seq":2,"time":"2026-03-02T14:00:09Z","process_time":"2026-03-02T08:01:00Z","event":"ack",
			"alarm":{"id":"s/l/m/t/limits/hi"}}`, time.Date(2026, 3, 2, 8, 1, 0, 0, time.UTC)},
	} {
		tr, err := DecodeTransition([]byte(c.json))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !tr.At().Equal(c.want) {
			t.Errorf("%s: At = %v, want %v", c.name, tr.At(), c.want)
		}
	}
	// A new record round-trips process_time; a zero one is left out.
	b, _ := json.Marshal(Transition{V: 1, ID: "x#1", Alarm: Alarm{ID: "x"}})
	if strings.Contains(string(b), "process_time") {
		t.Errorf("zero process time written: %s", b)
	}
}
