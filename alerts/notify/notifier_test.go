package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

var t0 = time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)

// waitTimers blocks until the notifier has armed at least n timers on clk
// (real-time bound).
func waitTimers(t *testing.T, clk *clock.Fake, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.WaitWaiters(ctx, n); err != nil {
		t.Fatalf("timeout waiting for %d pending timers (have %d)", n, clk.Waiters())
	}
}

// receiver is a real HTTP webhook endpoint that records what it accepted.
type receiver struct {
	srv      *httptest.Server
	fail     atomic.Int32 // answer 500 to this many requests first
	attempts atomic.Int32
	got      chan received
}

type received struct {
	body      []byte
	signature string
	p         struct {
		notify.Payload
		Alarm *alerts.Alarm `json:"alarm"`
	}
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{got: make(chan received, 200)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.attempts.Add(1)
		body, _ := io.ReadAll(req.Body)
		if r.fail.Load() > 0 {
			r.fail.Add(-1)
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		rc := received{body: body, signature: req.Header.Get(notify.SignatureHeader)}
		if err := json.Unmarshal(body, &rc.p); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		r.got <- rc
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case rc := <-r.got:
		return rc
	case <-time.After(15 * time.Second):
		t.Fatal("timeout waiting for a webhook request")
		return received{}
	}
}

type rig struct {
	js  jetstream.JetStream
	svc *alarmService
	clk *clock.Fake
}

func newRig(t testing.TB) *rig {
	_, js := testenv.NATSConn(t)
	return &rig{js: js, svc: newAlarmService(t, js), clk: clock.NewFake(t0)}
}

// start runs a notifier until the test ends.
func (r *rig) start(t testing.TB, alarms config.Alarms, mut ...func(*notify.Options)) *notify.Notifier {
	t.Helper()
	o := notify.Options{JS: r.js, Alarms: alarms, Clock: r.clk, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), Retry: notify.Retry{Base: time.Second, Max: 8 * time.Second, Attempts: 4}}
	for _, m := range mut {
		m(&o)
	}
	n, err := notify.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return n
}

// drained waits until the consumer has acknowledged everything.
func (r *rig) drained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := r.js.Consumer(context.Background(), "ALARMS", "linewatch-notify")
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer not drained: %+v", info)
		}
		<-tick.C
	}
}

func webhookRoute(name, url string) config.Route {
	return config.Route{Name: name, Webhook: &config.Webhook{URL: url, SecretEnv: "LW_TEST_WEBHOOK_SECRET"}}
}

func TestWebhookRetriesThenDeliversOnceSigned(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "s3cret")
	r := newRig(t)
	rx := newReceiver(t)
	rx.fail.Store(2)
	r.start(t, config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}})

	a := testAlarm("L1", "filler", alerts.High)
	tr := r.svc.activate(&a, t0)

	// Attempt 1 fails → backoff 1s; attempt 2 fails → backoff 2s; attempt 3 succeeds.
	waitTimers(t, r.clk, 1)
	if got := rx.attempts.Load(); got != 1 {
		t.Fatalf("attempts before first backoff = %d, want 1", got)
	}
	r.clk.Advance(time.Second)
	waitTimers(t, r.clk, 1)
	r.clk.Advance(2 * time.Second)
	got := rx.next(t)
	r.drained(t)
	if n := rx.attempts.Load(); n != 3 {
		t.Errorf("HTTP attempts = %d, want 3 (500, 500, 204)", n)
	}
	if len(rx.got) != 0 {
		t.Errorf("%d extra deliveries", len(rx.got))
	}
	if !notify.Verify([]byte("s3cret"), got.body, got.signature) {
		t.Errorf("signature %q does not verify", got.signature)
	}
	if notify.Verify([]byte("wrong"), got.body, got.signature) {
		t.Error("signature verifies with the wrong secret")
	}
	if got.p.Route != "ops" || got.p.Kind != notify.KindTransition || got.p.Alarm == nil || got.p.Alarm.ID != a.ID || got.p.Payload.Transition.ID != tr.ID {
		t.Errorf("payload = %s", got.body)
	}
}

func TestGivesUpThenRedelivers(t *testing.T) {
	r := newRig(t)
	rx := newReceiver(t)
	rx.fail.Store(2) // both in-process attempts fail
	r.start(t, config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}}, func(o *notify.Options) {
		o.Retry = notify.Retry{Attempts: 2, Base: time.Second, NakDelay: 50 * time.Millisecond}
	})
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "x")
	a := testAlarm("L1", "filler", alerts.High)
	r.svc.activate(&a, t0)
	waitTimers(t, r.clk, 1)
	r.clk.Advance(time.Second)
	// NAK with delay → JetStream redelivers → third attempt succeeds.
	got := rx.next(t)
	if n := rx.attempts.Load(); n != 3 || got.p.Alarm.ID != a.ID {
		t.Errorf("attempts = %d, alarm %v; want 3 and %s", n, got.p.Alarm, a.ID)
	}
}

func TestTwoWorkersDeliverEachTransitionOnce(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(t)
	rx := newReceiver(t)
	alarms := config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}}
	r.start(t, alarms)
	r.start(t, alarms)
	const n = 30
	want := map[string]bool{}
	for i := range n {
		a := testAlarm("L1", "m"+string(rune('a'+i%26))+string(rune('a'+i/26)), alerts.Medium)
		tr := r.svc.activate(&a, t0.Add(time.Duration(i)*time.Hour))
		want[tr.ID] = true
	}
	// A duplicate publish without Nats-Msg-Id slips past JetStream's
	// dedupe; the notifier's dedupe bucket must catch it.
	dup := testAlarm("L1", "dup", alerts.Medium)
	tr := r.svc.activate(&dup, t0)
	want[tr.ID] = true
	r.svc.publishRaw(tr, false)

	seen := map[string]int{}
	for range len(want) {
		got := r.next(t, rx)
		seen[got]++
	}
	r.drained(t)
	if len(rx.got) != 0 {
		t.Fatalf("%d deliveries beyond one per transition", len(rx.got))
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("transition %s delivered %d times", id, seen[id])
		}
	}
}

func (r *rig) next(t *testing.T, rx *receiver) string {
	got := rx.next(t)
	return got.p.Payload.Transition.ID
}

func TestEmailWithAuth(t *testing.T) {
	t.Setenv("LW_TEST_SMTP_PW", "mailpw")
	r := newRig(t)
	smtpd := startSMTP(t)
	r.start(t, config.Alarms{Routes: []config.Route{{
		Name: "qa-mail", Priorities: []string{"high", "urgent"},
		Email: &config.Email{SMTP: smtpd.Addr, From: "linewatch@plant.example", To: []string{"qa@plant.example", "shift@plant.example"},
			Username: "lw", PasswordEnv: "LW_TEST_SMTP_PW"},
	}}})
	low := testAlarm("L1", "press", alerts.Low) // not routed
	r.svc.activate(&low, t0)
	a := testAlarm("L1", "filler", alerts.High)
	a.Message = "temp high\r\nBcc: evil@example.com"
	r.svc.activate(&a, t0)
	var m smtpMessage
	select {
	case m = <-smtpd.Messages:
	case <-time.After(15 * time.Second):
		t.Fatal("no email")
	}
	r.drained(t)
	if len(smtpd.Messages) != 0 {
		t.Errorf("%d extra emails (low priority must not be routed)", len(smtpd.Messages))
	}
	if m.Auth != "lw:mailpw" || m.From != "linewatch@plant.example" || strings.Join(m.To, ",") != "qa@plant.example,shift@plant.example" {
		t.Errorf("envelope = %+v", m)
	}
	if !strings.Contains(m.Data, "Subject: [linewatch] HIGH "+a.ID) || !strings.Contains(m.Data, "Alarm: "+a.ID) {
		t.Errorf("message:\n%s", m.Data)
	}
	if header, _, _ := strings.Cut(m.Data, "\r\n\r\n"); strings.Contains(header, "\r\nBcc:") {
		t.Errorf("header injection through the alarm message:\n%s", m.Data)
	}
}

func TestEscalationAtInjectedTime(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(t)
	rx := newReceiver(t)
	smtpd := startSMTP(t)
	route := webhookRoute("urgent", rx.srv.URL)
	route.Priorities = []string{"urgent"}
	route.EscalateAfter = 10 * time.Minute
	route.Email = &config.Email{SMTP: smtpd.Addr, From: "lw@plant.example", To: []string{"op@plant.example"}, EscalateTo: []string{"boss@plant.example"}}
	r.start(t, config.Alarms{Routes: []config.Route{route}})

	a := testAlarm("L1", "coldroom", alerts.Urgent)
	r.svc.activate(&a, t0)
	if got := rx.next(t); got.p.Escalation {
		t.Fatal("first notification must not be an escalation")
	}
	<-smtpd.Messages
	waitTimers(t, r.clk, 1)

	// b is acknowledged before its timer expires: no escalation.
	r.clk.Advance(time.Minute)
	b := testAlarm("L1", "freezer", alerts.Urgent)
	r.svc.activate(&b, t0.Add(time.Minute))
	rx.next(t)
	<-smtpd.Messages
	waitTimers(t, r.clk, 2)
	r.svc.ack(&b, t0.Add(2*time.Minute), "olga")
	r.drained(t)

	r.clk.Advance(10*time.Minute - time.Minute - time.Second) // 1 s before a's deadline
	if p := r.clk.Waiters(); p != 2 {
		t.Fatalf("pending timers = %d before the deadline, want 2", p)
	}
	if len(rx.got) != 0 {
		t.Fatal("escalated early")
	}
	r.clk.Advance(time.Second)
	got := rx.next(t)
	if !got.p.Escalation || got.p.Kind != notify.KindEscalation || got.p.Alarm.ID != a.ID || got.p.Alarm.State != alerts.Unacknowledged {
		t.Errorf("escalation payload = %s", got.body)
	}
	select {
	case m := <-smtpd.Messages:
		if strings.Join(m.To, ",") != "boss@plant.example" || !strings.Contains(m.Data, "ESCALATION") {
			t.Errorf("escalation email to %v:\n%s", m.To, m.Data)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no escalation email")
	}
	// b's deadline: acknowledged, so nothing. A later unacked alarm c
	// escalates; receiving c first proves b was skipped (timers fire in order).
	c := testAlarm("L1", "autoclave", alerts.Urgent)
	r.svc.activate(&c, t0.Add(10*time.Minute))
	rx.next(t)
	<-smtpd.Messages
	waitTimers(t, r.clk, 2)
	r.clk.Advance(20 * time.Minute)
	if got := rx.next(t); got.p.Alarm.ID != c.ID || !got.p.Escalation {
		t.Errorf("after b's deadline got %s, want escalation of %s", got.body, c.ID)
	}
}

func TestFloodSendsOneSummary(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(t)
	rx := newReceiver(t)
	r.start(t, config.Alarms{
		Flood:  config.Flood{Threshold: 3, Window: time.Minute, EndBelow: 1},
		Routes: []config.Route{webhookRoute("ops", rx.srv.URL)},
	})
	for i := range 8 {
		a := testAlarm("L2", "m"+string(rune('a'+i)), alerts.Medium)
		r.svc.activate(&a, t0.Add(time.Duration(i)*time.Second))
	}
	other := testAlarm("L9", "x", alerts.Medium) // other lines are not flooded
	r.svc.activate(&other, t0.Add(9*time.Second))
	later := testAlarm("L2", "late", alerts.Medium)
	r.svc.activate(&later, t0.Add(10*time.Minute))

	kinds := map[string]int{}
	var start, end *notify.FloodSummary
	for range 3 + 1 + 1 + 1 + 1 { // 3 before the flood, start, L9, end, late
		got := rx.next(t)
		kinds[got.p.Kind]++
		switch got.p.Kind {
		case notify.KindFloodStart:
			start = got.p.Flood
		case notify.KindFloodEnd:
			end = got.p.Flood
		}
	}
	r.drained(t)
	if len(rx.got) != 0 {
		t.Errorf("%d extra notifications during the flood", len(rx.got))
	}
	if kinds[notify.KindFloodStart] != 1 || kinds[notify.KindFloodEnd] != 1 || kinds[notify.KindTransition] != 5 {
		t.Fatalf("kinds = %v", kinds)
	}
	if start.Line != "L2" || start.Count != 4 || len(start.Alarms) != 4 || !start.Since.Equal(t0.Add(3*time.Second)) {
		t.Errorf("flood start = %+v", start)
	}
	if end.Suppressed != 4 {
		t.Errorf("flood end suppressed = %d, want 4 (activations 5..8)", end.Suppressed)
	}
}
