package identity

import (
	"context"
	"fmt"
	"time"
)

// Passwords checks passwords against the users file with the attempt
// limits of a login: per (user, client) 5 and per user over all clients
// 50, each attempt reserved before bcrypt runs, and a bound on bcrypt
// checks running at once. Every password check of a service goes through
// one Passwords (login, e-signature re-authentication), so a guess counts
// against the same budget whichever request carries it.
type Passwords struct {
	users *Directory
	limit *Limiter
}

// NewPasswords limits checks against users; now defaults to the system
// clock, concurrent (bcrypt checks at once) to 2.
func NewPasswords(users *Directory, now func() time.Time, concurrent int) *Passwords {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	if concurrent <= 0 {
		concurrent = 2
	}
	return &Passwords{users: users, limit: NewLimiter(now, concurrent)}
}

// Users is the users file the passwords are checked against.
func (p *Passwords) Users() *Directory { return p.users }

// Check returns the user's current record when the password is right. The
// error is an *AuthError: CodeBadCredentials (unknown user or wrong
// password, not saying which), CodeRateLimited (with Wait) or
// CodeUnavailable (users file unreadable).
func (p *Passwords) Check(ctx context.Context, user, password, client string) (User, error) {
	if err := checkName(user); err != nil {
		return User{}, refused(CodeBadCredentials, "", "Wrong user name or password.")
	}
	keys := []LimitKey{{"uc:" + user + "\x00" + client, 5}, {"u:" + user, 50}}
	var (
		usr   User
		found bool
		rerr  error
	)
	ok, wait, err := p.limit.Attempt(ctx, keys, func() bool {
		usr, found, rerr = p.users.Check(user, password)
		return found && rerr == nil
	})
	switch {
	case err != nil:
		return User{}, fmt.Errorf("password check of %s: %w", user, err)
	case rerr != nil:
		return User{}, &AuthError{Code: CodeUnavailable, Claimed: user, Message: "the users file cannot be read; ask the administrator"}
	case wait > 0:
		secs := int((wait + time.Second - 1) / time.Second)
		return User{}, &AuthError{Code: CodeRateLimited, Claimed: user, Wait: wait,
			Message: fmt.Sprintf("too many failed password checks for %s; try again in %d s", user, secs)}
	case !ok:
		return User{}, refused(CodeBadCredentials, user, "Wrong user name or password.")
	}
	return usr, nil
}
