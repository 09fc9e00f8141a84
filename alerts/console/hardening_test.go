package console_test

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linewatch/linewatch/alerts"
)

// clientFrom is a client whose connections come from another loopback
// address (Linux routes all of 127.0.0.0/8 to lo).
func (r *consoleRig) clientFrom(t *testing.T, ip string) *client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &client{t: t, base: r.url, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext}}}
}

// 60 parallel guesses: each attempt is reserved before bcrypt runs, so at
// most 5 are checked (401) and the rest refused unchecked (429); then not
// even the right password gets in from that address.
func TestParallelGuessesCheckedAtMostFive(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for i := range 60 {
		wg.Go(func() {
			pw := "guess " + string(rune('a'+i%26))
			code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": pw})
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] > 5 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 60 {
		t.Fatalf("response codes %v: want at most 5 checked (401), the rest 429", codes)
	}
	if code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW}); code != http.StatusTooManyRequests {
		t.Fatalf("right password right after the guesses: %d, want 429", code)
	}
	// After the block, one attempt at a time: parallel guesses again check one.
	r.clk.Advance(30 * time.Second)
	clear(codes)
	for range 20 {
		wg.Go(func() {
			code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": "again"})
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] != 1 || codes[http.StatusTooManyRequests] != 19 {
		t.Fatalf("after the block: %v, want exactly one checked", codes)
	}
}

// Failures from one address do not lock the user out at another.
func TestLockoutFromAnotherAddressDoesNotBlockTheUser(t *testing.T) {
	r := startConsole(t, rigOpts{})
	attacker := r.clientFrom(t, "127.0.0.2")
	for range 40 {
		attacker.do("POST", "/api/login", map[string]string{"user": "alice", "password": "guess"})
	}
	if code, _, _ := attacker.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW}); code != http.StatusTooManyRequests {
		t.Fatalf("attacker address not blocked: %d", code)
	}
	alice := r.clientFrom(t, "127.0.0.3")
	alice.login("alice", alicePW)
	a := r.svc.activate("L1", "coldroom", alerts.Urgent, "cold room above 8 °C")
	if code, m, _ := alice.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 200 || m["ok"] != true {
		t.Fatalf("alice's ack from her own address: %d %v", code, m)
	}
}

func (r *consoleRig) setRole(t *testing.T, user, role string) {
	t.Helper()
	b, err := os.ReadFile(r.file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && f[0] == user {
			if role == "" {
				continue
			}
			l = f[0] + ":" + role + ":" + f[2]
		}
		out = append(out, l)
	}
	tmp := r.file + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Join(out, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, r.file); err != nil {
		t.Fatal(err)
	}
}

// A demotion or removal in the users file takes effect on the session's
// next request, without a restart and without anyone logging in.
func TestDemotedOrRemovedUserLosesRightsAtOnce(t *testing.T) {
	r := startConsole(t, rigOpts{})
	c := r.client(t)
	c.login("alice", alicePW)
	a := r.svc.activate("L1", "filler", alerts.High, "fill weight low")
	r.setRole(t, "alice", "viewer")
	if code, m, _ := c.do("GET", "/api/me", nil); code != 200 || m["role"] != "viewer" || m["can_command"] != false {
		t.Fatalf("me after demotion: %d %v", code, m)
	}
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 403 || m["code"] != alerts.CodeNotAuthorised {
		t.Fatalf("ack after demotion: %d %v", code, m)
	}
	r.setRole(t, "alice", "operator")
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 200 || m["ok"] != true {
		t.Fatalf("ack after promotion back: %d %v", code, m)
	}
	r.setRole(t, "alice", "")
	if code, _, _ := c.do("GET", "/api/alarms", nil); code != 401 {
		t.Fatalf("removed user still served: %d", code)
	}
}

// The console acts with the user's own token, renewed as it nears expiry;
// the alarm service (not only the page) refuses a blank reason.
func TestConsoleActsWithTheUsersToken(t *testing.T) {
	r := startConsole(t, rigOpts{})
	c := r.client(t)
	c.login("alice", alicePW)
	a := r.svc.activate("L1", "filler", alerts.High, "fill weight low")
	for range 3 { // 55 min steps: past the 1 h token lifetime twice
		r.clk.Advance(55 * time.Minute)
		if code, m, _ := c.do("GET", "/api/me", nil); code != 200 {
			t.Fatalf("me: %d %v", code, m)
		}
	}
	code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID})
	if code != 200 || m["ok"] != true {
		t.Fatalf("ack 2 h 45 min after login: %d %v", code, m)
	}
	if al, _ := m["alarm"].(map[string]any); al["acked_by"] != "alice" {
		t.Fatalf("acked by %v, want alice", al["acked_by"])
	}
}
