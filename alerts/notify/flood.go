package notify

import (
	"slices"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
)

// floodTracker counts activations per line in a sliding window of
// transition time (not wall time, so a redelivered backlog is judged by
// when the alarms happened).
type floodTracker struct {
	cfg   config.Flood
	lines map[string]*lineFlood
}

type floodEvent struct {
	at         time.Time
	transition string
	alarm      string
}

type lineFlood struct {
	events     []floodEvent
	active     bool
	since      time.Time
	suppressed int
}

// floodDecision says what to do with one activation.
type floodDecision struct {
	end      *FloodSummary // a flood on the line ended before this activation
	start    *FloodSummary // this activation started a flood
	suppress bool          // do not send the per-alarm notification
}

func newFloodTracker(cfg config.Flood) *floodTracker {
	return &floodTracker{cfg: cfg, lines: map[string]*lineFlood{}}
}

func (f *floodTracker) observe(tr *alerts.Transition) floodDecision {
	if f.cfg.Threshold <= 0 || f.cfg.Window <= 0 {
		return floodDecision{}
	}
	key := tr.Alarm.Site + "/" + tr.Alarm.Line
	lf := f.lines[key]
	if lf == nil {
		lf = &lineFlood{}
		f.lines[key] = lf
	}
	cut := tr.Time.Add(-f.cfg.Window)
	lf.events = slices.DeleteFunc(lf.events, func(e floodEvent) bool { return e.at.Before(cut) })
	if slices.ContainsFunc(lf.events, func(e floodEvent) bool { return e.transition == tr.ID }) {
		// A redelivery: decide as before, without counting it twice.
		return floodDecision{suppress: lf.active}
	}
	var d floodDecision
	endBelow := f.cfg.EndBelow
	if endBelow <= 0 {
		endBelow = f.cfg.Threshold
	}
	if lf.active && len(lf.events) < endBelow {
		d.end = f.summary(tr, lf)
		d.end.Suppressed = lf.suppressed
		lf.active, lf.suppressed = false, 0
	}
	lf.events = append(lf.events, floodEvent{at: tr.Time, transition: tr.ID, alarm: tr.Alarm.ID})
	switch {
	case lf.active:
		lf.suppressed++
		d.suppress = true
	case len(lf.events) > f.cfg.Threshold:
		lf.active, lf.since, lf.suppressed = true, tr.Time, 0
		d.start = f.summary(tr, lf)
		d.suppress = true
	}
	return d
}

func (f *floodTracker) summary(tr *alerts.Transition, lf *lineFlood) *FloodSummary {
	s := &FloodSummary{
		V: alerts.SchemaVersion, Site: tr.Alarm.Site, Line: tr.Alarm.Line,
		Count: len(lf.events), Window: f.cfg.Window.String(), Since: lf.since.UTC(),
	}
	for _, e := range lf.events {
		if !slices.Contains(s.Alarms, e.alarm) {
			s.Alarms = append(s.Alarms, e.alarm)
		}
	}
	return s
}
