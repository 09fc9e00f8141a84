package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
)

// JetStreamAlarms reads alarm transitions from the ALARMS stream.
type JetStreamAlarms struct {
	JS jetstream.JetStream
}

// Transitions implements AlarmSource: every transition of the line's
// alarms published at or after since, up to the stream's last message at
// the time of the call.
func (a JetStreamAlarms) Transitions(ctx context.Context, site, line string, since time.Time) ([]Transition, error) {
	start := since.Add(-time.Minute) // publish time is at or after the transition time
	cfg := jetstream.ConsumerConfig{
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		FilterSubject: bus.AlarmSubject(site, line, "*"),
	}
	cons, err := a.JS.CreateConsumer(ctx, bus.StreamAlarms, cfg)
	if err != nil {
		return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		a.JS.DeleteConsumer(dctx, bus.StreamAlarms, cons.CachedInfo().Name)
	}()
	pending := cons.CachedInfo().NumPending
	var out []Transition
	var read uint64
	for read < pending {
		batch, err := cons.Fetch(int(min(pending-read, 1000)), jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			var t Transition
			if err := json.Unmarshal(m.Data(), &t); err != nil {
				return nil, fmt.Errorf("alarm stream message on %s: %w", m.Subject(), err)
			}
			if !t.Time.Before(since) {
				out = append(out, t)
			}
		}
		read += uint64(n)
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read alarm stream %s: %w", bus.StreamAlarms, err)
		}
		if n == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("read alarm stream %s: no messages after %d of %d", bus.StreamAlarms, read, pending)
		}
	}
	return out, nil
}

// alarmRecords groups transitions into lifecycles and keeps the alarms
// with any transition in [start, end]; each keeps every transition from
// start on (acknowledgements after the batch end included), deduplicated
// by seq.
func alarmRecords(ts []Transition, start, end time.Time) []AlarmRecord {
	byID := map[string]*AlarmRecord{}
	seen := map[string]bool{}
	inBatch := map[string]bool{}
	for _, t := range ts {
		if t.Alarm.ID == "" || t.Time.Before(start) {
			continue
		}
		if seen[t.ID] && t.ID != "" {
			continue // replayed transition
		}
		seen[t.ID] = true
		r := byID[t.Alarm.ID]
		if r == nil {
			r = &AlarmRecord{ID: t.Alarm.ID, Events: []AlarmEvent{}}
			byID[t.Alarm.ID] = r
		}
		a := t.Alarm
		r.Machine, r.Tag, r.Detector, r.Rule, r.Priority = a.Machine, a.Tag, a.Detector, a.Rule, string(a.Priority)
		if t.Event == "activate" || r.Message == "" {
			r.Message = a.Message
		}
		r.Events = append(r.Events, AlarmEvent{Seq: t.Seq, Time: t.Time.UTC(), Event: string(t.Event), From: string(t.From), To: string(t.To), By: t.By, Reason: t.Reason})
		if !t.Time.After(end) {
			inBatch[t.Alarm.ID] = true
		}
	}
	out := make([]AlarmRecord, 0, len(inBatch))
	for id := range inBatch {
		r := byID[id]
		sort.SliceStable(r.Events, func(i, j int) bool { return r.Events[i].Seq < r.Events[j].Seq })
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Events[0].Time.Equal(out[j].Events[0].Time) {
			return out[i].Events[0].Time.Before(out[j].Events[0].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out
}
