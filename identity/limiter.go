package identity

import (
	"context"
	"sync"
	"time"
)

// LimitKey is one thing attempts are counted against (a user at an
// address, an address, …) with the attempts it gets before it is blocked.
type LimitKey struct {
	Name string
	Free int
}

// Limiter rate-limits password checks. Each attempt is reserved on all
// its keys BEFORE the check runs, so parallel guesses cannot all be checked
// before the first failure counts; a key is blocked once its reserved and
// failed attempts reach Free, for 30 s doubling per further failure up to
// 15 min. At most a fixed number of checks run at once (bcrypt is costly
// on purpose). A success clears its keys.
type Limiter struct {
	mu      sync.Mutex
	now     func() time.Time
	base    time.Duration
	max     time.Duration
	sem     chan struct{}
	entries map[string]*attempts
}

type attempts struct {
	fails, inflight int
	until           time.Time
	last            time.Time
}

// NewLimiter makes a limiter; concurrent bounds the checks running at once.
func NewLimiter(now func() time.Time, concurrent int) *Limiter {
	return &Limiter{now: now, base: 30 * time.Second, max: 15 * time.Minute,
		sem: make(chan struct{}, max(concurrent, 1)), entries: map[string]*attempts{}}
}

// Attempt runs check unless a key is blocked; wait > 0 says for how long
// it is. err is ctx's error when the wait for a check slot ends early.
func (l *Limiter) Attempt(ctx context.Context, keys []LimitKey, check func() bool) (ok bool, wait time.Duration, err error) {
	if wait = l.reserve(keys); wait > 0 {
		return false, wait, nil
	}
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		l.release(keys, false, true)
		return false, 0, ctx.Err()
	}
	ok = check()
	<-l.sem
	l.release(keys, ok, false)
	return ok, 0, nil
}

// Blocked reports how long the longest-blocked key is still blocked.
func (l *Limiter) Blocked(keys []LimitKey) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blockedLocked(keys, l.now())
}

func (l *Limiter) blockedLocked(keys []LimitKey, now time.Time) time.Duration {
	var wait time.Duration
	for _, k := range keys {
		a := l.entries[k.Name]
		switch {
		case a == nil:
		case a.until.After(now):
			wait = max(wait, a.until.Sub(now))
		case a.fails+a.inflight >= max(k.Free, 1) && (a.fails < max(k.Free, 1) || a.inflight > 0):
			// Its free attempts are all in flight, or its block just ended
			// and the one attempt it then gets is in flight.
			wait = max(wait, l.base)
		}
	}
	return wait
}

func (l *Limiter) reserve(keys []LimitKey) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, a := range l.entries {
		if now.Sub(a.last) > l.max && !a.until.After(now) {
			delete(l.entries, k) // forgiven after a quiet period
		}
	}
	if w := l.blockedLocked(keys, now); w > 0 {
		return w
	}
	for _, k := range keys {
		a := l.entries[k.Name]
		if a == nil {
			a = &attempts{}
			l.entries[k.Name] = a
		}
		a.inflight++
		a.last = now
	}
	return 0
}

func (l *Limiter) release(keys []LimitKey, ok, undo bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		a := l.entries[k.Name]
		switch {
		case a == nil:
		case ok:
			delete(l.entries, k.Name)
		case undo:
			a.inflight = max(a.inflight-1, 0)
		default:
			a.inflight = max(a.inflight-1, 0)
			a.fails++
			if a.fails >= max(k.Free, 1) {
				d := l.base
				for i := max(k.Free, 1); i < a.fails && d < l.max; i++ {
					d *= 2
				}
				a.until = now.Add(min(d, l.max))
			}
		}
	}
}
