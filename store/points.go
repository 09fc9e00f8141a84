package store

import (
	"slices"
	"time"
)

// AlarmRecord is one alarm transition for measurement "alarms" (Grafana
// annotations, reports). Tags are the low-cardinality dimensions; ids,
// people and text are fields.
type AlarmRecord struct {
	Time                time.Time
	Site, Line, Machine string
	TagName             string // process tag the alarm is about
	Detector, Priority  string
	AlarmID             string
	Seq                 uint64
	Event, From, To     string // transition: event and states
	Active              bool
	Value, Limit        float64
	Message, By, Reason string
	Batch               string
}

// Point converts the record (tags: detector, line, machine, priority,
// site, tag_name). from, by and limit are InfluxQL keywords, hence
// from_state, operator and limit_value.
func (a AlarmRecord) Point() Point {
	return Point{
		Measurement: MeasurementAlarms,
		Tags: []Tag{{"detector", a.Detector}, {TagLine, a.Line}, {TagMachine, a.Machine},
			{"priority", a.Priority}, {TagSite, a.Site}, {TagName, a.TagName}},
		Fields: nonEmpty([]Field{
			{"alarm_id", a.AlarmID}, {"seq", a.Seq}, {"event", a.Event}, {"from_state", a.From}, {"state", a.To},
			{"active", a.Active}, {"value", a.Value}, {"limit_value", a.Limit}, {"message", a.Message},
			{"operator", a.By}, {"reason", a.Reason}, {"batch", a.Batch},
		}),
		Time: a.Time,
	}
}

// BatchRecord is a batch start or end for measurement "batches".
type BatchRecord struct {
	Time       time.Time
	Site, Line string
	Batch      string
	Event      string // "start" or "end"
	Product    string
}

// Point converts the record (tags: batch, line, site; fields: event, product).
func (b BatchRecord) Point() Point {
	return Point{
		Measurement: MeasurementBatches,
		Tags:        []Tag{{TagBatch, b.Batch}, {TagLine, b.Line}, {TagSite, b.Site}},
		Fields:      nonEmpty([]Field{{"event", b.Event}, {"product", b.Product}}),
		Time:        b.Time,
	}
}

// SPCRecord is one set of statistics of one tag for measurement "spc".
type SPCRecord struct {
	Time                time.Time
	Site, Line, Machine string
	TagName             string
	Chart               string             // e.g. "xbar", "ewma", "capability"
	Batch               string             // optional
	Stats               map[string]float64 // e.g. mean, sigma, ucl, lcl, cp, cpk, n
}

// Point converts the record; fields are the stats in key order.
func (s SPCRecord) Point() Point {
	keys := make([]string, 0, len(s.Stats))
	for k := range s.Stats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]Field, 0, len(keys))
	for _, k := range keys {
		fields = append(fields, Field{k, s.Stats[k]})
	}
	return Point{
		Measurement: MeasurementSPC,
		Tags: []Tag{{TagBatch, s.Batch}, {"chart", s.Chart}, {TagLine, s.Line}, {TagMachine, s.Machine},
			{TagSite, s.Site}, {TagName, s.TagName}},
		Fields: fields,
		Time:   s.Time,
	}
}

// StatusRecord is the collector's view of one machine connection for
// measurement "collector_status".
type StatusRecord struct {
	Time                time.Time
	Site, Line, Machine string
	Connected           bool
	State               string // e.g. "connected", "reconnecting", "bad_certificate"
	Error               string
	ReadLatency         time.Duration
	Reads, Errors       int64
}

// Point converts the record (tags: line, machine, site).
func (s StatusRecord) Point() Point {
	return Point{
		Measurement: MeasurementStatus,
		Tags:        []Tag{{TagLine, s.Line}, {TagMachine, s.Machine}, {TagSite, s.Site}},
		Fields: nonEmpty([]Field{{"connected", s.Connected}, {"state", s.State}, {"error", s.Error},
			{"read_latency_ms", float64(s.ReadLatency) / float64(time.Millisecond)}, {"reads", s.Reads}, {"errors", s.Errors}}),
		Time: s.Time,
	}
}

// nonEmpty drops empty string fields so a field absent from a transition
// does not overwrite anything with "".
func nonEmpty(fs []Field) []Field {
	return slices.DeleteFunc(fs, func(f Field) bool { s, ok := f.Value.(string); return ok && s == "" })
}
