package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/clock"
)

// floodTracker counts activations per line in a sliding window of
// transition time (not wall time, so a redelivered backlog is judged by
// when the alarms happened). The count of a line lives in the dedupe
// bucket (key flood.<site>.<line>, compare-and-set), so every notifier
// worker counts one flood together and exactly one decides its start and
// end; each activation's decision is kept with it, so its redelivery
// (its worker died before sending) decides the same again and the
// dedupe claims send it once.
type floodTracker struct {
	cfg config.Flood
	kv  jetstream.KeyValue
}

type floodEvent struct {
	At         time.Time     `json:"at"`
	Transition string        `json:"transition"`
	Alarm      string        `json:"alarm"`
	Decision   floodDecision `json:"decision"`
}

type lineFlood struct {
	// Events: the newest activations within the window, at most
	// threshold + 1 (enough to decide; the record stays small).
	Events     []floodEvent `json:"events,omitempty"`
	Active     bool         `json:"active,omitempty"`
	Since      time.Time    `json:"since,omitzero"`
	Suppressed int          `json:"suppressed,omitempty"`
	// The activations that decided the last flood start and end, with
	// their decisions: a redelivery of one sends the summary (once, by
	// the dedupe claim) however many events came after it.
	StartedBy string        `json:"started_by,omitempty"`
	StartedAs floodDecision `json:"started_as,omitzero"`
	EndedBy   string        `json:"ended_by,omitempty"`
	EndedAs   floodDecision `json:"ended_as,omitzero"`
}

// floodDecision says what to do with one activation.
type floodDecision struct {
	End      *FloodSummary `json:"end,omitempty"`   // a flood on the line ended before this activation
	Start    *FloodSummary `json:"start,omitempty"` // this activation started a flood
	Suppress bool          `json:"suppress,omitempty"`
}

func newFloodTracker(cfg config.Flood, kv jetstream.KeyValue) *floodTracker {
	return &floodTracker{cfg: cfg, kv: kv}
}

func floodKey(site, line string) string { return "flood." + alerts.Key(site+"/"+line) }

// casRetry spreads compare-and-set retries among workers (real time:
// the contenders are other processes).
var casRetry = backoff.Policy{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond, Linear: true, Jitter: true}

func (f *floodTracker) observe(ctx context.Context, tr *alerts.Transition) (floodDecision, error) {
	if f.cfg.Threshold <= 0 || f.cfg.Window <= 0 {
		return floodDecision{}, nil
	}
	key := floodKey(tr.Alarm.Site, tr.Alarm.Line)
	for attempt := 1; ; attempt++ {
		var lf lineFlood
		var rev uint64
		e, err := f.kv.Get(ctx, key)
		switch {
		case err == nil:
			if err := json.Unmarshal(e.Value(), &lf); err != nil {
				return floodDecision{}, fmt.Errorf("flood count of line %s: %w", tr.Alarm.Line, err)
			}
			rev = e.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return floodDecision{}, fmt.Errorf("flood count of line %s: %w", tr.Alarm.Line, err)
		}
		d, write := f.decide(&lf, tr)
		if !write {
			return d, nil
		}
		b, err := json.Marshal(lf)
		if err != nil {
			return floodDecision{}, err
		}
		if rev == 0 {
			_, err = f.kv.Create(ctx, key, b)
		} else {
			_, err = f.kv.Update(ctx, key, b, rev)
		}
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) || attempt >= 50 {
			return floodDecision{}, fmt.Errorf("flood count of line %s: %w", tr.Alarm.Line, err)
		}
		if err := casRetry.Wait(ctx, clock.Real{}, attempt); err != nil {
			return floodDecision{}, err
		}
	}
}

// decide applies one activation to lf; write is false for a redelivery
// (whose first decision it returns).
func (f *floodTracker) decide(lf *lineFlood, tr *alerts.Transition) (d floodDecision, write bool) {
	cut := tr.Time.Add(-f.cfg.Window)
	switch tr.ID {
	case lf.StartedBy:
		return lf.StartedAs, false
	case lf.EndedBy:
		return lf.EndedAs, false
	}
	if i := slices.IndexFunc(lf.Events, func(e floodEvent) bool { return e.Transition == tr.ID }); i >= 0 {
		return lf.Events[i].Decision, false // a redelivery: decide as before, without counting it twice
	}
	lf.Events = slices.DeleteFunc(lf.Events, func(e floodEvent) bool { return e.At.Before(cut) })
	endBelow := f.cfg.EndBelow
	if endBelow <= 0 {
		endBelow = f.cfg.Threshold
	}
	if lf.Active && len(lf.Events) < endBelow {
		d.End = f.summary(tr, lf)
		d.End.Suppressed = lf.Suppressed
		lf.Active, lf.Suppressed = false, 0
	}
	lf.Events = append(lf.Events, floodEvent{At: tr.Time, Transition: tr.ID, Alarm: tr.Alarm.ID})
	switch {
	case lf.Active:
		lf.Suppressed++
		d.Suppress = true
	case len(lf.Events) > f.cfg.Threshold:
		lf.Active, lf.Since, lf.Suppressed = true, tr.Time, 0
		d.Start = f.summary(tr, lf)
		d.Suppress = true
	}
	lf.Events[len(lf.Events)-1].Decision = d
	if d.Start != nil {
		lf.StartedBy, lf.StartedAs = tr.ID, d
	} else if d.End != nil {
		lf.EndedBy, lf.EndedAs = tr.ID, d
	}
	if keep := f.cfg.Threshold + 1; len(lf.Events) > keep {
		lf.Events = lf.Events[len(lf.Events)-keep:]
	}
	return d, true
}

func (f *floodTracker) summary(tr *alerts.Transition, lf *lineFlood) *FloodSummary {
	s := &FloodSummary{
		V: alerts.SchemaVersion, Site: tr.Alarm.Site, Line: tr.Alarm.Line,
		Count: len(lf.Events), Window: f.cfg.Window.String(), Since: lf.Since.UTC(),
	}
	for _, e := range lf.Events {
		if !slices.Contains(s.Alarms, e.Alarm) {
			s.Alarms = append(s.Alarms, e.Alarm)
		}
	}
	return s
}
