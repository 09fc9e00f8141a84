package collector

import (
	"strings"
	"testing"
	"time"
)

// commScript drives a commWatch through session events on a timeline:
// each step happens at t0 + at, and the watcher is also asked at every
// time it wanted to look again, as watchComm does.
type commEvent struct {
	at time.Duration
	up bool
}

type commOut struct {
	at     time.Duration
	active bool
	reason string
}

func runCommScript(hold time.Duration, events []commEvent, end time.Duration) []commOut {
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	w := commWatch{hold: hold, endpoint: "opc.tcp://plc:4840", loc: time.UTC}
	var (
		v    commView
		out  []commOut
		wake time.Time
	)
	look := func(now time.Time) {
		rep, next := w.step(now, v)
		if rep != nil {
			out = append(out, commOut{at: rep.at.Sub(t0), active: rep.active, reason: rep.reason})
		}
		wake = next
	}
	for i := 0; ; i++ {
		var next time.Duration = end
		if i < len(events) {
			next = events[i].at
		}
		for !wake.IsZero() && wake.Sub(t0) <= next {
			look(wake)
		}
		if i >= len(events) {
			return out
		}
		at := t0.Add(events[i].at)
		if events[i].up && !v.up {
			v.upAt = at
		}
		if !events[i].up && (v.up || v.downAt.IsZero()) {
			if v.up {
				v.flaps.lost(v.upAt, at, hold)
			}
			v.downAt = at
			v.reason = "EOF"
		}
		v.up = events[i].up
		look(at)
	}
}

func TestCommWatch(t *testing.T) {
	const hold = 10 * time.Second
	s := time.Second
	cases := []struct {
		name   string
		hold   time.Duration
		events []commEvent
		want   []commOut
	}{
		{
			name:   "up: one clear at start, nothing more",
			events: []commEvent{{0, true}},
			want:   []commOut{{0, false, ""}},
		},
		{
			name:   "never up: raised after the delay",
			events: []commEvent{{0, false}},
			want:   []commOut{{10 * s, true, "opc.tcp://plc:4840: down since 2026-12-05 08:00:00 UTC: EOF"}},
		},
		{
			name:   "short loss: nothing",
			events: []commEvent{{0, true}, {20 * s, false}, {25 * s, true}},
			want:   []commOut{{0, false, ""}},
		},
		{
			name:   "long loss: raised at down + delay, cleared after staying up the delay",
			events: []commEvent{{0, true}, {20 * s, false}, {45 * s, true}},
			want: []commOut{{0, false, ""}, {30 * s, true, "opc.tcp://plc:4840: down since 2026-12-05 08:00:20 UTC: EOF"},
				{55 * s, false, ""}},
		},
		{
			// Each loss lasts 4 s, each reconnect 2 s: no loss reaches the
			// delay, yet the session is down two thirds of the time.
			name: "flapping: raised at the third loss, cleared after staying up",
			events: []commEvent{{0, true}, {20 * s, false}, {24 * s, true}, {26 * s, false}, {30 * s, true},
				{32 * s, false}, {36 * s, true}, {38 * s, false}, {42 * s, true}},
			want: []commOut{{0, false, ""},
				{32 * s, true, "opc.tcp://plc:4840: session lost 3 times since 2026-12-05 08:00:20 UTC without staying up for 10s: EOF"},
				{52 * s, false, ""}},
		},
		{
			name: "losses apart by more than the delay: not flapping",
			events: []commEvent{{0, true}, {20 * s, false}, {21 * s, true}, {40 * s, false}, {41 * s, true},
				{60 * s, false}, {61 * s, true}},
			want: []commOut{{0, false, ""}},
		},
		{
			name:   "raised, then back briefly and lost again: stays raised, one clear",
			events: []commEvent{{0, true}, {10 * s, false}, {30 * s, true}, {35 * s, false}, {37 * s, true}},
			want: []commOut{{0, false, ""}, {20 * s, true, "opc.tcp://plc:4840: down since 2026-12-05 08:00:10 UTC: EOF"},
				{47 * s, false, ""}},
		},
		{
			name:   "zero delay: raised and cleared at once",
			hold:   -1,
			events: []commEvent{{0, true}, {5 * s, false}, {6 * s, true}},
			want:   []commOut{{0, false, ""}, {5 * s, true, "opc.tcp://plc:4840: down since 2026-12-05 08:00:05 UTC: EOF"}, {6 * s, false, ""}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := hold
			if c.hold < 0 {
				h = 0
			} else if c.hold > 0 {
				h = c.hold
			}
			got := runCommScript(h, c.events, 2*time.Minute)
			if len(got) != len(c.want) {
				t.Fatalf("reports:\n%v\nwant:\n%v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("report %d: %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

// The reason's times are in the site zone.
func TestCommWatchReasonInSiteZone(t *testing.T) {
	dublin, err := time.LoadLocation("Europe/Dublin")
	if err != nil {
		t.Skip(err)
	}
	w := commWatch{hold: time.Second, endpoint: "e", loc: dublin}
	down := time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)
	rep, _ := w.step(down.Add(time.Second), commView{downAt: down, reason: "EOF"})
	if rep == nil || !strings.Contains(rep.reason, "2026-07-01 09:00:00 IST") {
		t.Fatalf("reason %+v, want the down time in Irish summer time", rep)
	}
}
