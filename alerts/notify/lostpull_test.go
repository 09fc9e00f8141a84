package notify_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
)

// proxiedRig is a rig whose notifier reaches the real server through a
// drop proxy; the alarm service and the checks go straight to it.
func proxiedRig(t *testing.T) (*rig, *testenv.DropProxy, jetstream.JetStream) {
	t.Helper()
	srv := testenv.NATS(t)
	direct, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(direct.Close)
	js, err := jetstream.New(direct)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewDropProxy(t, srv.Addr().String())
	wnc, err := nats.Connect(proxy.URL(), nats.Name("notify worker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wnc.Close)
	// A short API timeout: an unanswered request costs 1 s, not 5.
	wjs, err := jetstream.New(wnc, jetstream.WithDefaultTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{js: js, svc: newAlarmService(t, js), clk: clock.NewFake(t0)}, proxy, wjs
}

// waitFor polls cond (real time: it watches the proxy and the server).
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The worker's pull request is lost on its way to the server (a leader
// change, a route that dropped it) while the connection stays up: the
// pull expires and is issued again, so an alarm published after the
// loss is still notified — within the pull expiry, not after the 30 s
// of two missed heartbeats of nats.go's default pull — and once.
func TestLostPullStillNotifiesIntegration(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r, proxy, wjs := proxiedRig(t)
	rx := newReceiver(t)
	n, err := notify.New(context.Background(), notify.Options{JS: wjs, Clock: clock.Real{},
		Alarms: config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}},
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Drop(testenv.ToServer, "$JS.API.CONSUMER.MSG.NEXT.", 1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	waitFor(t, "the first pull request lost", 10*time.Second, func() bool { return proxy.Dropped(testenv.ToServer) == 1 })

	a := testAlarm("L1", "filler", alerts.High)
	tr := r.svc.activate(&a, t0)
	published := time.Now()
	got := rx.next(t) // 15 s
	t.Logf("notified %s after the publish", time.Since(published).Round(time.Millisecond))
	if got.p.Payload.Transition.ID != tr.ID {
		t.Fatalf("notified %s, want %s", got.p.Payload.Transition.ID, tr.ID)
	}
	r.drained(t)
	if len(rx.got) != 0 || rx.attempts.Load() != 1 {
		t.Errorf("%d webhook requests, want 1", rx.attempts.Load())
	}
	if d := proxy.Dropped(testenv.ToServer); d != 1 {
		t.Errorf("%d pull requests lost, want 1", d)
	}
}

// At start the consumer-create requests get no answer (a cluster still
// forming loses or cannot serve them): New retries, with its backoff on
// the notifier's clock, until one is answered — it does not give up —
// and the notifier then works.
func TestUnansweredConsumerRequestAtStartIsRetriedIntegration(t *testing.T) {
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r, proxy, wjs := proxiedRig(t)
	rx := newReceiver(t)
	const lost = 3
	proxy.Drop(testenv.ToServer, "$JS.API.CONSUMER.CREATE.", lost)
	type result struct {
		n   *notify.Notifier
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := notify.New(context.Background(), notify.Options{JS: wjs, Clock: r.clk,
			Alarms: config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}},
			Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		done <- result{n, err}
	}()
	var res result
	waits := 0
	deadline := time.Now().Add(30 * time.Second)
wait:
	for {
		select {
		case res = <-done:
			break wait
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("New still starting after 30 s (%d create requests lost)", proxy.Dropped(testenv.ToServer))
		}
		// Each unanswered attempt waits its backoff on the fake clock.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if r.clk.WaitWaiters(ctx, 1) == nil {
			r.clk.Advance(5 * time.Second)
			waits++
		}
		cancel()
	}
	if res.err != nil {
		t.Fatalf("New gave up: %v", res.err)
	}
	if d := proxy.Dropped(testenv.ToServer); d != lost || waits != lost {
		t.Errorf("%d create requests lost, %d backoff waits; want %d of each", d, waits, lost)
	}
	if _, err := r.js.Consumer(context.Background(), "ALARMS", "linewatch-notify"); err != nil {
		t.Fatalf("consumer not created: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := res.n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	a := testAlarm("L1", "filler", alerts.High)
	tr := r.svc.activate(&a, t0)
	if got := rx.next(t); got.p.Payload.Transition.ID != tr.ID {
		t.Fatalf("notified %s, want %s", got.p.Payload.Transition.ID, tr.ID)
	}
	r.drained(t)
	if n := rx.attempts.Load(); n != 1 {
		t.Errorf("%d webhook requests, want 1", n)
	}
}
