package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/store"
	"github.com/linewatch/linewatch/telemetry"
)

// fanoutRig is the collector's two outputs, real, behind the fan-out.
type fanoutRig struct {
	w   *store.Writer
	pub *telemetry.Publisher
	out fanout
}

// startOutputs runs a writer to influxURL and a publisher on js until the
// test ends (or stopWriter / the returned stop funcs).
func startOutputs(t *testing.T, influxURL, database string, js jetstream.JetStream) (rig fanoutRig, stopWriter func(), stopPub func()) {
	t.Helper()
	demo, err := config.Demo()
	if err != nil {
		t.Fatal(err)
	}
	icfg := demo.InfluxDB
	icfg.URL, icfg.Database, icfg.FlushInterval, icfg.Spool.Dir = influxURL, database, 50*time.Millisecond, t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := store.NewWriter(icfg, store.WriterOptions{Logger: quiet, Metrics: prometheus.NewRegistry(), DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := telemetry.New(js, telemetry.Options{MaxInflight: 16, Logger: quiet, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	stop := func(run func(context.Context) error) func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx) }()
		stopped := false
		f := func() {
			if !stopped {
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("stop: %v", err)
				}
			}
		}
		t.Cleanup(f)
		return f
	}
	stopPub = stop(pub.Run)
	stopWriter = stop(w.Run)
	return fanoutRig{w: w, pub: pub, out: fanout{storeSinks{w}, pub}}, stopWriter, stopPub
}

// reads hands n reads of machine m1 to the fan-out.
func (r fanoutRig) reads(ctx context.Context, n int) {
	t0 := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		r.out.Read(ctx, &sample.Read{Site: "s1", Line: "l1", Machine: "m1", Group: "fast", Tick: at,
			Samples: []sample.Sample{{Time: at, Site: "s1", Line: "l1", Machine: "m1", Tag: "t", Value: float64(i)}}})
	}
}

// telemetryMessages reads n messages of TELEMETRY, failing after wait.
func telemetryMessages(t *testing.T, js jetstream.JetStream, n int, wait time.Duration) {
	t.Helper()
	cons, err := js.OrderedConsumer(t.Context(), bus.StreamTelemetry, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m, err := cons.Next(jetstream.FetchMaxWait(wait))
		if err != nil {
			t.Fatalf("telemetry message %d of %d: %v", i+1, n, err)
		}
		b, err := sample.Unmarshal(m.Data())
		if err != nil || b.Machine != "m1" || len(b.Values) != 1 || b.Values[0].Value != float64(i) {
			t.Fatalf("telemetry message %d: %+v, %v", i+1, b, err)
		}
	}
}

// One failing output does not stop the other: with NATS down every read
// still reaches InfluxDB (and JetStream once NATS is back, by the
// publisher's retries); with InfluxDB down every read still reaches
// JetStream, and the writer loses none.
func TestFanoutOneFailingOutputDoesNotStopTheOtherIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB and NATS")
	}
	const n = 5
	t.Run("NATS down", func(t *testing.T) {
		rn := testenv.NewRestartableNATS(t, "fanout-test")
		js, err := jetstream.New(rn.NC)
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.EnsureStreams(t.Context(), js, bus.StreamOptions{}); err != nil {
			t.Fatal(err)
		}
		db := testenv.Influx(t)
		rig, _, _ := startOutputs(t, db.URL, db.Database, js)
		rn.Stop()
		rig.reads(t.Context(), n)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := rig.w.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if got := db.Count(t, "value", "telemetry", `"machine" = 'm1'`); got != n {
			t.Errorf("InfluxDB holds %d values with NATS down, want %d", got, n)
		}
		rn.Start()
		telemetryMessages(t, js, n, 30*time.Second)
	})
	t.Run("InfluxDB down", func(t *testing.T) {
		_, js := testenv.NATSConn(t)
		rig, stopWriter, _ := startOutputs(t, "http://127.0.0.1:1", "refused", js) // nothing listens on port 1
		rig.reads(t.Context(), n)
		telemetryMessages(t, js, n, 30*time.Second)
		stopWriter() // spools what it could not send
		if st := rig.w.Status(); st.LinesLost != 0 || st.SpoolBytes == 0 {
			t.Errorf("writer with InfluxDB down: %d lines lost, %d bytes spooled; want none lost, all spooled", st.LinesLost, st.SpoolBytes)
		}
	})
}
