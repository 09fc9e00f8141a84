package app

import (
	"context"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/collector"
	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/store"
)

// storeSinks adapts the InfluxDB writer to the small interfaces that the
// collector, analytics and alerts declare (schema: docs/storage.md).
type storeSinks struct{ w *store.Writer }

func (s storeSinks) Samples(_ context.Context, ss []sample.Sample) { s.w.WriteSamples(ss) }

func (s storeSinks) BatchEvent(_ context.Context, ev collector.BatchEvent) {
	t := ev.Time
	if ev.Event == "end" {
		// The end of one batch and the start of the next are seen at the same
		// read; InfluxDB keeps one point per series and time, so the end is
		// stamped 1 ns earlier (it did end before the next one started).
		t = t.Add(-time.Nanosecond)
	}
	s.w.WritePoint(store.Point{
		Measurement: store.MeasurementBatches,
		Tags:        []store.Tag{{Key: store.TagLine, Value: ev.Line}, {Key: store.TagSite, Value: ev.Site}},
		Fields:      []store.Field{{Key: "batch", Value: ev.Batch}, {Key: "event", Value: ev.Event}, {Key: "product", Value: ev.Product}},
		Time:        t,
	})
}

func (s storeSinks) Status(_ context.Context, st collector.Status) {
	connected := 0
	if st.Connected {
		connected = 1
	}
	s.w.WritePoint(store.Point{
		Measurement: store.MeasurementStatus,
		Tags:        []store.Tag{{Key: store.TagLine, Value: st.Line}, {Key: store.TagMachine, Value: st.Machine}, {Key: store.TagSite, Value: st.Site}},
		Fields:      []store.Field{{Key: "connected", Value: connected}, {Key: "reason", Value: st.Reason}, {Key: "endpoint", Value: st.Endpoint}},
		Time:        st.Time,
	})
}

func (s storeSinks) WriteStats(ps []engine.StatPoint) {
	for _, p := range ps {
		fields := make([]store.Field, 0, len(p.Stats))
		for _, st := range p.Stats {
			fields = append(fields, store.Field{Key: st.Name, Value: st.Value})
		}
		s.w.WritePoint(store.Point{
			Measurement: store.MeasurementSPC,
			Tags: []store.Tag{{Key: "detector", Value: p.Detector}, {Key: store.TagLine, Value: p.Line}, {Key: store.TagMachine, Value: p.Machine},
				{Key: store.TagSite, Value: p.Site}, {Key: store.TagName, Value: p.Tag}},
			Fields: fields,
			Time:   p.Time,
		})
	}
}

func (s storeSinks) WriteAlarm(tr alerts.Transition) {
	a := tr.Alarm
	active := 0
	if a.Active {
		active = 1
	}
	s.w.WritePoint(store.Point{
		Measurement: store.MeasurementAlarms,
		Tags: []store.Tag{{Key: "detector", Value: a.Detector}, {Key: "event", Value: string(tr.Event)}, {Key: store.TagLine, Value: a.Line},
			{Key: store.TagMachine, Value: a.Machine}, {Key: "priority", Value: string(a.Priority)}, {Key: store.TagSite, Value: a.Site},
			{Key: store.TagName, Value: a.Tag}},
		Fields: []store.Field{{Key: "alarm_id", Value: a.ID}, {Key: "state", Value: string(tr.To)}, {Key: "active", Value: active},
			{Key: "value", Value: a.Value}, {Key: "limit", Value: a.Limit}, {Key: "message", Value: a.Message},
			{Key: "by", Value: tr.By}, {Key: "reason", Value: tr.Reason}, {Key: "seq", Value: int64(tr.Seq)}},
		Time: tr.Time,
	})
}
