package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/linewatch/linewatch/identity"
)

// Clock is the console's time source (session expiry, login rate limits).
type Clock interface{ Now() time.Time }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

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
}

// sessions is an in-memory session store: a console restart logs everyone
// out, which is acceptable for an operator console.
type sessions struct {
	mu  sync.Mutex
	clk Clock
	m   map[string]*session
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(u identity.User) (token string, sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	for k, v := range s.m { // drop expired ones so the map stays small
		if s.expired(v, now) {
			delete(s.m, k)
		}
	}
	token = randomToken()
	sess = &session{user: u, csrf: randomToken(), created: now, lastSeen: now}
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

// limiter blocks a client address or a user name after repeated login
// failures, doubling the block each further failure.
type limiter struct {
	mu      sync.Mutex
	clk     Clock
	free    int           // failures allowed before blocking
	base    time.Duration // first block
	max     time.Duration
	entries map[string]*failures
}

type failures struct {
	n     int
	until time.Time
	last  time.Time
}

func newLimiter(clk Clock) *limiter {
	return &limiter{clk: clk, free: 5, base: 30 * time.Second, max: 15 * time.Minute, entries: map[string]*failures{}}
}

// blocked returns how long key is still blocked.
func (l *limiter) blocked(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	var wait time.Duration
	for _, k := range keys {
		if f := l.entries[k]; f != nil && f.until.After(now) {
			wait = max(wait, f.until.Sub(now))
		}
	}
	return wait
}

func (l *limiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	for k, f := range l.entries {
		if now.Sub(f.last) > l.max && !f.until.After(now) {
			delete(l.entries, k) // forgiven after a quiet period
		}
	}
	for _, k := range keys {
		f := l.entries[k]
		if f == nil {
			f = &failures{}
			l.entries[k] = f
		}
		f.n++
		f.last = now
		if f.n >= l.free {
			d := l.base
			for i := l.free; i < f.n && d < l.max; i++ {
				d *= 2
			}
			f.until = now.Add(min(d, l.max))
		}
	}
}

func (l *limiter) succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.entries, k)
	}
}
