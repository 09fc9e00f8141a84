package store

import "time"

// The records below are the one schema of the measurements other than
// telemetry (docs/schemas.md, "InfluxDB measurements"). Their key names are
// what the dashboards and the batch reports query: rename one only together
// with those queries.
//
// Strings are written even when empty (a transition without an operator
// has by=""), so every point of a measurement has the same fields and
// last() over a series never falls back to an older point's value.

// AlarmRecord is one alarm transition for measurement "alarms" (Grafana
// annotations and panels, reports). The low-cardinality dimensions are
// tags; ids, people and text are fields.
type AlarmRecord struct {
	// Time is the transition's process time (the machines' clock);
	// Recorded, when set, the alarm service's recording time, written as
	// field "recorded" (RFC 3339).
	Time, Recorded      time.Time
	Site, Line, Machine string
	TagName             string // process tag the alarm is about
	Detector, Priority  string
	Event               string // transition event: activate, ack, shelve, …
	AlarmID             string
	State               string // state after the transition
	Active              bool   // process condition after the transition
	Value, Limit        float64
	Message             string
	By, Reason          string // operator identity and reason when a person caused it
	Seq                 uint64
}

// Alarm field keys. "by" and "limit" are InfluxQL keywords: queries must
// quote them ("limit", "by").
const (
	FieldAlarmID  = "alarm_id"
	FieldState    = "state"
	FieldActive   = "active"
	FieldLimit    = "limit"
	FieldMessage  = "message"
	FieldBy       = "by"
	FieldReason   = "reason"
	FieldSeq      = "seq"
	FieldRecorded = "recorded"
)

// Tag keys of the alarms and spc measurements besides site/line/machine/tag_name.
const (
	TagDetector = "detector"
	TagPriority = "priority"
	TagEvent    = "event"
)

// Point converts the record. Tags: detector, event, line, machine,
// priority, site, tag_name. Fields: alarm_id, state, active (integer 0/1,
// so dashboards can sum() it), value, limit, message, by, reason, seq, and
// recorded when Recorded is set.
func (a AlarmRecord) Point() Point {
	p := Point{
		Measurement: MeasurementAlarms,
		Tags: []Tag{{TagDetector, a.Detector}, {TagEvent, a.Event}, {TagLine, a.Line}, {TagMachine, a.Machine},
			{TagPriority, a.Priority}, {TagSite, a.Site}, {TagName, a.TagName}},
		Fields: []Field{{FieldAlarmID, a.AlarmID}, {FieldState, a.State}, {FieldActive, b01(a.Active)},
			{FieldValue, a.Value}, {FieldLimit, a.Limit}, {FieldMessage, a.Message},
			{FieldBy, a.By}, {FieldReason, a.Reason}, {FieldSeq, a.Seq}},
		Time: a.Time,
	}
	if !a.Recorded.IsZero() {
		p.Fields = append(p.Fields, Field{FieldRecorded, a.Recorded.UTC().Format(time.RFC3339Nano)})
	}
	return p
}

// BatchRecord is a batch start or end for measurement "batches".
type BatchRecord struct {
	Time       time.Time
	Site, Line string
	Batch      string
	Event      string // "start" or "end"
	Product    string
}

// Batch field keys. The batch id is a field, not a tag: one series per
// line keeps last("batch") per line cheap for the dashboards.
const (
	FieldBatch   = "batch"
	FieldEvent   = "event"
	FieldProduct = "product"
)

// Point converts the record. Tags: line, site. Fields: batch, event,
// product. An "end" is stamped 1 ns before Time: the end of one batch and
// the start of the next are seen at the same read, and InfluxDB keeps one
// point per series and time (the batch did end before the next started).
func (b BatchRecord) Point() Point {
	t := b.Time
	if b.Event == "end" && !t.IsZero() {
		t = t.Add(-time.Nanosecond)
	}
	return Point{
		Measurement: MeasurementBatches,
		Tags:        []Tag{{TagLine, b.Line}, {TagSite, b.Site}},
		Fields:      []Field{{FieldBatch, b.Batch}, {FieldEvent, b.Event}, {FieldProduct, b.Product}},
		Time:        t,
	}
}

// SPCRecord is one set of statistics of one detector on one tag for
// measurement "spc".
type SPCRecord struct {
	Time                time.Time
	Site, Line, Machine string
	TagName             string
	Detector            string // e.g. "nelson", "ewma", "cusum", "p_chart", "mkt", "tor"
	Stats               []Stat // written in this order
}

// Stat is one named statistic of an SPCRecord (cl, ucl, lcl, ewma, mkt, …).
type Stat struct {
	Name  string
	Value float64
}

// Point converts the record. Tags: detector, line, machine, site,
// tag_name. Fields: one float per statistic; NaN and infinite ones are
// omitted by the writer.
func (s SPCRecord) Point() Point {
	fields := make([]Field, 0, len(s.Stats))
	for _, st := range s.Stats {
		fields = append(fields, Field{st.Name, st.Value})
	}
	return Point{
		Measurement: MeasurementSPC,
		Tags: []Tag{{TagDetector, s.Detector}, {TagLine, s.Line}, {TagMachine, s.Machine},
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
	Reason              string // why it is disconnected ("" when connected)
	Endpoint            string // OPC UA endpoint URL
}

// Status field keys.
const (
	FieldConnected = "connected"
	FieldEndpoint  = "endpoint"
)

// Point converts the record. Tags: line, machine, site. Fields:
// connected (integer 0/1, mapped to a state by the dashboards), reason,
// endpoint.
func (s StatusRecord) Point() Point {
	return Point{
		Measurement: MeasurementStatus,
		Tags:        []Tag{{TagLine, s.Line}, {TagMachine, s.Machine}, {TagSite, s.Site}},
		Fields:      []Field{{FieldConnected, b01(s.Connected)}, {FieldReason, s.Reason}, {FieldEndpoint, s.Endpoint}},
		Time:        s.Time,
	}
}

// b01 stores a boolean as integer 0/1: InfluxQL cannot sum() or compare
// booleans, and the dashboards do both.
func b01(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Fields of measurement collector_metrics (tag: site): the process's own
// Prometheus figures, copied every 10 s by internal/app, so that plants
// without a Prometheus server see collector health in Grafana. Counters are
// totals since the process started; the dashboards difference them.
const (
	FieldValuesRead    = "values_read"     // integer
	FieldBadValues     = "bad_values"      // integer: read with a bad or uncertain status
	FieldReconnects    = "reconnects"      // integer
	FieldSkippedTicks  = "skipped_ticks"   // integer
	FieldReadLatencyMS = "read_latency_ms" // float: mean Read round trip over the last 10 s
	FieldSpoolBytes    = "spool_bytes"     // integer
	FieldPublishErrors = "publish_errors"  // integer
)
