package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/audit"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func demoConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
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

func newService(t testing.TB, cfg *config.Config, nc *nats.Conn, clock Clock, rec *recorder) *Service {
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
	trs, err := ReadTransitions(context.Background(), js, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return trs
}

func command(t testing.TB, nc *nats.Conn, verb string, c Command) Reply {
	t.Helper()
	c.V = SchemaVersion
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
