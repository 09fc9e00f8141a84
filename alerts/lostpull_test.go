package alerts

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
)

// A worker whose line pull request is lost on its way to the server (a
// leader change, a route that dropped it; the connection stays up),
// later one of whose acks is lost, and then whose connection drops: the
// line's findings are still all applied, in order, once — the pull
// expires and is issued again (in seconds: nats.go's default pull
// noticed only after 30 s), the message whose ack was lost comes back
// after the ack wait and is recognised as applied, and the worker
// reconnects and pulls again.
func TestLostPullLineStillDrainedIntegration(t *testing.T) {
	cfg := scaleConfig(t)
	msgs := backlog(120)
	want := reference(t, cfg, append(msgs, backlogAfter(msgs, 60)...))

	srv := testenv.NATS(t)
	js, err := jetstream.New(connect(t, srv.ClientURL()))
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewDropProxy(t, srv.Addr().String())
	wnc, err := nats.Connect(proxy.URL(), nats.Name("alerts worker"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wnc.Close)
	line := FindingsConsumer("filling1")
	proxy.Drop(testenv.ToServer, "$JS.API.CONSUMER.MSG.NEXT."+bus.StreamFindings+"."+line, 1)
	s := newService(t, cfg, wnc, newClock(), nil)
	run(t, s)
	runFindings(t, s)
	eventually(t, "the line's first pull request lost", func() bool { return proxy.Dropped(testenv.ToServer) == 1 })

	half := len(msgs) / 2
	publishBacklog(t, js, cfg.Site, msgs[:half])
	published := time.Now()
	drained(t, js, cfg, s.Store()) // 20 s
	t.Logf("first half drained %s after the publish", time.Since(published).Round(time.Millisecond))

	// Now an acknowledgement of the line is lost.
	proxy.Drop(testenv.ToServer, "$JS.ACK."+bus.StreamFindings+"."+line+".", 1)
	publishBacklog(t, js, cfg.Site, msgs[half:])
	drained(t, js, cfg, s.Store())
	if d := proxy.Dropped(testenv.ToServer); d != 2 {
		t.Fatalf("%d messages lost, want 2 (a pull request and an ack)", d)
	}
	if n := counted(s, outcomeApplied); n != len(msgs)-2 {
		t.Errorf("applied %d findings, want %d", n, len(msgs)-2)
	}
	applied, redelivered := counted(s, outcomeApplied), counted(s, outcomeRedelivered)

	// Then the worker's connection drops, right after more findings were
	// published: it reconnects and pulls again.
	more := backlogAfter(msgs, 60)
	publishBacklog(t, js, cfg.Site, more)
	proxy.Disconnect()
	drained(t, js, cfg, s.Store())
	if wnc.Stats().Reconnects == 0 {
		t.Fatal("the worker did not reconnect")
	}
	// A store write whose reply the drop took with it was applied: its
	// retry is recognised as such (counted redelivered, not applied).
	a, r := counted(s, outcomeApplied)-applied, counted(s, outcomeRedelivered)-redelivered
	if a > len(more) || a+r < len(more) {
		t.Errorf("after the disconnect: applied %d, recognised %d redelivered, for %d findings", a, r, len(more))
	}
	t.Logf("after the disconnect: applied %d, recognised %d redelivered", a, r)

	// What counts: every alarm's transitions are those of one worker that
	// lost nothing, in order, each once.
	got := sequences(t, js)
	checkContiguous(t, got)
	compareSequences(t, want, got)
	if n := counted(s, outcomeSuperseded); n != 0 {
		t.Errorf("%d findings superseded", n)
	}
}

// backlogAfter is n more findings that continue msgs: the next seconds,
// each toggling its alarm as backlog's findings do.
func backlogAfter(msgs []backlogMsg, n int) []backlogMsg {
	var last time.Time
	for _, m := range msgs {
		if m.f != nil && m.f.Time.After(last) {
			last = m.f.Time
		}
	}
	var out []backlogMsg
	for _, m := range backlog(len(msgs) + n) {
		if m.f != nil && m.f.Time.After(last) && len(out) < n {
			out = append(out, m)
		}
	}
	return out
}
