package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// fakeStream answers publishes on the telemetry subjects, and requests
// for a subject's last message, as a stream would, except while lost is
// set: then a publish gets no answer, as the publishes in flight to a
// stream leader that was killed.
type fakeStream struct {
	lost  atomic.Bool
	seen  atomic.Int64 // publishes received
	mu    sync.Mutex
	acked map[string]bool // Nats-Msg-Id
	seq   uint64
	last  map[string]*nats.Msg // by subject, with its sequence in header "seq"
}

func (f *fakeStream) handle(m *nats.Msg) {
	f.seen.Add(1)
	if f.lost.Load() {
		return
	}
	f.mu.Lock()
	id := m.Header.Get(jetstream.MsgIDHeader)
	dup := f.acked[id]
	if !dup {
		f.seq++
		f.acked[id] = true
		f.last[m.Subject] = &nats.Msg{Header: nats.Header{jetstream.MsgIDHeader: {id}, "seq": {strconv.FormatUint(f.seq, 10)}}}
	}
	b, _ := json.Marshal(jetstream.PubAck{Stream: bus.StreamTelemetry, Sequence: f.seq, Duplicate: dup})
	f.mu.Unlock()
	m.Respond(b)
}

// getLast answers $JS.API.STREAM.MSG.GET.TELEMETRY {"last_by_subj": …}.
func (f *fakeStream) getLast(m *nats.Msg) {
	var req struct {
		Subject string `json:"last_by_subj"`
	}
	json.Unmarshal(m.Data, &req)
	f.mu.Lock()
	last := f.last[req.Subject]
	f.mu.Unlock()
	if last == nil {
		m.Respond([]byte(`{"error":{"code":404,"err_code":10037,"description":"no message found"}}`))
		return
	}
	seq, _ := strconv.ParseUint(last.Header.Get("seq"), 10, 64)
	hdr := "NATS/1.0\r\n" + jetstream.MsgIDHeader + ": " + last.Header.Get(jetstream.MsgIDHeader) + "\r\n\r\n"
	b, _ := json.Marshal(map[string]any{"message": map[string]any{"subject": req.Subject, "seq": seq, "hdrs": []byte(hdr)}})
	m.Respond(b)
}

func (f *fakeStream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked)
}

// A stream leader killed with a full window in flight (one message of
// each of 16 machines): none of those acks ever comes. They time out
// together from their publish and are published again together (each
// after looking up whether the dead leader stored it), so everything
// spooled meanwhile is stored about one ack wait after the stream answers
// again, and nothing is dropped: before, each waited its ack wait only
// once the one before it was settled (window × ack wait: 256 × 5 s in
// production), and every unanswered publish stayed pending in nats.go.
func TestPublisherRecoversWindowAfterLostAcksIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	f := &fakeStream{acked: map[string]bool{}, last: map[string]*nats.Msg{}}
	sc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Subscribe("linewatch.telemetry.>", f.handle); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe("$JS.API.STREAM.MSG.GET."+bus.StreamTelemetry, f.getLast); err != nil {
		t.Fatal(err)
	}
	sc.Flush()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const ackWait = 300 * time.Millisecond
	// Without nats.go's own ack timeout (JetStreamOptions): the publisher
	// alone must not wait one ack wait per message.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const window = 16
	p := newTestPublisher(t, js, window)
	p.ackWait, p.backoff = ackWait, backoff.Policy{Min: 10 * time.Millisecond, Max: 10 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	read := func(i int) *sample.Read {
		tk := tick.Add(time.Duration(i/window) * time.Second)
		m := fmt.Sprintf("m%d", i%window)
		return &sample.Read{Site: "s1", Line: "l1", Machine: m, Group: "g", Tick: tk,
			Samples: []sample.Sample{{Time: tk, Site: "s1", Line: "l1", Machine: m, Tag: "t", Value: float64(i)}}}
	}
	f.lost.Store(true)
	for i := range window { // the whole window goes to the dead leader
		p.Read(ctx, read(i))
	}
	for deadline := time.Now().Add(10 * time.Second); f.seen.Load() < window && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // the publishes reach the dead leader (a real server)
	}
	f.lost.Store(false) // the new leader answers
	healed := time.Now()
	const total = 3 * window
	for i := window; i < total; i++ {
		p.Read(ctx, read(i)) // spooled behind the lost window: a read does not wait
	}
	if d := time.Since(healed); d > ackWait/2 {
		t.Errorf("%d reads took %s behind the lost window: a read must not wait for NATS", total-window, d)
	}
	// Waiting on a real server: poll with a deadline.
	deadline := time.Now().Add(30 * time.Second)
	for f.count() < total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	caughtUp := time.Since(healed)
	t.Logf("all %d messages stored %s after the stream answered again (ack wait %s, window %d)", total, caughtUp.Round(time.Millisecond), ackWait, window)
	if n := f.count(); n != total {
		t.Errorf("stream acknowledged %d of %d messages", n, total)
	}
	if d := testutil.ToFloat64(p.m.dropped); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	// One ack wait (plus a retry gap, a look-up and scheduling), not window × ack wait.
	if caughtUp > 4*ackWait {
		t.Errorf("everything was stored %s after the stream answered again, want about one ack wait (%s), not one per message in flight (%s)",
			caughtUp, ackWait, window*ackWait)
	}
	if n := testutil.ToFloat64(p.m.spoolMessages); n != 0 {
		t.Errorf("spool holds %v messages after all were stored", n)
	}
	cancel()
	<-p.done
}
