package alerts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/identity"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

type authFixture struct {
	s     *Service
	cfg   *config.Config
	nc    *nats.Conn
	js    jetstream.JetStream
	clock *clock.Fake
	id    string // an unacknowledged alarm
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	nc, js := testenv.NATSConn(t)
	cfg := demoConfig(t)
	clock := newClock()
	s := newService(t, cfg, nc, clock, nil)
	run(t, s)
	f := fnd("filling1", "filler", "fill_weight", true, t0)
	if err := s.Notify(context.Background(), []analytics.Finding{f}); err != nil {
		t.Fatal(err)
	}
	return &authFixture{s: s, cfg: cfg, nc: nc, js: js, clock: clock, id: AlarmID(cfg.Site, f)}
}

func (f *authFixture) raw(t *testing.T, verb string, body any) Reply {
	t.Helper()
	data, ok := body.([]byte)
	if !ok {
		data, _ = json.Marshal(body)
	}
	m, err := f.nc.Request(bus.CmdSubject(verb), data, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", verb, err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *authFixture) login(t *testing.T, user, password string) (ClientSession, AuthReply) {
	t.Helper()
	cs, rep, err := Login(context.Background(), f.nc, user, password, "test")
	if err != nil {
		t.Fatal(err)
	}
	return cs, rep
}

func (f *authFixture) state(t *testing.T) State {
	t.Helper()
	a, _, err := f.s.Store().Get(context.Background(), f.id)
	if err != nil {
		t.Fatal(err)
	}
	return a.State
}

// lastAudit is the newest audit entry.
func (f *authFixture) lastAudit(t *testing.T) audit.Entry {
	t.Helper()
	es := auditEntries(t, f.js)
	if len(es) == 0 {
		t.Fatal("audit trail empty")
	}
	return es[len(es)-1]
}

func refusedAs(t *testing.T, f *authFixture, r Reply, code string, actor, action string) {
	t.Helper()
	if r.OK || r.Code != code || r.Message == "" {
		t.Fatalf("reply %+v, want refusal %s", r, code)
	}
	e := f.lastAudit(t)
	if e.Actor != actor || e.Action != action {
		t.Fatalf("audit %q %q (%s), want %q %q", e.Actor, e.Action, e.New, actor, action)
	}
}

// Today's attack: any NATS client names a supervisor in the payload. Every
// variation of an unproven name is refused, changes nothing and is audited
// with the name marked as claimed.
func TestForgedOperatorNameRefusedIntegration(t *testing.T) {
	f := newAuthFixture(t)
	alice, _ := f.login(t, "alice", pw("alice"))
	for _, c := range []struct {
		name, verb string
		body       any
		code       string
		actor      string
	}{
		{"v1 out of service as carol", VerbOutOfService, map[string]any{"v": 1, "alarm": f.id, "operator": "carol", "reason": "maintenance"}, CodeOldCommand, "claimed:carol"},
		{"v1 shelve as carol", VerbShelve, map[string]any{"v": 1, "alarm": f.id, "operator": "carol", "reason": "x", "duration": "8h"}, CodeOldCommand, "claimed:carol"},
		{"v1 with capitalised key", VerbAck, []byte(`{"v":1,"alarm":"` + f.id + `","Operator":"carol"}`), CodeOldCommand, "claimed:carol"},
		{"v2 naming carol, no token", VerbOutOfService, map[string]any{"v": 2, "alarm": f.id, "operator": "carol", "reason": "x"}, CodeInvalid, "claimed:carol"},
		{"v2 without token", VerbAck, map[string]any{"v": 2, "alarm": f.id}, CodeInvalid, ActorUnknown},
		{"v0", VerbAck, map[string]any{"v": 0, "alarm": f.id, "operator": "carol"}, CodeInvalid, "claimed:carol"},
		{"v3", VerbAck, map[string]any{"v": 3, "alarm": f.id, "operator": "carol"}, CodeInvalid, "claimed:carol"},
		{"garbage token", VerbAck, map[string]any{"v": 2, "alarm": f.id, "token": "carol", "nonce": strings.Repeat("n", 20), "proof": "x"}, CodeNotAuthorised, ActorUnknown},
		// alice's real token, with the payload naming carol: refused as a whole.
		{"alice's token naming carol", VerbOutOfService, func() any {
			c := signWith(t, alice, VerbOutOfService, Command{Alarm: f.id, Reason: "x"})
			b, _ := json.Marshal(c)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			m["operator"] = "carol"
			return m
		}(), CodeInvalid, "claimed:alice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			refusedAs(t, f, f.raw(t, c.verb, c.body), c.code, c.actor, "alarm."+c.verb+".denied")
			if st := f.state(t); st != Unacknowledged {
				t.Fatalf("alarm state %s after a refused command", st)
			}
		})
	}
	// alice's own token acts as alice, an operator: out of service refused.
	r, err := alice.Send(context.Background(), f.nc, VerbOutOfService, Command{Alarm: f.id, Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	refusedAs(t, f, r, CodeNotAuthorised, "alice", "alarm.out_of_service.denied")
	if r, _ := alice.Send(context.Background(), f.nc, VerbAck, Command{Alarm: f.id}); !r.OK || r.Alarm.AckedBy != "alice" {
		t.Fatalf("alice's ack: %+v", r)
	}
}

// A token only works for the holder of the key it was issued to, for the
// exact request signed, once, before it expires, with this service's key.
func TestTokenForgeryExpiryReplayIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	carol, _ := f.login(t, "carol", pw("carol"))
	key, _ := identity.ParseRequestKey(carol.Key)
	oos := Command{Alarm: f.id, Reason: "scale removed"}

	// Forged claims: carol's signature over alice's claims.
	claims, _, _, err := identity.ParseToken(carol.Token)
	if err != nil {
		t.Fatal(err)
	}
	forged := func(c identity.Claims, signer *identity.Signer) string { return signer.Sign(c) }
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other := identity.NewSigner(otherPriv)
	parts := strings.Split(carol.Token, ".")
	swapped := claims
	swapped.User = "alice"
	body, _ := json.Marshal(swapped)
	tamperedClaims := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2]
	for _, c := range []struct {
		name, token, actor string
		sign               identity.RequestKey
	}{
		{"claims edited, old signature", tamperedClaims, "claimed:alice", key},
		{"signed by another key", forged(claims, other), "claimed:carol", key},
		{"proof by another request key", carol.Token, "claimed:carol", identity.NewRequestKey()},
		{"signature stripped", parts[0] + "." + parts[1] + ".", ActorUnknown, key},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := oos.Sign(VerbOutOfService, c.token, c.sign)
			refusedAs(t, f, f.raw(t, VerbOutOfService, cmd), CodeNotAuthorised, c.actor, "alarm.out_of_service.denied")
		})
	}

	// A proof covers verb and fields: the same proof on another verb or
	// with another reason is refused.
	signed := oos.Sign(VerbOutOfService, carol.Token, key)
	moved := signed
	moved.Reason = "changed on the way"
	refusedAs(t, f, f.raw(t, VerbOutOfService, moved), CodeNotAuthorised, "claimed:carol", "alarm.out_of_service.denied")
	refusedAs(t, f, f.raw(t, VerbShelve, signed), CodeNotAuthorised, "claimed:carol", "alarm.shelve.denied")

	// Replay: the exact request twice; the second is refused.
	if r := f.raw(t, VerbOutOfService, signed); !r.OK {
		t.Fatalf("first send: %+v", r)
	}
	refusedAs(t, f, f.raw(t, VerbOutOfService, signed), CodeNotAuthorised, "carol", "alarm.out_of_service.denied")

	// Replay on another worker (same key file, shared nonce bucket).
	w2 := newService(t, f.cfg, f.nc, f.clock, nil)
	back := Command{Alarm: f.id, Reason: "back"}.Sign(VerbReturnToService, carol.Token, key)
	if r := w2.Execute(ctx, VerbReturnToService, back); !r.OK {
		t.Fatalf("worker 2: %+v", r)
	}
	if r := f.s.Execute(ctx, VerbReturnToService, back); r.OK || !strings.Contains(r.Message, "replay") {
		t.Fatalf("replay on worker 1: %+v", r)
	}

	// Expiry, on the injected clock.
	f.clock.Advance(identity.TokenTTL)
	r, err := carol.Send(ctx, f.nc, VerbOutOfService, oos)
	if err != nil {
		t.Fatal(err)
	}
	refusedAs(t, f, r, CodeNotAuthorised, "claimed:carol", "alarm.out_of_service.denied")
	if !strings.Contains(r.Message, "expired") {
		t.Fatalf("expired token: %q", r.Message)
	}
}

// Refresh keeps a login alive with a new token and ends the old one;
// logout ends the token; a session never outlives SessionMax.
func TestRefreshAndLogoutIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	alice, _ := f.login(t, "alice", pw("alice"))
	old := alice
	f.clock.Advance(50 * time.Minute)
	if rep, err := alice.Refresh(ctx, f.nc); err != nil || !rep.OK || alice.Token == old.Token {
		t.Fatalf("refresh: %+v %v", rep, err)
	}
	if r, _ := old.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "old token"}); r.OK {
		t.Fatal("the token replaced by a refresh still works")
	}
	f.clock.Advance(50 * time.Minute) // past the first token's expiry
	if r, _ := alice.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "new token"}); !r.OK {
		t.Fatalf("refreshed token: %+v", r)
	}
	for range 12 {
		f.clock.Advance(50 * time.Minute)
		alice.Refresh(ctx, f.nc)
	}
	if r, _ := alice.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "13 h later"}); r.OK {
		t.Fatal("a login outlived SessionMax through refreshes")
	}
	bob, _ := f.login(t, "bob", pw("bob"))
	if rep, err := bob.Logout(ctx, f.nc); err != nil || !rep.OK {
		t.Fatalf("logout: %+v %v", rep, err)
	}
	if r, _ := bob.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "after logout"}); r.OK {
		t.Fatal("token works after logout")
	}
}

// The role is the users file's as it is when the command runs.
func TestDemotedOrRemovedUserRefusedIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	carol, _ := f.login(t, "carol", pw("carol"))
	alice, _ := f.login(t, "alice", pw("alice"))
	if r, _ := carol.Send(ctx, f.nc, VerbOutOfService, Command{Alarm: f.id, Reason: "maintenance"}); !r.OK {
		t.Fatalf("carol as supervisor: %+v", r)
	}
	writeUsers(t, f.cfg.Console.UsersFile, map[string]string{"alice": "viewer", "carol": "operator"})
	r, _ := carol.Send(ctx, f.nc, VerbReturnToService, Command{Alarm: f.id, Reason: "back"})
	refusedAs(t, f, r, CodeNotAuthorised, "carol", "alarm.return_to_service.denied")
	r, _ = alice.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "still here?"})
	refusedAs(t, f, r, CodeNotAuthorised, "alice", "alarm.comment.denied")
	writeUsers(t, f.cfg.Console.UsersFile, map[string]string{"alice": "operator"})
	r, _ = carol.Send(ctx, f.nc, VerbComment, Command{Alarm: f.id, Comment: "removed"})
	refusedAs(t, f, r, CodeNotAuthorised, "carol", "alarm.comment.denied")
	if !strings.Contains(r.Message, "no longer in the users file") {
		t.Fatalf("removed user: %q", r.Message)
	}
	if rep, _ := carol.Refresh(ctx, f.nc); rep.OK {
		t.Fatal("a removed user refreshed a token")
	}
	if st := f.state(t); st != OutOfService {
		t.Fatalf("state %s", st)
	}
}

// The service itself trims text and requires a real reason.
func TestBlankReasonRefusedByTheServiceIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	carol, _ := f.login(t, "carol", pw("carol"))
	blanks := []string{" ", "   ", "\t\n\r", "\u00a0\u2003\u3000", "\u200b\u200d\ufeff", "\u3164", "\u2800", "\x00", " \u0301 "}
	for _, b := range blanks {
		for _, c := range []struct {
			verb string
			c    Command
		}{
			{VerbShelve, Command{Alarm: f.id, Duration: "30m", Reason: b}},
			{VerbOutOfService, Command{Alarm: f.id, Reason: b}},
			{VerbComment, Command{Alarm: f.id, Comment: b}},
		} {
			r, err := carol.Send(ctx, f.nc, c.verb, c.c)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK || (r.Code != CodeReasonRequired && r.Code != CodeInvalid) {
				t.Fatalf("%s with reason %q: %+v", c.verb, b, r)
			}
		}
	}
	for _, bad := range []string{"ok\x1b[31m", "ok\u202eevil", strings.Repeat("x", MaxTextLen+1)} {
		if r, _ := carol.Send(ctx, f.nc, VerbShelve, Command{Alarm: f.id, Duration: "30m", Reason: bad}); r.OK || r.Code != CodeInvalid {
			t.Fatalf("reason %q: %+v", bad, r)
		}
	}
	r, _ := carol.Send(ctx, f.nc, VerbShelve, Command{Alarm: f.id, Duration: "30m", Reason: "  scale\trecalibration \n"})
	if !r.OK || r.Alarm.ShelveReason != "scale\trecalibration" {
		t.Fatalf("trimmed reason: %+v", r)
	}
	if st := f.state(t); st != Shelved {
		t.Fatalf("state %s", st)
	}
}

// Login over NATS: a wrong password is audited; failures are counted
// before the password is checked, per user and client.
func TestLoginOverNATSIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	if _, rep := f.login(t, "alice", "wrong"); rep.OK || rep.Code != identity.CodeBadCredentials {
		t.Fatalf("wrong password: %+v", rep)
	}
	if e := f.lastAudit(t); e.Actor != "claimed:alice" || e.Action != ActionLoginDenied {
		t.Fatalf("audit %+v", e)
	}
	if _, rep := f.login(t, "nobody", "x"); rep.OK || rep.Code != identity.CodeBadCredentials {
		t.Fatalf("unknown user: %+v", rep)
	}
	for range 4 {
		f.login(t, "alice", "wrong")
	}
	if _, rep := f.login(t, "alice", pw("alice")); rep.OK || rep.Code != identity.CodeRateLimited || rep.RetryAfter <= 0 {
		t.Fatalf("after 5 failures: %+v", rep)
	}
	// Another client is not blocked by these failures.
	cs, rep, err := Login(ctx, f.nc, "alice", pw("alice"), "another client")
	if err != nil || !rep.OK || cs.Role != "operator" {
		t.Fatalf("login from another client: %+v %v", rep, err)
	}
	if e := f.lastAudit(t); e.Actor != "alice" || e.Action != ActionLogin {
		t.Fatalf("audit %+v", e)
	}
	for _, body := range []string{`{"v":1,"user":"alice","password":"x"}`, `{"v":1,"user":"alice","password":"x","key":"k","extra":1}`, `[]`} {
		m, err := f.nc.Request(bus.AuthSubject(bus.AuthLogin), []byte(body), 5*time.Second)
		if err != nil || !strings.Contains(string(m.Data), `"ok":false`) {
			t.Fatalf("login %s: %v %s", body, err, m.Data)
		}
	}
}

// A changed password ends the tokens of the old one.
func TestPasswordChangeEndsTokensIntegration(t *testing.T) {
	f := newAuthFixture(t)
	ctx := context.Background()
	alice, _ := f.login(t, "alice", pw("alice"))
	b, err := os.ReadFile(f.cfg.Console.UsersFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(l, "alice:") {
			h, _ := bcrypt.GenerateFromPassword([]byte("a new password"), bcrypt.MinCost)
			l = "alice:operator:" + string(h)
		}
		lines = append(lines, l)
	}
	if err := os.WriteFile(f.cfg.Console.UsersFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, _ := alice.Send(ctx, f.nc, VerbAck, Command{Alarm: f.id})
	refusedAs(t, f, r, CodeNotAuthorised, "alice", "alarm.ack.denied")
	if !strings.Contains(r.Message, "password") {
		t.Fatalf("message %q", r.Message)
	}
	if rep, _ := alice.Refresh(ctx, f.nc); rep.OK {
		t.Fatal("token of the old password refreshed")
	}
	if _, rep := f.login(t, "alice", "a new password"); !rep.OK {
		t.Fatalf("login with the new password: %+v", rep)
	}
}
