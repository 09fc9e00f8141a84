package collector

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/collector/clock"
	"github.com/linewatch/linewatch/collector/sample"
	"github.com/linewatch/linewatch/internal/testenv"
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
