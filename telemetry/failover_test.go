package telemetry

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// fakeStream answers publishes on the telemetry subjects as a stream
// would, except while lost is set: then a publish gets no answer, as
// the publishes in flight to a stream leader that was killed.
type fakeStream struct {
	lost  atomic.Bool
	seen  atomic.Int64 // publishes received
	mu    sync.Mutex
	acked map[string]bool // Nats-Msg-Id
	seq   uint64
}

func (f *fakeStream) handle(m *nats.Msg) {
	f.seen.Add(1)
	if f.lost.Load() {
		return
	}
	f.mu.Lock()
	f.seq++
	f.acked[m.Header.Get(jetstream.MsgIDHeader)] = true
	b, _ := json.Marshal(jetstream.PubAck{Stream: bus.StreamTelemetry, Sequence: f.seq})
	f.mu.Unlock()
	m.Respond(b)
}

func (f *fakeStream) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.acked)
}

// A stream leader killed with a full window in flight: none of those
// acks ever comes. They time out together from their publish and are
// published again together, so the window is free again about one
// ack wait after the stream answers again, and nothing is dropped:
// before, each waited its ack wait only once the one before it was
// settled (window × ack wait: 256 × 5 s in production), and every
// unanswered publish stayed pending in nats.go.
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
	f := &fakeStream{acked: map[string]bool{}}
	sc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Subscribe("linewatch.telemetry.>", f.handle); err != nil {
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
	p.ackWait, p.retryGap, p.maxBlock = ackWait, 10*time.Millisecond, 10*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)

	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	read := func(i int) *sample.Read {
		tk := tick.Add(time.Duration(i) * time.Second)
		return &sample.Read{Site: "s1", Line: "l1", Machine: "m1", Group: "g", Tick: tk,
			Samples: []sample.Sample{{Time: tk, Site: "s1", Line: "l1", Machine: "m1", Tag: "t", Value: float64(i)}}}
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
	for i := window; i < 2*window; i++ {
		p.Read(ctx, read(i)) // each waits for a slot of the lost window
	}
	freed := time.Since(healed)
	const total = 3 * window
	for i := 2 * window; i < total; i++ {
		p.Read(ctx, read(i))
	}
	// Waiting on a real server: poll with a deadline.
	deadline := time.Now().Add(30 * time.Second)
	for f.count() < total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("whole window free %s after the stream answered again (ack wait %s, window %d)", freed.Round(time.Millisecond), ackWait, window)
	if n := f.count(); n != total {
		t.Errorf("stream acknowledged %d of %d messages", n, total)
	}
	if d := testutil.ToFloat64(p.m.dropped); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	// One ack wait (plus a retry gap and scheduling), not window × ack wait.
	if freed > 4*ackWait {
		t.Errorf("the window was free %s after the stream answered again, want about one ack wait (%s), not one per message in flight (%s)",
			freed, ackWait, window*ackWait)
	}
	cancel()
	<-p.done
}
