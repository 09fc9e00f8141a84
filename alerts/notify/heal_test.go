package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/alerts/notify"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/health"
)

// An admin (or a client with too broad rights) deletes the notifier's
// consumer in the middle of a stream of alarms: the notifier recreates it
// from the last acknowledged sequence, and the real webhook receiver gets
// every notification exactly once — those published while the consumer
// was gone included.
func TestConsumerDeletedMidStreamIsRecreatedWithoutLossOrDuplicateIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: embedded NATS")
	}
	t.Setenv("LW_TEST_WEBHOOK_SECRET", "k")
	r := newRig(t)
	rx := newReceiver(t)
	var mu sync.Mutex
	var conds []health.Condition
	r.start(t, config.Alarms{Routes: []config.Route{webhookRoute("ops", rx.srv.URL)}}, func(o *notify.Options) {
		o.Health = func(c health.Condition) { mu.Lock(); conds = append(conds, c); mu.Unlock() }
	})
	want := map[string]bool{}
	var firstOfSecond uint64
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			a := testAlarm("L1", fmt.Sprintf("m%03d", i), alerts.Medium)
			tr := r.svc.activate(&a, t0.Add(time.Duration(i)*time.Minute))
			want[tr.ID] = true
		}
	}
	seen := map[string]int{}
	receive := func(k int) {
		for range k {
			seen[r.next(t, rx)]++
		}
	}
	publish(0, 15)
	receive(15)

	ctx := context.Background()
	stream, err := r.js.Stream(ctx, "ALARMS")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.js.DeleteConsumer(ctx, "ALARMS", "linewatch-notify"); err != nil {
		t.Fatalf("admin deletes the consumer: %v", err)
	}
	si, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	firstOfSecond = si.State.LastSeq + 1
	publish(15, 30) // some while the consumer is gone, some after it is back
	receive(15)
	r.drained(t)

	if len(seen) != len(want) {
		t.Errorf("%d distinct notifications, want %d", len(seen), len(want))
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("transition %s notified %d times, want exactly once", id, seen[id])
		}
	}
	if len(rx.got) != 0 {
		t.Errorf("%d extra deliveries after all were received", len(rx.got))
	}
	if n := rx.attempts.Load(); n != int32(len(want)) {
		t.Errorf("webhook requests = %d, want %d (no duplicate send)", n, len(want))
	}
	c, err := r.js.Consumer(ctx, "ALARMS", "linewatch-notify")
	if err != nil {
		t.Fatalf("consumer not recreated: %v", err)
	}
	cfg := c.CachedInfo().Config
	if cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq == 0 || cfg.OptStartSeq > firstOfSecond {
		t.Errorf("recreated consumer starts at %s seq %d; want by start sequence ≤ %d (the first message published after the deletion)",
			cfg.DeliverPolicy, cfg.OptStartSeq, firstOfSecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range conds {
		if c.Active {
			t.Errorf("condition %s raised although the consumer could be recreated: %+v", c.Name, c)
		}
	}
}

// When the consumer cannot be recreated (here: the stream it lives on is
// gone), the notifier raises health.NotifierNoCons with the reason, and
// clears it once it could recreate the consumer.
func TestConsumerNotRecreatableRaisesSystemConditionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: embedded NATS")
	}
	r := newRig(t)
	got := make(chan health.Condition, 16)
	r.start(t, config.Alarms{}, func(o *notify.Options) {
		o.Health = func(c health.Condition) { got <- c }
	})
	if c := <-got; c.Active || c.Name != health.NotifierNoCons {
		t.Fatalf("first report %+v, want %s cleared at start", c, health.NotifierNoCons)
	}
	ctx := context.Background()
	si, err := r.js.Stream(ctx, "ALARMS")
	if err != nil {
		t.Fatal(err)
	}
	cfg := si.CachedInfo().Config
	cfg.DenyDelete = false
	// Deleting the stream removes the consumer; recreating it fails until
	// the stream is back.
	if err := r.js.DeleteStream(ctx, "ALARMS"); err != nil {
		t.Fatal(err)
	}
	var raised health.Condition
	select {
	case raised = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no condition raised after the consumer vanished for good")
	}
	if !raised.Active || raised.Name != health.NotifierNoCons || raised.Source != health.SourceNotify || raised.Reason == "" {
		t.Fatalf("raised %+v, want %s active with a reason", raised, health.NotifierNoCons)
	}
	if _, err := r.js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// The retry waits its backoff on the notifier's clock.
	waitTimers(t, r.clk, 1)
	r.clk.Advance(time.Minute)
	var cleared health.Condition
	for cleared = range got {
		if !cleared.Active {
			break
		}
		waitTimers(t, r.clk, 1)
		r.clk.Advance(time.Minute)
	}
	if cleared.Active || cleared.Name != health.NotifierNoCons {
		t.Fatalf("after the stream is back: %+v, want %s cleared", cleared, health.NotifierNoCons)
	}
	if _, err := r.js.Consumer(ctx, "ALARMS", "linewatch-notify"); err != nil {
		t.Fatalf("consumer not recreated: %v", err)
	}
}
