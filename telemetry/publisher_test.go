package telemetry

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newTestPublisher is a publisher with its own registry that logs to t.
func newTestPublisher(t testing.TB, js jetstream.JetStream, inflight int) *Publisher {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	p, err := New(js, Options{MaxInflight: inflight, Logger: log, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNATSPublisherDedupesAndRetries(t *testing.T) {
	_, js := testenv.NATSConn(t)
	p := newTestPublisher(t, js, 4)
	m := p.m
	p.backoff, p.refusals = backoff.Policy{Min: time.Millisecond, Max: time.Millisecond}, 3 // keep this test short
	// The refused message's 4 attempts (~0.5 s each: nats.go retries "no
	// responders" twice itself) end within the drain, however loaded the machine.
	p.drainBound = 30 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx)

	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	ss := []sample.Sample{{Time: tick, Site: "s1", Line: "l1", Machine: "m1", Tag: "t", Value: 1}}
	read := func(tick time.Time) *sample.Read {
		return &sample.Read{Site: "s1", Line: "l1", Machine: "m1", Group: "g", Tick: tick, Samples: ss}
	}
	p.Read(ctx, read(tick))
	p.Read(ctx, read(tick))                                          // same tick: deduped by Nats-Msg-Id
	p.Read(ctx, read(tick.Add(time.Second)))                         // next tick: a new message
	p.enqueue(nats.NewMsg("not.in.any.stream"), bus.StreamTelemetry) // no stream: refused, retried, then dropped
	cancel()
	<-p.done

	info, err := js.Stream(context.Background(), bus.StreamTelemetry)
	if err != nil {
		t.Fatal(err)
	}
	si, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if si.State.Msgs != 2 {
		t.Errorf("TELEMETRY holds %d messages, want 2 (the duplicate dropped)", si.State.Msgs)
	}
	if e, d := testutil.ToFloat64(m.errors), testutil.ToFloat64(m.dropped); e != 4 || d != 1 {
		t.Errorf("publish errors %v (want 4: first try and 3 retries of the refused message), dropped %v (want 1)", e, d)
	}
}

// One hostile value costs only itself: a NaN and a 1 MiB text next to a
// normal value publish one message holding all three (NaN as "nf", the text
// cut to sample.MaxWireText with its length), and the cut is counted.
func TestNATSPublishHostileValues(t *testing.T) {
	_, js := testenv.NATSConn(t)
	p := newTestPublisher(t, js, 4)
	m := p.m
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx)
	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	huge := strings.Repeat("x", 1<<20)
	ss := []sample.Sample{
		{Time: tick, Site: "s1", Line: "l1", Machine: "m1", Tag: "temp", Value: math.NaN()},
		{Time: tick, Site: "s1", Line: "l1", Machine: "m1", Tag: "note", Text: huge},
		{Time: tick, Site: "s1", Line: "l1", Machine: "m1", Tag: "ok", Value: 12.5},
	}
	for i := range ss {
		ss[i].Batch = "LOT\x1d42\xff" // a GS1 lot code read with a byte that is not UTF-8
	}
	p.Read(ctx, &sample.Read{Site: "s1", Line: "l1", Machine: "m1", Group: "g", Tick: tick, Samples: ss})
	cancel()
	<-p.done
	cons, err := js.OrderedConsumer(context.Background(), bus.StreamTelemetry, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no message: %v", err)
	}
	b, err := sample.Unmarshal(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Values) != 3 || !math.IsNaN(b.Values[0].Value) || b.Values[1].Cut != len(huge) || len(b.Values[1].Text) != sample.MaxWireText ||
		b.Values[2].Value != 12.5 || b.Batch != "LOT\x1d42\xff" {
		t.Errorf("message: %d values, %v, cut %d text %d bytes, %v, batch %q", len(b.Values), b.Values[0].Value, b.Values[1].Cut, len(b.Values[1].Text), b.Values[2].Value, b.Batch)
	}
	if n := testutil.ToFloat64(m.unencodable.WithLabelValues("nats", sample.ReasonTextCut)); n != 1 {
		t.Errorf("unencodable{nats,text_too_long} = %v, want 1", n)
	}
}
