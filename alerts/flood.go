package alerts

import (
	"fmt"
	"sync"
	"time"
)

// floodTracker detects alarm floods per line (ISA-18.2 §16.5: more than
// Threshold annunciated alarms within Window; the flood ends when fewer
// than EndBelow remain in the window).
type floodTracker struct {
	threshold, endBelow int
	window              time.Duration

	mu    sync.Mutex
	lines map[string]*lineFlood // by line id
}

type lineFlood struct {
	site     string
	times    []time.Time // annunciated activations within the window
	flooding bool
	since    time.Time
	seq      uint64
}

func newFloodTracker(threshold, endBelow int, window time.Duration) *floodTracker {
	return &floodTracker{threshold: threshold, endBelow: endBelow, window: window, lines: map[string]*lineFlood{}}
}

func (f *floodTracker) line(site, line string) *lineFlood {
	l := f.lines[line]
	if l == nil {
		l = &lineFlood{site: site}
		f.lines[line] = l
	}
	return l
}

func (l *lineFlood) trim(now time.Time, window time.Duration) {
	i := 0
	for i < len(l.times) && now.Sub(l.times[i]) >= window {
		i++
	}
	l.times = l.times[i:]
}

// annunciated counts an alarm that reached the operator and returns the
// flood-start transition when this one starts a flood.
func (f *floodTracker) annunciated(site, line string, at time.Time) (Transition, bool) {
	if f.threshold <= 0 || f.window <= 0 {
		return Transition{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.line(site, line)
	l.times = append(l.times, at)
	l.trim(at, f.window)
	if l.flooding || len(l.times) <= f.threshold {
		return Transition{}, false
	}
	l.flooding, l.since = true, at
	return f.transition(line, l, EvFloodStart, at), true
}

// expire ends floods whose window has emptied below EndBelow.
func (f *floodTracker) expire(now time.Time) []Transition {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Transition
	for id, l := range f.lines {
		l.trim(now, f.window)
		if l.flooding && len(l.times) < f.endBelow {
			l.flooding = false
			out = append(out, f.transition(id, l, EvFloodEnd, now))
		}
	}
	return out
}

// Flooding says whether line is in an alarm flood.
func (f *floodTracker) Flooding(line string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.lines[line]
	return l != nil && l.flooding
}

// FloodAlarmID is the id of a line's flood summary alarm.
func FloodAlarmID(site, line string) string { return site + "/" + line + "/_flood" }

func (f *floodTracker) transition(line string, l *lineFlood, ev Event, at time.Time) Transition {
	l.seq++
	a := Alarm{
		ID: FloodAlarmID(l.site, line), Site: l.site, Line: line, Detector: "flood", Priority: High,
		Value: float64(len(l.times)), Limit: float64(f.threshold), UpdatedAt: at,
		Activations: int(l.seq+1) / 2, Seq: l.seq,
	}
	from, to := Normal, Unacknowledged
	if ev == EvFloodStart {
		a.State, a.Active, a.ActivatedAt = Unacknowledged, true, at
		a.Message = fmt.Sprintf("alarm flood on line %s: %d alarms within %s (threshold %d); individual notifications are held back", line, len(l.times), f.window, f.threshold)
	} else {
		from, to = Unacknowledged, Normal
		a.State, a.ActivatedAt, a.ClearedAt = Normal, l.since, at
		a.Message = fmt.Sprintf("alarm flood on line %s ended: %d alarms within %s (end below %d), flood lasted %s", line, len(l.times), f.window, f.endBelow, at.Sub(l.since).Round(time.Second))
	}
	// The id carries the start time: deterministic for a given flood, distinct across floods and restarts.
	return Transition{
		V: SchemaVersion, ID: a.ID + "#" + string(ev) + "@" + l.since.Format(time.RFC3339Nano), Seq: l.seq,
		Time: at, Event: ev, From: from, To: to, Alarm: a,
	}
}
