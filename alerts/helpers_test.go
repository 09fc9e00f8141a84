package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestMain(m *testing.M) { testenv.Main(m) }

func newClock() *clock.Fake { return clock.NewFake(t0) }

// demoConfig is the demo config with a users file of test users (bcrypt
// at the minimum cost, so tests stay fast) and a data dir of the test's.
func demoConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MoveDataDir(t.TempDir())
	cfg.Console.UsersFile = filepath.Join(cfg.DataDir, "users")
	writeUsers(t, cfg.Console.UsersFile, map[string]string{"alice": "operator", "bob": "operator", "carol": "supervisor", "vera": "viewer"})
	return cfg
}

// writeUsers (re)writes a users file; each user's password is pw(name).
func writeUsers(t testing.TB, path string, roles map[string]string) {
	t.Helper()
	var b strings.Builder
	for name, role := range roles {
		h, err := bcrypt.GenerateFromPassword([]byte(pw(name)), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s:%s\n", name, role, h)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func pw(user string) string { return "password of " + user }

// loginAs logs who in at s (directly, without NATS).
func loginAs(t testing.TB, s *Service, who string) ClientSession {
	t.Helper()
	k := identity.NewRequestKey()
	sess, err := s.Authority().Login(context.Background(), who, pw(who), "test", k.Public())
	if err != nil {
		t.Fatalf("login %s: %v", who, err)
	}
	return ClientSession{Token: sess.Token, Key: k.String(), User: who, Role: sess.User.Role, Expires: sess.Claims.Expires}
}

var loginCache sync.Map // *Service + user → ClientSession

// signedAs is c signed for verb by a login of who (one per service).
func signedAs(t testing.TB, s *Service, who, verb string, c Command) Command {
	t.Helper()
	type key struct {
		s   *Service
		who string
	}
	cs, ok := loginCache.Load(key{s, who})
	if !ok {
		cs, _ = loginCache.LoadOrStore(key{s, who}, loginAs(t, s, who))
	}
	return signWith(t, cs.(ClientSession), verb, c)
}

func signWith(t testing.TB, cs ClientSession, verb string, c Command) Command {
	t.Helper()
	k, err := identity.ParseRequestKey(cs.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c.Sign(verb, cs.Token, k)
}

// recorder collects OnTransition calls.
type recorder struct {
	mu  sync.Mutex
	trs []Transition
}

func (r *recorder) add(t Transition)        { r.mu.Lock(); r.trs = append(r.trs, t); r.mu.Unlock() }
func (r *recorder) WriteAlarm(t Transition) {}
func (r *recorder) all() []Transition {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transition(nil), r.trs...)
}

func newService(t testing.TB, cfg *config.Config, nc *nats.Conn, clock clock.Clock, rec *recorder) *Service {
	t.Helper()
	o := Options{Clock: clock}
	if rec != nil {
		o.OnTransition = rec.add
		o.Points = rec
	}
	s, err := New(cfg, nc, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run starts s.Run and stops it at cleanup, failing if it does not stop.
func run(t testing.TB, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Commands and logins sent before Run subscribed would find no
	// responder: wait for it (or for Run failing).
	select {
	case <-s.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("Run returned before serving commands: %v", err)
	}
}

var findingSeq int

func fnd(line, machine, tag string, active bool, at time.Time) analytics.Finding {
	f := analytics.Finding{Time: at, Line: line, Machine: machine, Tag: tag, Detector: "limits", Rule: "hi",
		Active: active, Value: 9.5, Limit: 8, Severity: analytics.Critical, Message: tag + " above hi"}
	f.ID = analytics.MakeID(f)
	return f
}

// streamTransitions reads the whole ALARMS stream.
func streamTransitions(t testing.TB, js jetstream.JetStream) []Transition {
	t.Helper()
	trs, err := NewReader(js).Transitions(context.Background(), TransitionQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return trs
}

func command(t testing.TB, nc *nats.Conn, verb string, c Command) Reply {
	t.Helper()
	data, _ := json.Marshal(c)
	m, err := nc.Request(bus.CmdSubject(verb), data, 10*time.Second)
	if err != nil {
		t.Fatalf("%s request: %v", verb, err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("reply %s: %v", m.Data, err)
	}
	return r
}

func auditEntries(t testing.TB, js jetstream.JetStream) []audit.Entry {
	t.Helper()
	es, err := audit.ReadStream(context.Background(), js, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(es); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return es
}

func summary(trs []Transition) string {
	s := ""
	for _, t := range trs {
		s += fmt.Sprintf("%s %s %s→%s\n", t.ID, t.Event, t.From, t.To)
	}
	return s
}
