package console_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/console"
)

func TestLoginSessionCSRFLogout(t *testing.T) {
	r := startConsole(t, rigOpts{})
	c := r.client(t)

	if code, _, _ := c.do("GET", "/api/me", nil); code != 401 {
		t.Fatalf("me before login: %d, want 401", code)
	}
	if code, m, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": "wrong"}); code != 401 || m["code"] != "bad_credentials" {
		t.Fatalf("wrong password: %d %v", code, m)
	}
	code, m, resp := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW})
	if code != 200 || m["user"] != "alice" || m["role"] != "operator" || m["can_command"] != true {
		t.Fatalf("login: %d %v", code, m)
	}
	cookie := resp.Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure || cookie.Path != "/" {
		t.Errorf("session cookie flags: %+v", cookie)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	csrf := m["csrf"].(string)
	a := r.svc.activate("L1", "filler", alerts.High, "fill weight low")

	// No CSRF token → refused; wrong origin → refused, even with the token.
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 403 || m["code"] != "csrf" {
		t.Errorf("ack without CSRF: %d %v", code, m)
	}
	c.csrf = csrf
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}, "Origin", "https://evil.example"); code != 403 || m["code"] != "cross_origin" {
		t.Errorf("cross-origin ack: %d %v", code, m)
	}
	if code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}, "Origin", r.url); code != 200 || m["ok"] != true {
		t.Errorf("ack: %d %v", code, m)
	}
	if code, _, _ := c.do("POST", "/api/logout", nil); code != 200 {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := c.do("GET", "/api/me", nil); code != 401 {
		t.Errorf("me after logout: %d, want 401", code)
	}
	if code, _, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID}); code != 401 {
		t.Errorf("ack after logout: %d, want 401", code)
	}
}

func TestLoginFailuresAreRateLimited(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	for i := range 5 {
		if code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": "guess"}); code != 401 {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	code, m, resp := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW})
	if code != 429 || resp.Header.Get("Retry-After") != "30" {
		t.Fatalf("after 5 failures even the right password must wait: %d %v Retry-After=%q", code, m, resp.Header.Get("Retry-After"))
	}
	r.clk.Advance(29 * time.Second)
	if code, _, _ := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW}); code != 429 {
		t.Fatalf("at 29 s: %d, want 429", code)
	}
	r.clk.Advance(time.Second)
	c.login("alice", alicePW)
}

func TestLiveUpdatesAndCommands(t *testing.T) {
	r := startConsole(t, rigOpts{})
	old := r.svc.activate("L1", "press", alerts.Low, "reject rate drifting")
	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	snap := waitEvent(t, ev, "snapshot", func(e sseEvent) bool { return e.name == "snapshot" })
	if list, _ := snap.data["rows"].([]any); len(list) != 1 {
		// The watcher may not have loaded the bucket yet; then the alarm comes as an update.
		waitEvent(t, ev, "existing alarm", isAlarmUpdate(old.ID, "unacknowledged"))
	}

	r.clk.Advance(time.Minute)
	a := r.svc.activate("L1", "coldroom", alerts.Urgent, "cold room above 8 °C")
	// The KV update and the ALARMS transition come from two feeds, in either order.
	isNew := isAlarmUpdate(a.ID, "unacknowledged")
	isActivate := func(e sseEvent) bool {
		tr, _ := e.data["event"].(map[string]any)
		return e.data["type"] == "event" && tr["event"] == "activate" && tr["alarm"] == a.ID
	}
	var sawNew, sawActivate bool
	waitEvent(t, ev, "new alarm and its activate transition", func(e sseEvent) bool {
		sawNew = sawNew || isNew(e)
		sawActivate = sawActivate || isActivate(e)
		return sawNew && sawActivate
	})

	// The list is sorted by priority, then newest first.
	_, list, _ := c.do("GET", "/api/alarms", nil)
	alarms := list["rows"].([]any)
	if len(alarms) != 2 || alarms[0].(map[string]any)["id"] != a.ID {
		t.Errorf("alarm list order: %v", alarms)
	}

	code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID})
	if code != 200 || m["ok"] != true || m["message"] != a.ID+" acknowledged by alice" {
		t.Fatalf("ack: %d %v", code, m)
	}
	up := waitEvent(t, ev, "acknowledged", isAlarmUpdate(a.ID, "acknowledged"))
	if by := up.data["row"].(map[string]any)["acked_by"]; by != "alice" {
		t.Errorf("acked_by = %v: the console must send the logged-in identity", by)
	}
	// The alarm service's refusal reaches the user verbatim.
	code, m, _ = c.do("POST", "/api/alarms/ack", map[string]string{"alarm": a.ID})
	if code != 409 || m["code"] != alerts.CodeAlreadyAcknowledged || m["message"] != a.ID+" was already acknowledged by alice" {
		t.Errorf("second ack: %d %v", code, m)
	}
	code, m, _ = c.do("POST", "/api/alarms/shelve", map[string]string{"alarm": old.ID, "duration": "30m"})
	if code != 400 || m["code"] != alerts.CodeReasonRequired {
		t.Errorf("shelve without reason: %d %v", code, m)
	}
	code, m, _ = c.do("POST", "/api/alarms/shelve", map[string]string{"alarm": old.ID, "duration": "soon", "reason": "x"})
	if code != 400 || !strings.Contains(m["message"].(string), `"soon"`) {
		t.Errorf("shelve with bad duration: %d %v", code, m)
	}
	code, m, _ = c.do("POST", "/api/alarms/shelve", map[string]string{"alarm": old.ID, "duration": "24h", "reason": "sensor swap"})
	if code != 409 || m["code"] != alerts.CodeShelveTooLong {
		t.Errorf("shelve too long: %d %v", code, m)
	}
	code, m, _ = c.do("POST", "/api/alarms/shelve", map[string]string{"alarm": old.ID, "duration": "2h", "reason": "sensor being replaced"})
	if code != 200 || m["ok"] != true {
		t.Fatalf("shelve: %d %v", code, m)
	}
	up = waitEvent(t, ev, "shelved", isAlarmUpdate(old.ID, "shelved"))
	if got := up.data["row"].(map[string]any); got["shelved_by"] != "alice" || got["shelve_reason"] != "sensor being replaced" {
		t.Errorf("shelved alarm = %v", got)
	}

	// A viewer sees alarms but cannot command.
	v := r.client(t)
	v.login("victor", victorPW)
	code, m, _ = v.do("POST", "/api/alarms/ack", map[string]string{"alarm": old.ID})
	if code != 403 || m["code"] != alerts.CodeNotAuthorised {
		t.Errorf("viewer ack: %d %v", code, m)
	}
}

func TestAlarmServiceDown(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	snap := waitEvent(t, ev, "snapshot", func(e sseEvent) bool { return e.name == "snapshot" })
	if s := snap.data["status"].(string); s == "live" {
		t.Errorf("status %q without an alarm bucket", s)
	}
	code, m, _ := c.do("POST", "/api/alarms/ack", map[string]string{"alarm": "plant1/L1/x/t/d"})
	if code != 503 || !strings.Contains(m["message"].(string), "alarm service was not running") {
		t.Errorf("ack with no alarm service: %d %v", code, m)
	}
	// The bucket appears later (alarm service started): the console picks it up.
	svc := newAlarmService(t, r.nc, r.js, r.clk, r.file)
	a := svc.activate("L2", "dryer", alerts.Medium, "shelf temperature drift")
	waitEvent(t, ev, "alarm after the bucket appeared", isAlarmUpdate(a.ID, "unacknowledged"))
}

func TestUsersFileReloadEndsRemovedUsersSessions(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	c.login("alice", alicePW)
	b, _ := os.ReadFile(r.file)
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "alice:") {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(r.file, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	v := r.client(t)
	v.login("victor", victorPW) // a login re-reads the file
	if code, _, _ := c.do("GET", "/api/me", nil); code != 401 {
		t.Errorf("removed user still logged in: %d", code)
	}
}

func TestTLSSecureCookie(t *testing.T) {
	cert := selfSigned(t)
	r := startConsole(t, rigOpts{noService: true, tls: &tls.Config{Certificates: []tls.Certificate{cert}}})
	c := r.client(t)
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c.hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	code, _, resp := c.do("POST", "/api/login", map[string]string{"user": "alice", "password": alicePW})
	if code != 200 || !resp.Cookies()[0].Secure || resp.TLS == nil {
		t.Fatalf("TLS login: %d cookie %+v", code, resp.Cookies())
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); hsts == "" {
		t.Error("no HSTS header over TLS")
	}
}

func TestNoAlarmBucketCreatesNothing(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	waitEvent(t, ev, "snapshot", func(e sseEvent) bool { return e.name == "snapshot" })
	if _, err := r.js.KeyValue(context.Background(), "LINEWATCH_ALARMS"); err != jetstream.ErrBucketNotFound {
		t.Errorf("console created the alarm bucket (or failed oddly): %v", err)
	}
}

func TestStaticPage(t *testing.T) {
	r := startConsole(t, rigOpts{noService: true})
	c := r.client(t)
	for _, p := range []string{"/", "/static/app.js", "/static/style.css"} {
		resp, err := c.hc.Get(r.url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	if code, _, _ := c.do("GET", "/static/", nil); code != 404 {
		t.Errorf("GET /static/: %d, want 404 (no directory listing)", code)
	}
}

func TestSortAlarms(t *testing.T) {
	as := []alerts.Alarm{
		{ID: "c", Priority: alerts.Low, ActivatedAt: t0.Add(3 * time.Minute)},
		{ID: "b", Priority: alerts.Urgent, ActivatedAt: t0},
		{ID: "a", Priority: alerts.Urgent, ActivatedAt: t0.Add(time.Minute)},
		{ID: "d", Priority: alerts.High, ActivatedAt: t0},
	}
	console.SortAlarms(as)
	var got []string
	for _, a := range as {
		got = append(got, a.ID)
	}
	if strings.Join(got, "") != "abdc" {
		t.Errorf("order = %v, want a b d c (priority, then newest first)", got)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "linewatch console test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestShutdownEndsOpenStreams(t *testing.T) {
	r := startConsole(t, rigOpts{})
	c := r.client(t)
	c.login("alice", alicePW)
	ev := c.events()
	waitEvent(t, ev, "snapshot", func(e sseEvent) bool { return e.name == "snapshot" })
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown with an open event stream took %s", d)
	}
	for range ev { // the stream must end, not hang
	}
}
