package app

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// TestAlarmPointTime: hi and hihi of one tag raised by the same sample
// are two InfluxDB points (the rule is not a tag), each at its process
// time within a millisecond, always the same for one alarm.
func TestAlarmPointTime(t *testing.T) {
	at := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	tr := func(id string) alerts.Transition {
		return alerts.Transition{Time: at.Add(6 * time.Hour), ProcessTime: at, Event: alerts.EvActivate, Alarm: alerts.Alarm{ID: id}}
	}
	hi, hihi := alarmPointTime(tr("s/l/m/temp/limits/hi")), alarmPointTime(tr("s/l/m/temp/limits/hihi"))
	if hi.Equal(hihi) {
		t.Fatalf("hi and hihi share point time %v", hi)
	}
	for _, p := range []time.Time{hi, hihi} {
		if d := p.Sub(at); d < 0 || d >= time.Millisecond {
			t.Errorf("point %v is %v from the process time", p, d)
		}
	}
	if !alarmPointTime(tr("s/l/m/temp/limits/hi")).Equal(hi) {
		t.Error("not deterministic")
	}
}
