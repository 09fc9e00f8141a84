package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// SchemaVersion versions the JSON of Condition.
const SchemaVersion = 1

// Condition names (the last but two subject token). One name per kind of
// fault; the scope (line, machine) says where.
const (
	CommLost        = "opcua_comm_lost"           // collector: OPC UA session of a machine down for collector.comm_loss_alarm_delay
	InfluxWrite     = "influxdb_write_failing"    // store: InfluxDB unreachable or refusing writes
	SpoolInUse      = "spool_in_use"              // store: batches wait in the spool
	SpoolHigh       = "spool_above_80pct"         // store: spool above 80 % of influxdb.spool.max_size_mb
	NATSPublish     = "nats_publish_failing"      // collector (telemetry) or analytics (findings)
	NATSSpoolDrop   = "nats_spool_dropping"       // collector: telemetry spool full, oldest messages dropped from NATS
	NotifierNoCons  = "notifier_consumer_missing" // notify: ALARMS consumer gone and not recreated
	AnalyticsLag    = "analytics_lagging"         // analytics: behind telemetry by more than analytics.lag_alarm
	maxReasonLength = 500
)

// Names lists every condition name above: a consumer that needs something
// per name (the alarm text) tests that it has it for each.
var Names = []string{CommLost, InfluxWrite, SpoolInUse, SpoolHigh, NATSPublish, NATSSpoolDrop, NotifierNoCons, AnalyticsLag}

// Sources: the role that reports a condition.
const (
	SourceCollector = "collector"
	SourceStore     = "store"
	SourceAnalytics = "analytics"
	SourceNotify    = "notify"
)

// Priorities a reporter may suggest (the alarm service's alarms.priorities
// rules with detectors: [system] override them).
const (
	Low    = "low"
	Medium = "medium"
	High   = "high"
	Urgent = "urgent"
)

// Condition is the state of one diagnostic condition. Its identity is
// Site, Source, Name, Line and Machine; Line and Machine are empty for a
// condition of the whole site (InfluxDB, NATS, the spool).
type Condition struct {
	V       int    `json:"v"`
	Site    string `json:"site"`
	Source  string `json:"source"`
	Name    string `json:"name"`
	Line    string `json:"line,omitempty"`
	Machine string `json:"machine,omitempty"`
	Active  bool   `json:"active"`
	// Priority is the reporter's suggestion: low, medium, high or urgent.
	Priority string `json:"priority,omitempty"`
	// Reason says what is wrong, in the words of the failing component
	// (e.g. "database not found: linewatch").
	Reason string `json:"reason,omitempty"`
	// Since is when the condition became active (or cleared), UTC.
	Since time.Time `json:"since"`
}

// Key is the identity of the condition within a site.
func (c Condition) Key() string {
	return c.Source + "/" + c.Name + "/" + c.Line + "/" + c.Machine
}

// MsgID is the JetStream message id of one change: a republished change
// has the same id and is dropped by the stream's duplicate window.
func (c Condition) MsgID() string {
	return fmt.Sprintf("%s/%s/%d/%t", c.Site, c.Key(), c.Since.UnixNano(), c.Active)
}

// Subject is where changes of c are published:
// linewatch.health.<site>.<source>.<name>.<line|_>.<machine|_>.
func Subject(c Condition) string {
	return SubjectPrefix + token(c.Site) + "." + token(c.Source) + "." + token(c.Name) + "." + token(c.Line) + "." + token(c.Machine)
}

// SubjectPrefix is the subject root of every condition change;
// subscribe to SubjectPrefix + ">".
const SubjectPrefix = "linewatch.health."

// token makes s one subject token ("_" when empty). Site, line and
// machine ids are validated by config; this only guards against a
// wildcard or separator reaching the subject.
func token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '.' || r == '*' || r == '>' || r <= ' ' || r == 0x7f:
			return '_'
		}
		return r
	}, s)
}

// Decode reads one published Condition and checks it.
func Decode(data []byte) (Condition, error) {
	var c Condition
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("health condition: %w", err)
	}
	var errs []error
	if c.V != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema version %d, want %d", c.V, SchemaVersion))
	}
	if c.Source == "" || c.Name == "" {
		errs = append(errs, fmt.Errorf("source %q and name %q are required", c.Source, c.Name))
	}
	if c.Since.IsZero() {
		errs = append(errs, errors.New("since is required"))
	}
	switch c.Priority {
	case "", Low, Medium, High, Urgent:
	default:
		errs = append(errs, fmt.Errorf("priority %q: want low, medium, high or urgent", c.Priority))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("health condition %s: %w", c.Key(), err)
	}
	return c, nil
}

// clip bounds a reason (it comes from error strings of other systems).
func clip(s string) string {
	if len(s) <= maxReasonLength {
		return s
	}
	cut := maxReasonLength
	for cut > 0 && s[cut]&0xc0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
