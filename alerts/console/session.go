package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
)

const (
	sessionCookie  = "lw_session"
	sessionMaxAge  = 12 * time.Hour // one shift plus handover
	sessionIdleMax = time.Hour
)

type session struct {
	user     identity.User
	csrf     string
	created  time.Time
	lastSeen time.Time
	// alarm is the user's login at the alarm service: the console acts
	// with the user's token, never with an identity of its own.
	alarm *tokenBox
}

// tokenBox holds a session's alarm-service login; mu serialises renewals
// (a refresh ends the old token, so two at once would end each other).
type tokenBox struct {
	mu sync.Mutex
	cs *alerts.ClientSession // nil: the alarm service was not reachable at login
}

// sessions is an in-memory session store: a console restart logs everyone
// out, which is acceptable for an operator console.
type sessions struct {
	mu  sync.Mutex
	clk clock.Clock
	m   map[string]*session
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// loggedIn says whether the session can act at the alarm service.
func (b *tokenBox) loggedIn() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cs != nil
}

func (s *sessions) create(u identity.User, cs *alerts.ClientSession) (token string, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	for k, v := range s.m { // drop expired ones so the map stays small
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
	token = randomToken()
	sess = &session{user: u, csrf: randomToken(), created: now, lastSeen: now, alarm: &tokenBox{cs: cs}}
	s.m[token] = sess
	return token, sess
}

func (s *sessions) expired(v *session, now time.Time) bool {
	return now.Sub(v.created) > sessionMaxAge || now.Sub(v.lastSeen) > sessionIdleMax
}

// get returns the live session of token and refreshes its idle timer.
func (s *sessions) get(token string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[token]
	if v == nil {
		return session{}, false
	}
	now := s.clk.Now()
	if s.expired(v, now) {
		delete(s.m, token)
		return session{}, false
	}
	v.lastSeen = now
	return *v, true
}

func (s *sessions) delete(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
}

// deleteUser ends every session of a user (removed from the users file).
func (s *sessions) deleteUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m {
		if v.user.Name == name {
			delete(s.m, k)
		}
	}
}

func csrfOK(want, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}
