package reports

import (
	"context"
	"sort"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStreamAlarms reads alarm transitions from the ALARMS stream through
// alerts.Reader (the alarm service's own reader and decoder).
type JetStreamAlarms struct {
	JS jetstream.JetStream
}

// Transitions implements AlarmSource: every transition of the line's
// alarms, up to the stream's last message at the time of the call, that was
// recorded or whose condition was reported (the finding's process time) at
// or after since. A message that does not decode is an error: a report
// must not silently miss a transition.
//
// The whole line subject is read: the stream's index is by publish time,
// and publish time says nothing about process time when the machines'
// clocks are skewed or run simulated time.
func (a JetStreamAlarms) Transitions(ctx context.Context, site, line string, since time.Time) ([]Transition, error) {
	all, err := alerts.NewReader(a.JS).Transitions(ctx, alerts.TransitionQuery{Site: site, Line: line})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if !t.Time.Before(since) || !processTime(t).Before(since) {
			out = append(out, t)
		}
	}
	return out, nil
}

// processTime is when the condition behind a transition was measured: the
// time of the last finding applied to the alarm (the machine's clock), or
// the recorded time for an alarm no finding has reached.
func processTime(t Transition) time.Time {
	if !t.Alarm.LastFindingAt.IsZero() {
		return t.Alarm.LastFindingAt.UTC()
	}
	return t.Time.UTC()
}

// alarmRecords groups transitions into lifecycles and keeps the alarms
// whose condition was reported within [start, end] by process time, the
// clock the batch's start and end are on. Each keeps its transitions from
// the first one in the batch up to its next activation after the batch
// (acknowledgements and shelving after the batch end included; a later
// batch's lifecycle of the same alarm excluded), deduplicated by id.
func alarmRecords(ts []Transition, start, end time.Time) []AlarmRecord {
	byAlarm := map[string][]Transition{}
	seen := map[string]bool{}
	for _, t := range ts {
		if t.Alarm.ID == "" {
			continue
		}
		if seen[t.ID] && t.ID != "" {
			continue // replayed transition
		}
		seen[t.ID] = true
		byAlarm[t.Alarm.ID] = append(byAlarm[t.Alarm.ID], t)
	}
	var out []AlarmRecord
	for id, list := range byAlarm {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
		first, last := -1, -1
		for i, t := range list {
			if pt := processTime(t); !pt.Before(start) && !pt.After(end) {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 {
			continue
		}
		stop := len(list)
		for i := last + 1; i < len(list); i++ {
			if list[i].Event == "activate" {
				stop = i
				break
			}
		}
		r := AlarmRecord{ID: id, Events: []AlarmEvent{}}
		for _, t := range list[first:stop] {
			a := t.Alarm
			r.Machine, r.Tag, r.Detector, r.Rule, r.Priority = a.Machine, a.Tag, a.Detector, a.Rule, string(a.Priority)
			if t.Event == "activate" || r.Message == "" {
				r.Message = a.Message
			}
			e := AlarmEvent{Seq: t.Seq, Time: t.Time.UTC(), Event: string(t.Event), From: string(t.From), To: string(t.To), By: t.By, Reason: t.Reason}
			if t.Event == "activate" || t.Event == "clear" {
				e.ProcessTime = processTime(t)
			}
			r.Events = append(r.Events, e)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Events[0].Time.Equal(out[j].Events[0].Time) {
			return out[i].Events[0].Time.Before(out[j].Events[0].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
