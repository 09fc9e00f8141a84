package reports

import (
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// The batch runs on the machines' clock; the alarm service records on its
// own. With the clocks apart (skew, or a simulator at 30× real time) an
// alarm belongs to the batch in which its condition was measured.
func TestAlarmRecordsSelectByProcessTime(t *testing.T) {
	start := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	end := start.Add(4 * time.Hour)
	wall := start.Add(-5 * time.Hour) // the service's clock is 5 h behind
	tr := func(seq uint64, id string, ev alerts.Event, recorded, measured time.Time) Transition {
		return Transition{V: 1, ID: id + "#" + string(rune('a'+seq)), Seq: seq, Time: recorded, Event: ev,
			Alarm: alerts.Alarm{ID: id, Machine: "filler", Tag: "fill_weight", Detector: "ewma", Rule: "upper", LastFindingAt: measured}}
	}
	const a, b, c = "p/filling1/filler/fill_weight/ewma/upper", "p/filling1/filler/fill_weight/cusum/upper", "p/filling1/filler/fill_weight/limits/hi"
	ts := []Transition{
		tr(1, c, alerts.EvActivate, wall.Add(time.Minute), start.Add(-time.Hour)), // the batch before: out
		tr(2, c, alerts.EvClear, wall.Add(2*time.Minute), start.Add(-30*time.Minute)),
		tr(3, a, alerts.EvActivate, wall.Add(10*time.Minute), start.Add(time.Hour)), // in
		tr(4, a, alerts.EvClear, wall.Add(11*time.Minute), start.Add(2*time.Hour)),
		tr(5, a, alerts.EvAck, wall.Add(9*time.Hour), start.Add(2*time.Hour)),              // acked after the batch: kept
		tr(6, a, alerts.EvActivate, wall.Add(9*time.Hour+time.Minute), end.Add(time.Hour)), // next batch: out
		tr(7, b, alerts.EvActivate, wall.Add(20*time.Minute), end.Add(-time.Minute)),       // in, cleared after the end
		tr(8, b, alerts.EvClear, wall.Add(21*time.Minute), end.Add(time.Minute)),
		tr(3, a, alerts.EvActivate, wall.Add(10*time.Minute), start.Add(time.Hour)), // replayed: once
	}
	got := alarmRecords(ts, start, end)
	if len(got) != 2 || got[0].ID != a || got[1].ID != b {
		t.Fatalf("alarms %+v, want %s then %s", got, a, b)
	}
	var seqs []uint64
	for _, e := range got[0].Events {
		seqs = append(seqs, e.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 3 || seqs[1] != 4 || seqs[2] != 5 {
		t.Errorf("events of %s: seqs %v, want 3 4 5", a, seqs)
	}
	if ev := got[0].Events[0]; !ev.ProcessTime.Equal(start.Add(time.Hour)) || !ev.Time.Equal(wall.Add(10*time.Minute)) {
		t.Errorf("activation: condition %v recorded %v, want %v and %v", ev.ProcessTime, ev.Time, start.Add(time.Hour), wall.Add(10*time.Minute))
	}
	if ev := got[0].Events[2]; !ev.ProcessTime.IsZero() {
		t.Errorf("acknowledgement has a condition time %v, want none", ev.ProcessTime)
	}
	if n := len(got[1].Events); n != 2 {
		t.Errorf("%s: %d events, want activation and clear", b, n)
	}
}
