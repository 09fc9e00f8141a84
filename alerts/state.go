package alerts

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/display/text"
)

// Role says who causes an input; person-caused events need an operator or
// supervisor, process events (activate, clear, suppress, shelve expiry) the
// system.
type Role string

const (
	RoleSystem     Role = "system"
	RoleOperator   Role = "operator"
	RoleSupervisor Role = "supervisor"
)

// Input is one thing that happens to an alarm.
type Input struct {
	Event Event
	Role  Role
	// By is the operator identity (required for person-caused events).
	By     string
	Reason string
	// Duration of a shelve.
	Duration time.Duration
	// Finding drives EvActivate (Active) and EvClear (!Active).
	Finding *analytics.Finding
	// ProcessTime is the machines' clock when the input happened (a
	// person's action, a machine state); zero: the recording time. A
	// finding's own time is the process time of EvActivate and EvClear.
	ProcessTime time.Time
}

// FindingInput is the input a finding causes.
func FindingInput(f analytics.Finding) Input {
	ev := EvClear
	if f.Active {
		ev = EvActivate
	}
	return Input{Event: ev, Role: RoleSystem, Finding: &f}
}

// Policy holds the configured limits Apply enforces.
type Policy struct {
	// ShelveMax is the longest shelve an operator may set (alarms.shelve_max).
	ShelveMax time.Duration
	// SupervisorShelveMax is the longest shelve a supervisor may set.
	SupervisorShelveMax time.Duration
	// Chatter: ChatterCount or more activations within ChatterWindow.
	ChatterCount  int
	ChatterWindow time.Duration
	// Time writes the times of refusal messages for people (the site zone,
	// display.Formatter.Time); nil: UTC, 24-hour, labelled.
	Time func(time.Time) string
}

// time writes t for a refusal message.
func (p Policy) time(t time.Time) string {
	if p.Time == nil {
		return text.Time(t, time.UTC)
	}
	return p.Time(t)
}

// Error is a refused input: Code is one of the Code… constants, Message
// says exactly why. The alarm is unchanged.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func refuse(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the reply code of err: CodeOK for nil, the code of an
// *Error, CodeInternal otherwise.
func ErrorCode(err error) string {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// TransitionID is the deterministic id of the seq-th transition of an alarm.
func TransitionID(alarmID string, seq uint64) string {
	return alarmID + "#" + strconv.FormatUint(seq, 10)
}

var personEvents = map[Event]bool{
	EvAck: true, EvReset: true, EvShelve: true, EvUnshelve: true, EvComment: true,
	EvOutOfService: true, EvInService: true,
}

var systemEvents = map[Event]bool{
	EvActivate: true, EvClear: true, EvSuppress: true, EvUnsuppress: true, EvShelveExpire: true,
}

// Apply is the ISA-18.2 state machine: it returns the alarm after input in
// at time now and the transition that records it, or an *Error (and a
// unchanged) when the input is refused or changes nothing. It is pure: no
// I/O, no clock.
func Apply(a Alarm, in Input, now time.Time, p Policy) (Alarm, Transition, error) {
	now = now.UTC()
	if a.State == "" {
		a.State = Normal
	}
	if err := authorise(a, in, p); err != nil {
		return a, Transition{}, err
	}
	b := a
	var err error
	switch in.Event {
	case EvActivate, EvClear:
		err = applyFinding(&b, a, in, p)
	case EvAck:
		err = applyAck(&b, a, in, now, p)
	case EvReset:
		if a.State != Latched {
			return a, Transition{}, refuse(CodeNotLatched, "alarm %s is %s, only a latched alarm can be reset", a.ID, a.State)
		}
		b.State = Normal
	case EvShelve:
		err = applyShelve(&b, a, in, now, p)
	case EvUnshelve:
		if a.State != Shelved {
			return a, Transition{}, refuse(CodeNotShelved, "alarm %s is %s, not shelved", a.ID, a.State)
		}
		unshelve(&b)
	case EvShelveExpire:
		if a.State != Shelved {
			return a, Transition{}, refuse(CodeNotShelved, "alarm %s is %s, not shelved", a.ID, a.State)
		}
		if now.Before(a.ShelvedUntil) {
			return a, Transition{}, refuse(CodeIllegal, "shelve of %s runs until %s", a.ID, p.time(a.ShelvedUntil))
		}
		unshelve(&b)
	case EvSuppress:
		if a.Suppressed {
			return a, Transition{}, refuse(CodeNoChange, "alarm %s is already suppressed by design", a.ID)
		}
		b.Suppressed = true
		if a.State != Shelved && a.State != OutOfService {
			b.State = SuppressedByDesign
		}
	case EvUnsuppress:
		if !a.Suppressed {
			return a, Transition{}, refuse(CodeNoChange, "alarm %s is not suppressed by design", a.ID)
		}
		b.Suppressed = false
		if a.State == SuppressedByDesign {
			b.State = implied(b)
		}
	case EvOutOfService:
		if in.Reason == "" {
			return a, Transition{}, refuse(CodeReasonRequired, "taking alarm %s out of service needs a reason", a.ID)
		}
		if a.State == OutOfService {
			return a, Transition{}, refuse(CodeIllegal, "alarm %s is already out of service (by %s)", a.ID, a.OutOfServiceBy)
		}
		clearShelve(&b)
		b.State, b.OutOfServiceBy, b.OutOfServiceReason = OutOfService, in.By, in.Reason
	case EvInService:
		if a.State != OutOfService {
			return a, Transition{}, refuse(CodeIllegal, "alarm %s is %s, not out of service", a.ID, a.State)
		}
		b.OutOfServiceBy, b.OutOfServiceReason = "", ""
		b.State = implied(b)
	case EvComment:
		if in.Reason == "" {
			return a, Transition{}, refuse(CodeReasonRequired, "a comment needs text")
		}
	default:
		return a, Transition{}, refuse(CodeInvalid, "unknown event %q", in.Event)
	}
	if err != nil {
		return a, Transition{}, err
	}
	b.Seq = a.Seq + 1
	b.UpdatedAt = now
	tr := Transition{
		V: SchemaVersion, ID: TransitionID(b.ID, b.Seq), Seq: b.Seq, Time: now,
		ProcessTime: in.ProcessTime.UTC(), Event: in.Event, From: a.State, To: b.State, Alarm: b,
	}
	if in.Finding != nil {
		tr.ProcessTime = in.Finding.Time.UTC()
	} else if in.ProcessTime.IsZero() {
		tr.ProcessTime = now
	}
	if personEvents[in.Event] {
		tr.By, tr.Reason = in.By, in.Reason
	}
	return b, tr, nil
}

func authorise(a Alarm, in Input, p Policy) error {
	switch {
	case systemEvents[in.Event]:
		if in.Role != RoleSystem {
			return refuse(CodeNotAuthorised, "%s is caused by the process, not by %s %q", in.Event, in.Role, in.By)
		}
	case personEvents[in.Event]:
		if in.By == "" {
			return refuse(CodeInvalid, "%s needs the operator identity", in.Event)
		}
		switch in.Role {
		case RoleOperator:
			if in.Event == EvOutOfService || in.Event == EvInService {
				return refuse(CodeNotAuthorised, "%s: only a supervisor may take alarms out of or back into service; %q is an operator", in.Event, in.By)
			}
			if in.Event == EvShelve && a.Priority == Urgent {
				return refuse(CodeNotAuthorised, "%s is an urgent alarm: only a supervisor may shelve it; %q is an operator", a.ID, in.By)
			}
		case RoleSupervisor:
		default:
			return refuse(CodeNotAuthorised, "%q is not an operator or supervisor in the users file", in.By)
		}
	default:
		return refuse(CodeInvalid, "unknown event %q", in.Event)
	}
	return nil
}

func applyFinding(b *Alarm, a Alarm, in Input, p Policy) error {
	f := in.Finding
	if f == nil || f.Active != (in.Event == EvActivate) {
		return refuse(CodeInvalid, "%s needs a finding with active=%t", in.Event, in.Event == EvActivate)
	}
	if f.ID != "" && f.ID == a.LastFinding {
		return refuse(CodeDuplicate, "finding %s already applied to %s", f.ID, a.ID)
	}
	ft := f.Time.UTC()
	if !a.LastFindingAt.IsZero() && ft.Before(a.LastFindingAt) {
		return refuse(CodeDuplicate, "finding %s at %s is older than the last one applied (%s)", f.ID, ft.Format(time.RFC3339Nano), a.LastFindingAt.Format(time.RFC3339Nano))
	}
	if a.Active == f.Active {
		return refuse(CodeNoChange, "alarm %s is already active=%t", a.ID, a.Active)
	}
	b.Active = f.Active
	b.LastFinding, b.LastFindingAt = f.ID, ft
	b.Value, b.Limit = f.Value, f.Limit
	if f.Message != "" {
		b.Message = f.Message
	}
	if f.Batch != "" {
		b.Batch = f.Batch
	}
	if !f.Active {
		b.ClearedAt = ft
		switch a.State {
		case Unacknowledged:
			b.State = RTNUnack
		case Acknowledged:
			b.State = Normal
			if a.Latching {
				b.State = Latched
			}
		}
		return nil
	}
	b.Evidence = f.Evidence
	b.ActivatedAt, b.ClearedAt = ft, time.Time{}
	b.Activations = a.Activations + 1
	b.RecentActivations, b.Chattering = chatter(a.RecentActivations, ft, p)
	switch a.State {
	case Normal, RTNUnack, Latched:
		b.State = Unacknowledged
		b.AckedAt, b.AckedBy = time.Time{}, ""
	}
	return nil
}

// chatter keeps the activations inside the chatter window (at most Count)
// and says whether there are Count of them.
func chatter(prev []time.Time, t time.Time, p Policy) ([]time.Time, bool) {
	if p.ChatterCount < 2 || p.ChatterWindow <= 0 {
		return nil, false
	}
	out := make([]time.Time, 0, p.ChatterCount)
	for _, x := range prev {
		if t.Sub(x) < p.ChatterWindow {
			out = append(out, x)
		}
	}
	out = append(out, t)
	if len(out) > p.ChatterCount {
		out = out[len(out)-p.ChatterCount:]
	}
	return out, len(out) >= p.ChatterCount
}

func applyAck(b *Alarm, a Alarm, in Input, now time.Time, p Policy) error {
	switch a.State {
	case Unacknowledged:
		b.State = Acknowledged
	case RTNUnack:
		b.State = Normal
		if a.Latching {
			b.State = Latched
		}
	case Acknowledged, Latched:
		return refuse(CodeAlreadyAcknowledged, "alarm %s was already acknowledged by %s at %s", a.ID, a.AckedBy, p.time(a.AckedAt))
	default:
		return refuse(CodeIllegal, "alarm %s is %s: nothing to acknowledge", a.ID, a.State)
	}
	b.AckedAt, b.AckedBy = now, in.By
	return nil
}

func applyShelve(b *Alarm, a Alarm, in Input, now time.Time, p Policy) error {
	if in.Reason == "" {
		return refuse(CodeReasonRequired, "shelving alarm %s needs a reason", a.ID)
	}
	if in.Duration <= 0 {
		return refuse(CodeInvalid, "shelve duration must be > 0 (e.g. 30m), got %s", in.Duration)
	}
	limit := p.shelveLimit(in.Role)
	if in.Duration > limit {
		return refuse(CodeShelveTooLong, "shelve of %s for %s exceeds the %s limit of %s", a.ID, in.Duration, in.Role, limit)
	}
	switch a.State {
	case Shelved:
		return refuse(CodeAlreadyShelved, "alarm %s is already shelved by %s until %s", a.ID, a.ShelvedBy, p.time(a.ShelvedUntil))
	case SuppressedByDesign, OutOfService:
		return refuse(CodeIllegal, "alarm %s is %s and cannot be shelved", a.ID, a.State)
	}
	b.State = Shelved
	b.ShelvedAt, b.ShelvedUntil, b.ShelvedBy, b.ShelveReason = now, now.Add(in.Duration), in.By, in.Reason
	return nil
}

func unshelve(b *Alarm) {
	clearShelve(b)
	b.State = implied(*b)
}

func clearShelve(b *Alarm) {
	b.ShelvedAt, b.ShelvedUntil, b.ShelvedBy, b.ShelveReason = time.Time{}, time.Time{}, "", ""
}

// implied is the state the current conditions imply when the alarm leaves
// shelving, suppression or out-of-service: an active condition must be
// acknowledged afresh, since nobody saw it while it was hidden.
func implied(a Alarm) State {
	switch {
	case a.Suppressed:
		return SuppressedByDesign
	case a.Active:
		return Unacknowledged
	default:
		return Normal
	}
}

func asError(err error, e **Error) bool { return errors.As(err, e) }
