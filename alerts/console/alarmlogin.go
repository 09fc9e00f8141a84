package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// errNoAlarmLogin: the session has no token to act with.
var errNoAlarmLogin = errors.New("the alarm service was not running or refused your login when you logged in, so nothing can be sent in your name; log out and in again to send commands")

// renewBefore is how long before its expiry the console renews a token.
const renewBefore = 10 * time.Minute

// alarmLogin logs the user in at the alarm service with the password just
// checked, so that the console acts with the user's own token. Nil when
// the service is unreachable or refuses: the session may then only view.
func (s *Server) alarmLogin(ctx context.Context, user, password, ip string) *alerts.ClientSession {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommandTimeout)
	defer cancel()
	cs, rep, err := alerts.Login(ctx, s.opts.NATS, user, password, "console "+ip)
	switch {
	case err != nil:
		s.log.Warn("console: alarm service login failed; the session can only view", "user", user, "err", err)
		return nil
	case !rep.OK:
		s.log.Warn("console: alarm service refused the login; the session can only view", "user", user, "code", rep.Code, "reason", rep.Message)
		return nil
	}
	return &cs
}

// alarmRenew returns the session's alarm-service login, renewed when it
// expires within renewBefore.
func (s *Server) alarmRenew(ctx context.Context, box *tokenBox) (alerts.ClientSession, error) {
	box.mu.Lock()
	defer box.mu.Unlock()
	if box.cs == nil {
		return alerts.ClientSession{}, errNoAlarmLogin
	}
	now := s.clk.Now()
	if box.cs.Expires.Sub(now) > renewBefore {
		return *box.cs, nil
	}
	next := *box.cs
	rep, err := next.Refresh(ctx, s.opts.NATS)
	switch {
	case err == nil && rep.OK:
		box.cs = &next
	case !now.Before(box.cs.Expires):
		msg := rep.Message
		if err != nil {
			msg = err.Error()
		}
		return alerts.ClientSession{}, fmt.Errorf("your login at the alarm service has ended (%s); log out and in again", msg)
	default:
		s.log.Warn("console: token renewal failed; will retry", "user", box.cs.User, "code", rep.Code, "err", err)
	}
	return *box.cs, nil
}

// alarmLogout ends the session's token at the alarm service (best effort:
// it expires anyway).
func (s *Server) alarmLogout(ctx context.Context, sess session) {
	box := sess.alarm
	box.mu.Lock()
	defer box.mu.Unlock()
	if box.cs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CommandTimeout)
	defer cancel()
	if rep, err := box.cs.Logout(ctx, s.opts.NATS); err != nil || !rep.OK {
		s.log.Warn("console: alarm service logout", "user", sess.user.Name, "code", rep.Code, "err", err)
	}
	box.cs = nil
}
