package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/identity"
)

var verbEvents = map[string]Event{
	VerbAck: EvAck, VerbShelve: EvShelve, VerbUnshelve: EvUnshelve, VerbComment: EvComment,
	VerbReset: EvReset, VerbOutOfService: EvOutOfService, VerbReturnToService: EvInService,
}

// MaxCommandSize bounds a command body.
const MaxCommandSize = 16 << 10

// CodeOldCommand refuses v=1 commands, which named the operator without
// proof.
const CodeOldCommand = "unauthenticated_command"

// commandHead is what any command body says about itself, read leniently
// so that a refusal can name the claimed person in the audit trail.
type commandHead struct {
	V        int    `json:"v"`
	Alarm    string `json:"alarm"`
	Operator string `json:"operator"`
	Token    string `json:"token"`
}

// claimed is who a refused body says it comes from: the v=1 operator
// field, or the unverified user of its token.
func (h commandHead) claimed() string {
	if c, _, _, err := identity.ParseToken(h.Token); err == nil {
		return c.User
	}
	return h.Operator
}

// DecodeCommand parses a command body strictly (unknown fields, including
// the v=1 "operator", are errors).
func DecodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) > MaxCommandSize {
		return c, fmt.Errorf("command is %d bytes, more than %d", len(data), MaxCommandSize)
	}
	var head commandHead
	if err := json.Unmarshal(data, &head); err == nil && head.V != CommandVersion {
		return Command{}, fmt.Errorf("command version v=%d, this server speaks v=%d (a token from `linewatch login` in every command)", head.V, CommandVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("command JSON: %w", err)
	}
	if dec.More() {
		return Command{}, fmt.Errorf("command JSON: trailing data")
	}
	if c.V != CommandVersion {
		return Command{}, fmt.Errorf("command version v=%d, this server speaks v=%d", c.V, CommandVersion)
	}
	if c.Alarm == "" || c.Token == "" {
		return Command{}, fmt.Errorf("command needs alarm and token (got alarm %q, token of %d bytes); log in with `linewatch login`", c.Alarm, len(c.Token))
	}
	return c, nil
}

func (s *Service) respond(ctx context.Context, m *nats.Msg) {
	verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	rep := s.handle(ctx, verb, m.Data)
	data, _ := json.Marshal(rep)
	if m.Reply == "" {
		return
	}
	if err := m.Respond(data); err != nil {
		s.log.Warn("alerts: reply to command", "verb", verb, "err", err)
	}
}

// handle decodes and runs one command body; every refusal of a known verb
// whose body names someone is audited.
func (s *Service) handle(ctx context.Context, verb string, data []byte) Reply {
	if _, ok := verbEvents[verb]; !ok {
		return no(CodeInvalid, "unknown command %q (ack, shelve, unshelve, comment, reset, out_of_service, return_to_service)", verb)
	}
	var head commandHead
	if len(data) <= MaxCommandSize {
		_ = json.Unmarshal(data, &head) // best effort, for the audit of a refusal
	}
	if head.V == 1 {
		msg := "v=1 commands name the operator without proof and are no longer accepted: log in (`linewatch login`) and send v=2 commands with a token (docs/alarms.md)"
		s.auditRefused(ctx, verb, head.Alarm, "", head.claimed(), "", msg)
		return no(CodeOldCommand, "%s", msg)
	}
	c, err := DecodeCommand(data)
	if err != nil {
		if head.Alarm != "" || head.claimed() != "" {
			s.auditRefused(ctx, verb, head.Alarm, "", head.claimed(), "", err.Error())
		}
		return no(CodeInvalid, "%v", err)
	}
	return s.Execute(ctx, verb, c)
}

func no(code, format string, args ...any) Reply {
	return Reply{V: SchemaVersion, Code: code, Message: fmt.Sprintf(format, args...)}
}

// roleOf maps a users-file role to the alarm role; other roles (viewer,
// qa, …) may not command.
func roleOf(u identity.User) Role {
	switch u.Role {
	case identity.RoleOperator:
		return RoleOperator
	case identity.RoleSupervisor:
		return RoleSupervisor
	}
	return ""
}

// Execute runs an operator command: the token and proof are verified and
// the person's role read from the users file as it is now; then the text
// is checked, the state machine run, the change stored, audited and
// published. The Reply says what happened or exactly why not.
func (s *Service) Execute(ctx context.Context, verb string, c Command) Reply {
	ev, ok := verbEvents[verb]
	if !ok {
		return no(CodeInvalid, "unknown command %q (ack, shelve, unshelve, comment, reset, out_of_service, return_to_service)", verb)
	}
	if s.auth == nil {
		s.auditRefused(ctx, verb, c.Alarm, "", commandHead{Token: c.Token}.claimed(), c.Reason, "no users file")
		return no(CodeNotAuthorised, "the alarm service has no users file (console.users_file), so it can verify no one; ask the administrator")
	}
	u, err := VerifyCommand(ctx, s.auth, verb, c)
	if err != nil {
		ae, ok := identity.AsAuthError(err)
		if !ok || ae.Code == identity.CodeUnavailable {
			s.log.Error("alerts: command authentication unavailable", "verb", verb, "err", err)
			return no(CodeInternal, "%s of %s: %v", verb, c.Alarm, err)
		}
		s.auditRefused(ctx, verb, c.Alarm, ae.Verified, ae.Claimed, c.Reason, ae.Message)
		return no(CodeNotAuthorised, "%s of %s refused: %s", verb, c.Alarm, ae.Message)
	}
	role := roleOf(u)
	reason, err := cleanText("reason", c.Reason)
	if err == nil && c.Comment != "" {
		var comment string
		if comment, err = cleanText("comment", c.Comment); err == nil && ev == EvComment {
			reason = comment
		}
	}
	if err != nil {
		s.auditRefused(ctx, verb, c.Alarm, u.Name, "", c.Reason, err.Error())
		return no(CodeInvalid, "%v", err)
	}
	in := Input{Event: ev, Role: role, By: u.Name, Reason: reason, ProcessTime: s.processNow()}
	if ev == EvShelve {
		if c.Duration == "" {
			return no(CodeInvalid, "shelve needs a duration (e.g. \"30m\")")
		}
		d, err := time.ParseDuration(c.Duration)
		if err != nil || d <= 0 {
			return no(CodeInvalid, "shelve duration %q is not a positive duration (use Go syntax, e.g. 30m or 2h)", c.Duration)
		}
		in.Duration = d
	}
	if role == "" {
		why := fmt.Sprintf("user %s has role %q in the users file, which may only view alarms", u.Name, u.Role)
		s.auditRefused(ctx, verb, c.Alarm, u.Name, "", reason, why)
		return no(CodeNotAuthorised, "%s", why)
	}
	trs, rec, err := s.store.apply(ctx, c.Alarm, nil, []Input{in}, s.clock.Now())
	if err != nil {
		code := ErrorCode(err)
		if code == CodeNotAuthorised || code == CodeReasonRequired {
			s.auditRefused(ctx, verb, c.Alarm, u.Name, "", reason, err.Error())
		}
		if code == CodeInternal {
			s.log.Error("alerts: command failed", "verb", verb, "alarm", c.Alarm, "err", err)
			return no(CodeInternal, "%s of %s failed: %v; try again", verb, c.Alarm, err)
		}
		var e *Error
		if errors.As(err, &e) {
			return no(code, "%s", e.Message)
		}
		return no(code, "%v", err)
	}
	s.indexRecord(rec)
	tr := trs[len(trs)-1]
	msg := fmt.Sprintf("%s %s by %s: %s → %s", verb, c.Alarm, u.Name, tr.From, tr.To)
	if !s.publishOutbox(ctx, c.Alarm, rec.Pending) {
		msg += " (recorded; publication on ALARMS is pending and will be retried)"
	}
	a := tr.Alarm
	return Reply{V: SchemaVersion, OK: true, Code: CodeOK, Message: msg, Alarm: &a}
}

// Audit actors of refused commands: a verified user by name; otherwise
// the name the request claimed, marked, so it can never be mistaken for
// a person who acted (user names cannot contain ':').
const (
	ActorClaimedPrefix = "claimed:"
	ActorUnknown       = "unauthenticated"
)

// auditRefused records a refused command as "alarm.<verb>.denied".
func (s *Service) auditRefused(ctx context.Context, verb, alarm, verified, claimed, reason, why string) {
	actor := verified
	switch {
	case actor != "":
	case claimed != "":
		actor = ActorClaimedPrefix + claimed
	default:
		actor = ActorUnknown
	}
	e := audit.Entry{
		Time: s.clock.Now(), Actor: actor, Action: audit.ActionAlarmPrefix + verb + ".denied",
		Object: truncate(alarm, 512), New: truncate(why, 1024), Reason: truncate(reason, 1024),
	}
	if _, err := s.audit.Append(ctx, e); err != nil {
		s.log.Error("alerts: audit of a refused command failed", "verb", verb, "actor", actor, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
