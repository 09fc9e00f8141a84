package alerts

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

// TestNATSRestartDuringBurst stops the NATS server in the middle of a burst
// of findings and starts it again on the same port and store: every
// transition must end up in ALARMS exactly once.
func TestNATSRestartDuringBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv := testenv.NATS(t, func(o *server.Options) { o.StoreDir = dir })
	port := srv.Addr().(*net.TCPAddr).Port
	nc, err := bus.Connect(ctx, config.NATS{}, srv.ClientURL(), "alerts-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := demoConfig(t)
	clock := newClock()
	s := newService(t, cfg, nc, clock, nil)
	run(t, s)

	const alarms, perAlarm = 6, 10
	progress := make(chan int)
	errs := make(chan error, 1)
	go func() {
		defer close(progress)
		n := 0
		for i := range perAlarm {
			for a := range alarms {
				f := fnd("filling1", "filler", fmt.Sprint("tag", a), i%2 == 0, t0.Add(time.Duration(i)*time.Second))
				if err := s.Notify(ctx, []analytics.Finding{f}); err != nil {
					errs <- err
					return
				}
				n++
				progress <- n
			}
		}
	}()
	restarted := false
	for n := range progress {
		if n == 20 && !restarted {
			srv.Shutdown()
			srv.WaitForShutdown()
			srv2, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: fmt.Sprintf("127.0.0.1:%d", port), StoreDir: dir, Anonymous: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv2.Shutdown(); srv2.WaitForShutdown() })
			restarted = true
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	// Replay what the outage left in outboxes.
	js, _ := jetstream.New(nc)
	t.Logf("%d transitions left in outboxes by the outage", pendingOutboxes(t, s))
	if err := s.ReplayOutboxes(ctx); err != nil {
		t.Fatal(err)
	}
	if n := pendingOutboxes(t, s); n != 0 {
		t.Fatalf("%d transitions still in outboxes", n)
	}
	trs := streamTransitions(t, js)
	if n := alarmsInStream(t, js); n != uint64(len(trs)) {
		t.Fatalf("%d messages but %d distinct transitions: duplicates", n, len(trs))
	}
	seqs := map[string][]uint64{}
	for _, tr := range trs {
		seqs[tr.Alarm.ID] = append(seqs[tr.Alarm.ID], tr.Seq)
	}
	all, err := s.Store().List(ctx)
	if err != nil || len(all) != alarms {
		t.Fatalf("list: %d %v", len(all), err)
	}
	for _, a := range all {
		if a.Seq != perAlarm {
			t.Errorf("%s: %d transitions applied, want %d", a.ID, a.Seq, perAlarm)
		}
		got := seqs[a.ID]
		if uint64(len(got)) != a.Seq {
			t.Errorf("%s: %d transitions in ALARMS, state says %d", a.ID, len(got), a.Seq)
		}
		present := map[uint64]bool{}
		for _, q := range got {
			present[q] = true
		}
		for q := uint64(1); q <= a.Seq; q++ {
			if !present[q] {
				t.Errorf("%s: transition %d missing from ALARMS", a.ID, q)
			}
		}
	}
}

func pendingOutboxes(t *testing.T, s *Service) int {
	recs, err := s.store.records(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		n += len(r.Pending)
	}
	return n
}

// TestOutboxReplaysAfterPublishFailure makes publishing fail after the
// state was stored (the ALARMS stream is gone, a fault NATS produces on
// demand), then restores the stream: a new worker replays the outbox and
// every transition arrives once.
func TestOutboxReplaysAfterPublishFailure(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	ctx := context.Background()
	cfg := demoConfig(t)
	rec := &recorder{}
	s := newService(t, cfg, nc, newClock(), rec)
	if err := js.DeleteStream(ctx, bus.StreamAlarms); err != nil {
		t.Fatal(err)
	}
	on := fnd("filling1", "filler", "fill_weight", true, t0)
	if err := s.Notify(ctx, []analytics.Finding{on, fnd("filling1", "filler", "fill_weight", false, t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	if n := pendingOutboxes(t, s); n != 2 || len(rec.all()) != 0 {
		t.Fatalf("outbox %d, hook calls %d; want 2 pending, no hook", n, len(rec.all()))
	}
	if err := s.ReplayOutboxes(ctx); err == nil {
		t.Fatal("replay without the stream should report the pending transitions")
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	s2 := newService(t, cfg, nc, newClock(), rec) // e.g. after a crash
	if err := s2.ReplayOutboxes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplayOutboxes(ctx); err != nil { // a second worker racing: nothing left, nothing doubled
		t.Fatal(err)
	}
	trs := streamTransitions(t, js)
	if alarmsInStream(t, js) != 2 || len(trs) != 2 || trs[0].Seq != 1 || trs[1].Seq != 2 || pendingOutboxes(t, s) != 0 {
		t.Fatalf("after replay:\n%s", summary(trs))
	}
	if len(rec.all()) != 2 {
		t.Fatalf("hook calls %d, want 2", len(rec.all()))
	}
}
