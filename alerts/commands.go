package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/audit"
)

var verbEvents = map[string]Event{
	VerbAck: EvAck, VerbShelve: EvShelve, VerbUnshelve: EvUnshelve, VerbComment: EvComment,
	VerbReset: EvReset, VerbOutOfService: EvOutOfService, VerbReturnToService: EvInService,
}

// MaxCommandSize bounds a command body.
const MaxCommandSize = 16 << 10

// DecodeCommand parses a command body strictly (unknown fields are errors).
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) > MaxCommandSize {
		return c, fmt.Errorf("command is %d bytes, more than %d", len(data), MaxCommandSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("command JSON: %w", err)
	}
	if dec.More() {
		return Command{}, fmt.Errorf("command JSON: trailing data")
	}
	if c.V != SchemaVersion {
		return Command{}, fmt.Errorf("command version v=%d, this server speaks v=%d", c.V, SchemaVersion)
	}
	if c.Alarm == "" || c.Operator == "" {
		return Command{}, fmt.Errorf("command needs alarm and operator (got alarm %q, operator %q)", c.Alarm, c.Operator)
	}
	return c, nil
}

func (s *Service) respond(ctx context.Context, m *nats.Msg) {
	verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	var rep Reply
	if c, err := DecodeCommand(m.Data); err != nil {
		rep = Reply{V: SchemaVersion, Code: CodeInvalid, Message: err.Error()}
	} else {
		rep = s.Execute(ctx, verb, c)
	}
	data, _ := json.Marshal(rep)
	if m.Reply == "" {
		return
	}
	if err := m.Respond(data); err != nil {
		s.log.Warn("alerts: reply to command", "verb", verb, "err", err)
	}
}

// Execute runs an operator command: role check (alarms.roles), state
// machine, store, audit, publish. The Reply says what happened or exactly
// why not.
func (s *Service) Execute(ctx context.Context, verb string, c Command) Reply {
	no := func(code, format string, args ...any) Reply {
		return Reply{V: SchemaVersion, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	ev, ok := verbEvents[verb]
	if !ok {
		return no(CodeInvalid, "unknown command %q (ack, shelve, unshelve, comment, reset, out_of_service, return_to_service)", verb)
	}
	role := RoleOf(s.cfg.Alarms.Roles, c.Operator)
	in := Input{Event: ev, Role: role, By: c.Operator, Reason: c.Reason}
	if ev == EvComment && c.Comment != "" {
		in.Reason = c.Comment
	}
	if ev == EvShelve {
		if c.Duration == "" {
			return no(CodeInvalid, "shelve needs a duration (e.g. \"30m\")")
		}
		d, err := time.ParseDuration(c.Duration)
		if err != nil {
			return no(CodeInvalid, "shelve duration %q: %v (use Go syntax, e.g. 30m or 2h)", c.Duration, err)
		}
		in.Duration = d
	}
	if role == "" {
		s.auditDenied(ctx, verb, c, "not in alarms.roles")
		return no(CodeNotAuthorised, "%q is not an operator or supervisor in alarms.roles", c.Operator)
	}
	trs, rec, err := s.store.apply(ctx, c.Alarm, nil, []Input{in}, s.clock.Now())
	if err != nil {
		code := ErrorCode(err)
		if code == CodeNotAuthorised {
			s.auditDenied(ctx, verb, c, err.Error())
		}
		if code == CodeInternal {
			s.log.Error("alerts: command failed", "verb", verb, "alarm", c.Alarm, "err", err)
			return no(CodeInternal, "%s of %s failed: %v; try again", verb, c.Alarm, err)
		}
		var e *Error
		if asError(err, &e) {
			return no(code, "%s", e.Message)
		}
		return no(code, "%v", err)
	}
	s.indexRecord(rec)
	tr := trs[len(trs)-1]
	msg := fmt.Sprintf("%s %s by %s: %s → %s", verb, c.Alarm, c.Operator, tr.From, tr.To)
	if !s.publishOutbox(ctx, c.Alarm, rec.Pending) {
		msg += " (recorded; publication on ALARMS is pending and will be retried)"
	}
	a := tr.Alarm
	return Reply{V: SchemaVersion, OK: true, Code: CodeOK, Message: msg, Alarm: &a}
}

func (s *Service) auditDenied(ctx context.Context, verb string, c Command, why string) {
	e := audit.Entry{
		Time: s.clock.Now(), Actor: c.Operator, Action: audit.ActionAlarmPrefix + verb + ".denied",
		Object: c.Alarm, New: why, Reason: c.Reason,
	}
	if _, err := s.audit.Append(ctx, e); err != nil {
		s.log.Error("alerts: audit of a refused command failed", "verb", verb, "operator", c.Operator, "err", err)
	}
}
