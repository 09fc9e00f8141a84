package collector

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/clock"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func TestNATSPublisherDedupesAndRetries(t *testing.T) {
	_, js := testenv.NATSConn(t)
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	p := newNATSPublisher(js, 4, quietLog(), m, clock.Real{})
	p.retryGap, p.retries = time.Millisecond, 3 // the default rides out a NATS restart; keep this test short
	ctx, cancel := context.WithCancel(context.Background())
	go p.run(ctx)

	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	ss := []sample.Sample{{Time: tick, Site: "s1", Line: "l1", Machine: "m1", Tag: "t", Value: 1}}
	p.publishSamples(ctx, ss, "g", tick)
	p.publishSamples(ctx, ss, "g", tick)                  // same tick: deduped by Nats-Msg-Id
	p.publishSamples(ctx, ss, "g", tick.Add(time.Second)) // next tick: a new message
	p.enqueue(ctx, nats.NewMsg("not.in.any.stream"))      // no stream: fails, is retried, then dropped
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
	if e, d := counterValue(m.natsErrors), counterValue(m.natsDropped); e != 4 || d != 1 {
		t.Errorf("publish errors %v (want 4: first try and 3 retries), dropped %v (want 1)", e, d)
	}
}

// One hostile value costs only itself: a NaN and a 1 MiB text next to a
// normal value publish one message holding all three (NaN as "nf", the text
// cut to sample.MaxWireText with its length), and the cut is counted.
func TestNATSPublishHostileValues(t *testing.T) {
	_, js := testenv.NATSConn(t)
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	p := newNATSPublisher(js, 4, quietLog(), m, clock.Real{})
	ctx, cancel := context.WithCancel(context.Background())
	go p.run(ctx)
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
	p.publishSamples(ctx, ss, "g", tick)
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
	if n := counterValue(m.unencodable.WithLabelValues("nats", sample.ReasonTextCut)); n != 1 {
		t.Errorf("unencodable{nats,text_too_long} = %v, want 1", n)
	}
}
