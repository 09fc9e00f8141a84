package alerts

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/display"
)

func activation(id string, p Priority, at time.Time, to State) Transition {
	return Transition{ID: id + "#x", Time: at, Event: EvActivate, From: Normal, To: to, Alarm: Alarm{ID: id, Priority: p}}
}

func TestComputeKPI(t *testing.T) {
	since := t0
	until := t0.Add(time.Hour) // six 10-minute intervals
	var trs []Transition
	// Interval 0: a flood of 12 alarms from one bad actor chattering plus 11 others.
	for i := range 3 {
		trs = append(trs, activation("s/l/m/chatty/limits", Low, t0.Add(time.Duration(i)*10*time.Second), Unacknowledged))
	}
	for i := range 9 {
		trs = append(trs, activation("s/l/m/t"+string(rune('a'+i))+"/limits", Medium, t0.Add(time.Minute), Unacknowledged))
	}
	// Interval 3: two alarms; one activation while shelved does not count.
	trs = append(trs, activation("s/l/m/x/limits", High, t0.Add(35*time.Minute), Unacknowledged),
		activation("s/l/m/x/limits", High, t0.Add(36*time.Minute), Unacknowledged),
		activation("s/l/m/y/limits", Low, t0.Add(37*time.Minute), Shelved),
		Transition{Time: t0.Add(38 * time.Minute), Event: EvAck, From: Unacknowledged, To: Acknowledged, Alarm: Alarm{ID: "s/l/m/x/limits"}},
		activation("s/l/_flood", High, t0.Add(time.Minute), Unacknowledged), // flood summaries are not alarms
		activation("s/l/m/late/limits", Low, until, Unacknowledged),         // outside the period
	)
	trs[len(trs)-2].Alarm.Detector = "flood"
	current := []Alarm{
		{ID: "s/l/m/old/limits", Active: true, State: Acknowledged, ActivatedAt: until.Add(-30 * time.Hour)},
		{ID: "s/l/m/new/limits", Active: true, State: Unacknowledged, ActivatedAt: until.Add(-time.Hour)},
		{ID: "s/l/m/y/limits", Active: true, State: Shelved, ActivatedAt: t0.Add(37 * time.Minute)},
	}
	k := ComputeKPI(trs, current, KPIOptions{Since: since, Until: until, FloodThreshold: 10, ChatterCount: 3, ChatterWindow: time.Minute})
	if k.Annunciated != 14 || k.PerTenMinutesPeak != 12 || !k.PeakAt.Equal(t0) {
		t.Fatalf("counts: %+v", k)
	}
	if k.PerTenMinutesAvg != 14.0/6 || k.FloodPercent != 100.0/6 {
		t.Fatalf("avg %v flood %v", k.PerTenMinutesAvg, k.FloodPercent)
	}
	if k.BadActors[0] != (Count{"s/l/m/chatty/limits", 3}) || k.BadActors[1] != (Count{"s/l/m/x/limits", 2}) || len(k.BadActors) != 10 {
		t.Fatalf("bad actors %+v", k.BadActors)
	}
	if len(k.Chattering) != 1 || k.Chattering[0] != "s/l/m/chatty/limits" {
		t.Fatalf("chattering %v", k.Chattering)
	}
	if len(k.Stale) != 1 || k.Stale[0].ID != "s/l/m/old/limits" || k.Stale[0].ActiveFor != 30*time.Hour {
		t.Fatalf("stale %+v", k.Stale)
	}
	if k.PriorityCounts[Medium] != 9 || k.PriorityCounts[Low] != 3 || k.PriorityCounts[High] != 2 || k.ShelvedNow != 1 {
		t.Fatalf("priorities %+v", k.PriorityCounts)
	}
	var buf bytes.Buffer
	WriteKPI(&buf, k, display.MustNew(&config.Config{TimeZone: "America/New_York"}))
	if !strings.Contains(buf.String(), "time in flood             16.7 %") {
		t.Fatalf("report:\n%s", buf.String())
	}
	// Times in the site zone, 24-hour, labelled (EST in March before DST).
	if !strings.HasPrefix(buf.String(), "Alarm KPIs 2026-03-01 03:00:00 EST … 2026-03-01 04:00:00 EST\n") {
		t.Fatalf("report:\n%s", buf.String())
	}
}
