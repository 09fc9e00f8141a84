package alerts

import (
	"encoding/json"
	"testing"
)

// The bucket value decodes as a plain Alarm (the console reads it so).
func TestRecordIsAnAlarm(t *testing.T) {
	r := record{Alarm: base(Shelved), V: SchemaVersion, Pending: []Transition{{ID: "x#1"}}}
	data, _ := json.Marshal(r)
	var a Alarm
	if err := json.Unmarshal(data, &a); err != nil || a.ID != r.ID || a.State != Shelved || a.ShelvedBy != "bob" {
		t.Fatalf("%s → %+v %v", data, a, err)
	}
	back, err := decodeRecord(data)
	if err != nil || len(back.Pending) != 1 || back.V != 1 || back.Alarm.ID != r.ID {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
