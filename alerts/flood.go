package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// floodTracker detects alarm floods per line (ISA-18.2 §16.5: more than
// Threshold annunciated alarms within Window; the flood ends when fewer
// than EndBelow remain in the window). The count lives in SharedBucket
// (key flood.<site>.<line>, compare-and-set), so all workers count one
// flood together and exactly one of them decides each flood start and
// end; a decided summary waits in the record until it is published, so a
// worker that dies in between leaves it to the next.
type floodTracker struct {
	threshold, endBelow int
	window              time.Duration
	kv                  jetstream.KeyValue

	mu       sync.Mutex
	flooding map[string]bool   // line → as last read or written by this worker
	lines    map[string]string // line → site, lines this worker has seen
}

// floodRecord is one line's flood state in SharedBucket.
type floodRecord struct {
	Marks    []floodMark `json:"marks,omitempty"` // annunciated activations within the window
	Flooding bool        `json:"flooding,omitempty"`
	Since    time.Time   `json:"since,omitzero"`
	Seq      uint64      `json:"seq"`
	// Pending: flood summaries decided, not yet confirmed published.
	Pending []Transition `json:"pending,omitempty"`
}

type floodMark struct {
	At time.Time `json:"at"`
	ID string    `json:"id"` // the activation's transition id: a replay is counted once
}

func newFloodTracker(kv jetstream.KeyValue, threshold, endBelow int, window time.Duration) *floodTracker {
	return &floodTracker{threshold: threshold, endBelow: endBelow, window: window, kv: kv,
		flooding: map[string]bool{}, lines: map[string]string{}}
}

func (f *floodTracker) enabled() bool { return f.threshold > 0 && f.window > 0 }

func floodKey(site, line string) string { return "flood." + Key(site+"/"+line) }

// trim drops the marks outside the window, and all but the newest keep
// (threshold + 1: enough to decide start and end, since end_below ≤
// threshold, and the record stays small however long a flood lasts).
func (r *floodRecord) trim(now time.Time, window time.Duration, keep int) {
	r.Marks = slices.DeleteFunc(r.Marks, func(m floodMark) bool { return now.Sub(m.At) >= window })
	if keep > 0 && len(r.Marks) > keep {
		r.Marks = r.Marks[len(r.Marks)-keep:]
	}
}

// update runs fn on the line's record in one compare-and-set and returns
// the summaries waiting to be published.
func (f *floodTracker) update(ctx context.Context, site, line string, fn func(*floodRecord) bool) ([]Transition, error) {
	var out []Transition
	err := casKV(ctx, f.kv, floodKey(site, line), func(cur []byte) ([]byte, bool, error) {
		var r floodRecord
		if cur != nil {
			if err := json.Unmarshal(cur, &r); err != nil {
				return nil, false, fmt.Errorf("flood record of line %s: %w", line, err)
			}
		}
		write := fn(&r)
		out = r.Pending
		f.mu.Lock()
		f.flooding[line], f.lines[line] = r.Flooding, site
		f.mu.Unlock()
		if !write {
			return nil, false, nil
		}
		b, err := json.Marshal(r)
		return b, true, err
	})
	if err != nil {
		return nil, fmt.Errorf("flood count of line %s: %w", line, err)
	}
	return out, nil
}

// annunciated counts an activation that reached the operator (transition
// tr) and returns the summaries to publish: the flood start when this one
// starts a flood, and any left unpublished.
func (f *floodTracker) annunciated(ctx context.Context, tr Transition) ([]Transition, error) {
	if !f.enabled() {
		return nil, nil
	}
	site, line, at := tr.Alarm.Site, tr.Alarm.Line, tr.Time
	return f.update(ctx, site, line, func(r *floodRecord) bool {
		if slices.ContainsFunc(r.Marks, func(m floodMark) bool { return m.ID == tr.ID }) {
			return false // counted before (a replayed transition)
		}
		if n := len(r.Marks); n > 0 && r.Marks[n-1].At.Sub(at) >= f.window {
			return false // replayed long after: outside the window it would count in
		}
		r.Marks = append(r.Marks, floodMark{At: at, ID: tr.ID})
		r.trim(at, f.window, f.threshold+1)
		if !r.Flooding && len(r.Marks) > f.threshold {
			r.Flooding, r.Since = true, at
			r.Pending = append(r.Pending, f.transition(site, line, r, EvFloodStart, at))
		}
		return true
	})
}

// expire ends the line's flood when its window has emptied below
// EndBelow, and returns the summaries to publish.
func (f *floodTracker) expire(ctx context.Context, site, line string, now time.Time) ([]Transition, error) {
	return f.update(ctx, site, line, func(r *floodRecord) bool {
		if !r.Flooding {
			return false
		}
		r.trim(now, f.window, f.threshold+1)
		if len(r.Marks) >= f.endBelow {
			return false
		}
		r.Flooding = false
		r.Pending = append(r.Pending, f.transition(site, line, r, EvFloodEnd, now))
		return true
	})
}

// published drops summaries confirmed on ALARMS from the line's record.
func (f *floodTracker) published(ctx context.Context, site, line string, ids []string) error {
	_, err := f.update(ctx, site, line, func(r *floodRecord) bool {
		n := len(r.Pending)
		r.Pending = slices.DeleteFunc(r.Pending, func(t Transition) bool { return slices.Contains(ids, t.ID) })
		return len(r.Pending) != n
	})
	return err
}

// known is every line to check for a flood end: the configured ones,
// system alarms, and any other this worker has seen.
func (f *floodTracker) known(site string, lines []string) map[string]string {
	out := map[string]string{SystemLine: site}
	for _, l := range lines {
		out[l] = site
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for l, s := range f.lines {
		out[l] = s
	}
	return out
}

// Flooding says whether line is in an alarm flood (as this worker last
// read or wrote the shared count).
func (f *floodTracker) Flooding(line string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flooding[line]
}

// FloodAlarmID is the id of a line's flood summary alarm.
func FloodAlarmID(site, line string) string { return site + "/" + line + "/_flood" }

func (f *floodTracker) transition(site, line string, r *floodRecord, ev Event, at time.Time) Transition {
	r.Seq++
	a := Alarm{
		ID: FloodAlarmID(site, line), Site: site, Line: line, Detector: "flood", Priority: High,
		Value: float64(len(r.Marks)), Limit: float64(f.threshold), UpdatedAt: at,
		Activations: int(r.Seq+1) / 2, Seq: r.Seq,
	}
	from, to := Normal, Unacknowledged
	if ev == EvFloodStart {
		a.State, a.Active, a.ActivatedAt = Unacknowledged, true, at
		a.Message = fmt.Sprintf("alarm flood on line %s: %d alarms within %s (threshold %d); individual notifications are held back", line, len(r.Marks), f.window, f.threshold)
	} else {
		from, to = Unacknowledged, Normal
		a.State, a.ActivatedAt, a.ClearedAt = Normal, r.Since, at
		a.Message = fmt.Sprintf("alarm flood on line %s ended: %d alarms within %s (end below %d), flood lasted %s", line, len(r.Marks), f.window, f.endBelow, at.Sub(r.Since).Round(time.Second))
	}
	// The id carries the start time: deterministic for a given flood, distinct across floods and restarts.
	return Transition{
		V: SchemaVersion, ID: a.ID + "#" + string(ev) + "@" + r.Since.Format(time.RFC3339Nano), Seq: r.Seq,
		Time: at, Event: ev, From: from, To: to, Alarm: a,
	}
}
