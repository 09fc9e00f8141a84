package identity

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignerKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "auth-token.key")
	s1, err := LoadOrCreateSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("key file %v, directory %v; want 0600 and 0700", fi.Mode().Perm(), di.Mode().Perm())
	}
	s2, err := LoadOrCreateSigner(path)
	if err != nil || s2.KeyID() != s1.KeyID() {
		t.Fatalf("reload: %v, key %s vs %s", err, s2.KeyID(), s1.KeyID())
	}
	os.Chmod(path, 0o644)
	if _, err := LoadOrCreateSigner(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key accepted: %v", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, err := LoadOrCreateSigner(path); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Fatalf("garbage key: %v", err)
	}
}

func TestTokenRoundTripAndProof(t *testing.T) {
	s, err := LoadOrCreateSigner(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	k := NewRequestKey()
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tok := s.Sign(Claims{User: "alice", IssuedAt: now, Expires: now.Add(time.Hour), ID: "j", Key: k.Public()})
	c, _, _, err := ParseToken(tok)
	if err != nil || c.User != "alice" || c.Issuer != s.KeyID() || c.V != TokenVersion {
		t.Fatalf("%+v %v", c, err)
	}
	k2, err := ParseRequestKey(k.String())
	if err != nil || k2.Public() != k.Public() {
		t.Fatalf("request key round trip: %v", err)
	}
	for _, bad := range []string{"", "lw1.", "lw1.x", "lw2." + strings.SplitN(tok, ".", 2)[1], strings.Repeat("a", MaxTokenSize+1)} {
		if _, _, _, err := ParseToken(bad); err == nil {
			t.Errorf("token %.40q accepted", bad)
		}
	}
	// Length prefixes keep fields apart.
	if string(ProofBytes("t", "n", "a", "b", "c")) == string(ProofBytes("t", "n", "a", "bc", "")) {
		t.Fatal("proof bytes ambiguous")
	}
}

func FuzzParseToken(f *testing.F) {
	s := NewSigner(NewRequestKey().priv)
	f.Add(s.Sign(Claims{User: "alice", ID: "x"}))
	f.Add("lw1.e30.AAAA")
	f.Add("lw1..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, signed, sig, err := ParseToken(tok)
		if err == nil && (c.V != TokenVersion || len(sig) != 64 || !strings.HasPrefix(string(signed), "lw1.")) {
			t.Fatalf("accepted %q: %+v", tok, c)
		}
	})
}

// 60 parallel guesses against one key: at most Free are checked, and the
// checks never run more than the cap at once.
func TestLimiterReservesBeforeChecking(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	now.Store(&t0)
	l := NewLimiter(func() time.Time { return *now.Load() }, 2)
	var checks, running, peak atomic.Int32
	check := func() bool {
		checks.Add(1)
		r := running.Add(1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		for range 100 { // stay in the check a while so that overlaps would show
			runtime.Gosched()
		}
		running.Add(-1)
		return false
	}
	keys := []LimitKey{{"ua:alice@10.0.0.9", 5}, {"a:10.0.0.9", 30}}
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() { l.Attempt(context.Background(), keys, check) })
	}
	wg.Wait()
	if n := checks.Load(); n > 5 || n == 0 {
		t.Fatalf("%d checks, want 1..5", n)
	}
	if p := peak.Load(); p > 2 {
		t.Fatalf("%d checks at once, cap 2", p)
	}
	if ok, wait, _ := l.Attempt(context.Background(), keys, func() bool { return true }); ok || wait < 30*time.Second {
		t.Fatalf("right password while blocked: ok=%t wait=%s", ok, wait)
	}
	// Another address for the same user is not blocked.
	if ok, wait, _ := l.Attempt(context.Background(), []LimitKey{{"ua:alice@10.0.0.7", 5}, {"a:10.0.0.7", 30}}, func() bool { return true }); !ok || wait != 0 {
		t.Fatalf("other address: ok=%t wait=%s", ok, wait)
	}
	// The block doubles on the next failure after it ends.
	t1 := t0.Add(30 * time.Second)
	now.Store(&t1)
	if _, wait, _ := l.Attempt(context.Background(), keys, func() bool { return false }); wait != 0 {
		t.Fatalf("attempt after the block: wait %s", wait)
	}
	if wait := l.Blocked(keys); wait != time.Minute {
		t.Fatalf("second block %s, want 1m", wait)
	}
}
