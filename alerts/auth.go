package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
)

// AuthVersion versions LoginRequest, AuthRequest and AuthReply.
const AuthVersion = 1

// LoginRequest is sent on linewatch.cmd.auth.login.
type LoginRequest struct {
	V        int    `json:"v"`
	User     string `json:"user"`
	Password string `json:"password"`
	// Key is the requester's public key (identity.RequestKey.Public); the
	// token is bound to it.
	Key string `json:"key"`
	// Client says where the login comes from ("console 10.0.0.7",
	// "cli host/user"); failed logins are limited per user and client.
	Client string `json:"client,omitempty"`
}

// AuthRequest is sent on linewatch.cmd.auth.{refresh,logout}: the proof
// signs action "auth.<verb>" with no fields.
type AuthRequest struct {
	V int `json:"v"`
	identity.Request
}

// AuthReply answers every auth request.
type AuthReply struct {
	V       int       `json:"v"`
	OK      bool      `json:"ok"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Token   string    `json:"token,omitempty"`
	User    string    `json:"user,omitempty"`
	Role    string    `json:"role,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// RetryAfter is set with code rate_limited, in seconds.
	RetryAfter int `json:"retry_after,omitempty"`
}

// Audit actions of logins.
const (
	ActionLogin       = "auth.login"
	ActionLoginDenied = "auth.login.denied"
	ActionLogout      = "auth.logout"
)

func decodeStrict(data []byte, v any) error {
	if len(data) > MaxCommandSize {
		return fmt.Errorf("request is %d bytes, more than %d", len(data), MaxCommandSize)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request JSON: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("request JSON: trailing data")
	}
	return nil
}

// AuthServer answers linewatch.cmd.auth.{login,refresh,logout} with an
// Authority and audits logins. The alarm service runs one; another
// request handler of the alerts role may run its own on the same
// Authority.
type AuthServer struct {
	auth  *identity.Authority
	audit Auditor
	clock clock.Clock
	log   *slog.Logger
}

// NewAuthServer makes an AuthServer; auth nil refuses every request.
func NewAuthServer(auth *identity.Authority, audit Auditor, clk clock.Clock, log *slog.Logger) *AuthServer {
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &AuthServer{auth: auth, audit: audit, clock: clk, log: log}
}

// Respond answers one request on linewatch.cmd.auth.<verb>.
func (s *AuthServer) Respond(ctx context.Context, m *nats.Msg) {
	verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	rep := s.handleAuth(ctx, verb, m.Data)
	rep.V = AuthVersion
	if m.Reply == "" {
		return
	}
	data, _ := json.Marshal(rep)
	if err := m.Respond(data); err != nil {
		s.log.Warn("alerts: reply to auth request", "verb", verb, "err", err)
	}
}

func authRefusal(err error) AuthReply {
	if ae, ok := identity.AsAuthError(err); ok {
		r := AuthReply{Code: ae.Code, Message: ae.Message}
		if ae.Wait > 0 {
			r.RetryAfter = int((ae.Wait + time.Second - 1) / time.Second)
		}
		return r
	}
	return AuthReply{Code: CodeInternal, Message: err.Error()}
}

func (s *AuthServer) handleAuth(ctx context.Context, verb string, data []byte) AuthReply {
	if s.auth == nil {
		return AuthReply{Code: identity.CodeUnavailable, Message: "the alarm service has no users file (console.users_file); ask the administrator"}
	}
	switch verb {
	case bus.AuthLogin:
		var req LoginRequest
		if err := decodeStrict(data, &req); err != nil || req.V != AuthVersion {
			return AuthReply{Code: CodeInvalid, Message: fmt.Sprintf("send {\"v\":%d,\"user\",\"password\",\"key\"} (%v)", AuthVersion, err)}
		}
		sess, err := s.auth.Login(ctx, req.User, req.Password, truncate(req.Client, 200), req.Key)
		if err != nil {
			rep := authRefusal(err)
			if rep.Code == identity.CodeBadCredentials {
				s.auditAuth(ctx, ActorClaimedPrefix+req.User, ActionLoginDenied, req.Client, rep.Message)
			}
			return rep
		}
		s.auditAuth(ctx, sess.User.Name, ActionLogin, req.Client, "role "+sess.User.Role)
		return sessionReply(sess, "logged in")
	case bus.AuthRefresh, bus.AuthLogout:
		var req AuthRequest
		if err := decodeStrict(data, &req); err != nil || req.V != AuthVersion {
			return AuthReply{Code: CodeInvalid, Message: fmt.Sprintf("send {\"v\":%d,\"token\",\"nonce\",\"proof\"} (%v)", AuthVersion, err)}
		}
		if verb == bus.AuthLogout {
			u, err := s.auth.Logout(ctx, req.Request)
			if err != nil {
				return authRefusal(err)
			}
			s.auditAuth(ctx, u.Name, ActionLogout, "", "")
			return AuthReply{OK: true, Code: CodeOK, Message: "logged out", User: u.Name}
		}
		sess, err := s.auth.Refresh(ctx, req.Request)
		if err != nil {
			return authRefusal(err)
		}
		return sessionReply(sess, "token renewed")
	}
	return AuthReply{Code: CodeInvalid, Message: fmt.Sprintf("unknown auth request %q (login, refresh, logout)", verb)}
}

func sessionReply(sess identity.Session, msg string) AuthReply {
	return AuthReply{OK: true, Code: CodeOK, Message: msg, Token: sess.Token, User: sess.User.Name,
		Role: sess.User.Role, Expires: sess.Claims.Expires}
}

func (s *AuthServer) auditAuth(ctx context.Context, actor, action, object, why string) {
	e := audit.Entry{Time: s.clock.Now(), Actor: actor, Action: action, Object: truncate(object, 200), New: why}
	if _, err := s.audit.Append(ctx, e); err != nil {
		s.log.Error("alerts: audit of a login failed", "actor", actor, "err", err)
	}
}

// VerifyCommand checks c's token and proof for verb and returns the
// sender's current users-file record.
func VerifyCommand(ctx context.Context, a *identity.Authority, verb string, c Command) (identity.User, error) {
	u, _, err := a.Verify(ctx, c.Request, CommandAction(verb), c.proofFields()...)
	return u, err
}
