package alerts

import (
	"strconv"
	"time"

	"github.com/linewatch/linewatch/identity"
)

// SchemaVersion versions the JSON of Transition and Reply.
const SchemaVersion = 1

// CommandVersion versions Command. v=2 commands carry a token and a
// request proof (identity.Request); v=1 commands named the operator
// without proof and are refused.
const CommandVersion = 2

// Priority of an alarm, from config.
type Priority string

const (
	Low    Priority = "low"
	Medium Priority = "medium"
	High   Priority = "high"
	Urgent Priority = "urgent"
)

// State is the ISA-18.2 alarm state (ANSI/ISA-18.2-2016, figure 5: A–H).
type State string

const (
	Normal             State = "normal"         // A
	Unacknowledged     State = "unacknowledged" // B: active, not acknowledged
	Acknowledged       State = "acknowledged"   // C: active, acknowledged
	RTNUnack           State = "rtn_unack"      // D: returned to normal, not acknowledged
	Latched            State = "latched"        // E: returned to normal, acknowledged, awaiting reset
	Shelved            State = "shelved"        // F
	SuppressedByDesign State = "suppressed"     // G
	OutOfService       State = "out_of_service" // H
)

// Alarm is the current state of one alarm point. Its ID is stable:
// site/line/machine/tag/detector[/rule].
type Alarm struct {
	ID       string   `json:"id"`
	Site     string   `json:"site"`
	Line     string   `json:"line"`
	Machine  string   `json:"machine"`
	Tag      string   `json:"tag"`
	Detector string   `json:"detector"`
	Rule     string   `json:"rule,omitempty"`
	Priority Priority `json:"priority"`
	State    State    `json:"state"`
	// Active is the process condition as last reported by analytics,
	// independent of shelving or suppression.
	Active   bool               `json:"active"`
	Message  string             `json:"message"`
	Value    float64            `json:"value"`
	Limit    float64            `json:"limit"`
	Evidence map[string]float64 `json:"evidence,omitempty"`
	Batch    string             `json:"batch,omitempty"`
	Latching bool               `json:"latching,omitempty"`

	ActivatedAt  time.Time `json:"activated_at,omitzero"`
	ClearedAt    time.Time `json:"cleared_at,omitzero"`
	AckedAt      time.Time `json:"acked_at,omitzero"`
	AckedBy      string    `json:"acked_by,omitempty"`
	ShelvedAt    time.Time `json:"shelved_at,omitzero"`
	ShelvedUntil time.Time `json:"shelved_until,omitzero"`
	ShelvedBy    string    `json:"shelved_by,omitempty"`
	ShelveReason string    `json:"shelve_reason,omitempty"`
	// Suppressed is the suppression-by-design condition (machine in one of
	// alarms.suppress_when_state), tracked like Active while the alarm is
	// shelved or out of service so that the right state follows.
	Suppressed bool `json:"suppressed,omitempty"`
	// OutOfServiceBy / OutOfServiceReason: who took the alarm out of service and why.
	OutOfServiceBy     string `json:"out_of_service_by,omitempty"`
	OutOfServiceReason string `json:"out_of_service_reason,omitempty"`
	// Chattering is set when Activations within alarms.chatter.window reach
	// alarms.chatter.count; RecentActivations holds the times it is computed from.
	Chattering        bool        `json:"chattering,omitempty"`
	RecentActivations []time.Time `json:"recent_activations,omitempty"`
	// Activations counts activations (for chattering and bad-actor KPIs).
	Activations int `json:"activations"`
	// LastFinding is the id of the last finding applied; replays of the same
	// finding are ignored.
	LastFinding string `json:"last_finding,omitempty"`
	// LastFindingAt is the time of the last finding applied; older findings
	// (out-of-order redelivery) are ignored.
	LastFindingAt time.Time `json:"last_finding_at,omitzero"`
	Seq           uint64    `json:"seq"` // transitions applied so far
	UpdatedAt     time.Time `json:"updated_at"`
}

// Event names what caused a transition.
type Event string

const (
	EvActivate     Event = "activate"
	EvClear        Event = "clear"
	EvAck          Event = "ack"
	EvReset        Event = "reset" // latched alarm reset by an operator
	EvShelve       Event = "shelve"
	EvUnshelve     Event = "unshelve"
	EvShelveExpire Event = "shelve_expired"
	EvSuppress     Event = "suppress"
	EvUnsuppress   Event = "unsuppress"
	EvOutOfService Event = "out_of_service"
	EvInService    Event = "return_to_service"
	EvComment      Event = "comment"
	// Flood summary of a line (alarm id site/line/_flood): one notification
	// instead of one per alarm while the line floods.
	EvFloodStart Event = "flood_start"
	EvFloodEnd   Event = "flood_end"
)

// Transition is one state change, published on
// linewatch.alarms.<site>.<line>.<priority> (stream ALARMS) and written to
// InfluxDB measurement "alarms". ID = alarm id + "#" + Seq, so a replayed
// transition is deduplicated by JetStream (Nats-Msg-Id) and by readers.
type Transition struct {
	V      int       `json:"v"`
	ID     string    `json:"id"`
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Event  Event     `json:"event"`
	From   State     `json:"from"`
	To     State     `json:"to"`
	By     string    `json:"by,omitempty"`     // operator identity when a person caused it
	Reason string    `json:"reason,omitempty"` // required for shelve; optional otherwise
	Alarm  Alarm     `json:"alarm"`            // state after the transition
}

// Command is an operator request on linewatch.cmd.alarms.<verb>
// (ack, shelve, unshelve, comment, reset, out_of_service,
// return_to_service). Who sends it is proven by the embedded
// identity.Request (token from linewatch.cmd.auth.login, fresh nonce,
// proof signed over the verb and every field below): see NewCommand.
type Command struct {
	V      int    `json:"v"`
	Alarm  string `json:"alarm"`
	Reason string `json:"reason,omitempty"`
	// Duration of a shelve, Go duration syntax ("30m").
	Duration string `json:"duration,omitempty"`
	Comment  string `json:"comment,omitempty"`
	identity.Request
}

// proofFields are the command fields the request proof covers, in order.
func (c Command) proofFields() []string {
	return []string{strconv.Itoa(c.V), c.Alarm, c.Reason, c.Duration, c.Comment}
}

// CommandAction is the proof action of a verb ("alarm.ack").
func CommandAction(verb string) string { return "alarm." + verb }

// Sign fills c's token, nonce and proof for verb; c.V is set to
// CommandVersion. Sign again for every send: a nonce is good once.
func (c Command) Sign(verb, token string, key identity.RequestKey) Command {
	c.V = CommandVersion
	c.Request = identity.Sign(token, key, CommandAction(verb), c.proofFields()...)
	return c
}

// Reply codes.
const (
	CodeOK                  = "ok"
	CodeUnknownAlarm        = "unknown_alarm"
	CodeAlreadyAcknowledged = "already_acknowledged"
	CodeNotAuthorised       = "not_authorised"
	CodeShelveTooLong       = "shelve_too_long"
	CodeReasonRequired      = "reason_required"
	CodeIllegal             = "illegal_transition"
	CodeInvalid             = "invalid_request"
	CodeInternal            = "internal_error"
	CodeAlreadyShelved      = "already_shelved"
	CodeNotShelved          = "not_shelved"
	CodeNotLatched          = "not_latched"
	// CodeDuplicate: a finding already applied (same id, or older than the
	// last one); CodeNoChange: an input that changes nothing (a clear of an
	// alarm that is not active). Neither creates a transition.
	CodeDuplicate = "duplicate"
	CodeNoChange  = "no_change"
	// CodeRedelivered: a FINDINGS message whose stream sequence the alarm
	// already recorded (a redelivery); CodeSuperseded: a finding older
	// than the last one applied to its alarm. Neither creates a
	// transition; both are counted (linewatch_alerts_findings_total).
	CodeRedelivered = "redelivered"
	CodeSuperseded  = "superseded"
)

// Command verbs: the last token of linewatch.cmd.alarms.<verb>.
const (
	VerbAck             = "ack"
	VerbShelve          = "shelve"
	VerbUnshelve        = "unshelve"
	VerbComment         = "comment"
	VerbReset           = "reset"
	VerbOutOfService    = "out_of_service"
	VerbReturnToService = "return_to_service"
)

// Reply answers a Command: what happened, or exactly why not.
type Reply struct {
	V       int    `json:"v"`
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Alarm   *Alarm `json:"alarm,omitempty"`
}
