package telemetry

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// The real NATS server stops while the collector publishes telemetry:
// "NATS publish failing" is raised after 3 failed attempts of a message
// and cleared once the restarted server acknowledges it.
func TestNATSPublishFailingRaisedAndClearedIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: embedded NATS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rn := testenv.NewRestartableNATS(t, "collector-test")
	js, err := jetstream.New(rn.NC)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	conds := make(chan health.Condition, 16)
	p, err := New(js, Options{MaxInflight: 16, Registerer: reg, Health: func(c health.Condition) { conds <- c },
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	p.backoff, p.ackWait = backoff.Policy{Min: 20 * time.Millisecond, Max: 20 * time.Millisecond}, 300*time.Millisecond
	pctx, stop := context.WithCancel(ctx)
	go p.Run(pctx)
	defer func() { stop(); <-p.done }()
	failing := func() float64 { // read by name: the metric name is a contract
		t.Helper()
		n, err := testutil.GatherAndCount(reg, "linewatch_collector_nats_publish_failing")
		if err != nil || n != 1 {
			t.Fatalf("linewatch_collector_nats_publish_failing: %d series, %v", n, err)
		}
		return testutil.ToFloat64(p.m.publishFailing)
	}
	next := func(what string) health.Condition {
		t.Helper()
		select {
		case c := <-conds:
			return c
		case <-ctx.Done():
			t.Fatalf("no %s", what)
			return health.Condition{}
		}
	}
	tick := time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)
	publish := func(i int) {
		at := tick.Add(time.Duration(i) * time.Second)
		p.Read(ctx, &sample.Read{Site: "s1", Line: "l1", Machine: "m1", Group: "g", Tick: at,
			Samples: []sample.Sample{{Time: at, Site: "s1", Line: "l1", Machine: "m1", Tag: "t", Value: float64(i)}}})
	}
	publish(0)
	if c := next("first clear"); c.Active || c.Name != health.NATSPublish {
		t.Fatalf("first report %+v, want clear", c)
	}
	rn.Stop()
	publish(1)
	raised := next("raise")
	if !raised.Active || raised.Source != health.SourceCollector || raised.Reason == "" {
		t.Fatalf("raised %+v, want active from the collector with a reason", raised)
	}
	if v := failing(); v != 1 {
		t.Errorf("linewatch_collector_nats_publish_failing = %v, want 1", v)
	}
	rn.Start()
	if c := next("clear"); c.Active {
		t.Fatalf("after the restart: %+v, want clear", c)
	}
	if v := failing(); v != 0 {
		t.Errorf("linewatch_collector_nats_publish_failing = %v after recovery, want 0", v)
	}
}
