package app

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
)

// storeSinks adapts the InfluxDB writer to the small interfaces that the
// collector, analytics and alerts declare. The schema (key names, types,
// the 1 ns shift of a batch end) lives in store's records
// (docs/schemas.md); this only maps fields.
type storeSinks struct{ w *store.Writer }

// Read writes a read's batch events (measurement batches) and samples
// (telemetry); the writer copies what it keeps and never waits.
func (s storeSinks) Read(_ context.Context, r *sample.Read) {
	for _, ev := range r.Batches {
		s.w.WritePoint(store.BatchRecord{Time: ev.Time, Site: ev.Site, Line: ev.Line,
			Batch: ev.Batch, Event: ev.Event, Product: ev.Product}.Point())
	}
	s.w.WriteSamples(r.Samples)
}

func (s storeSinks) Status(_ context.Context, st sample.MachineStatus) {
	s.w.WritePoint(store.StatusRecord{Time: st.Time, Site: st.Site, Line: st.Line, Machine: st.Machine,
		Connected: st.Connected, Reason: st.Reason, Endpoint: st.Endpoint}.Point())
}

func (s storeSinks) WriteStats(ps []engine.StatPoint) {
	for _, p := range ps {
		stats := make([]store.Stat, len(p.Stats))
		for i, st := range p.Stats {
			stats[i] = store.Stat{Name: st.Name, Value: st.Value}
		}
		s.w.WritePoint(store.SPCRecord{Time: p.Time, Site: p.Site, Line: p.Line, Machine: p.Machine,
			TagName: p.Tag, Detector: p.Detector, Stats: stats}.Point())
	}
}

func (s storeSinks) WriteAlarm(tr alerts.Transition) {
	a := tr.Alarm
	s.w.WritePoint(store.AlarmRecord{Time: alarmPointTime(tr), Recorded: tr.RecordedAt(), Site: a.Site, Line: a.Line, Machine: a.Machine, TagName: a.Tag,
		Detector: a.Detector, Priority: string(a.Priority), Event: string(tr.Event), AlarmID: a.ID,
		State: string(tr.To), Active: a.Active, Value: a.Value, Limit: a.Limit, Message: a.Message,
		By: tr.By, Reason: tr.Reason, Seq: tr.Seq}.Point())
}

// alarmPointTime is the InfluxDB time of a transition's point: its process
// time plus a sub-millisecond offset fixed by the alarm id. A point is
// keyed by time and tags, and the rule is not a tag: hi and hihi of one
// tag raised by the same sample would otherwise be one point, the second
// overwriting the first.
func alarmPointTime(tr alerts.Transition) time.Time {
	h := fnv.New32a()
	h.Write([]byte(tr.Alarm.ID))
	return tr.At().Add(time.Duration(h.Sum32() % uint32(time.Millisecond)))
}
