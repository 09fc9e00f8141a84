package collector

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
	"github.com/linewatch/linewatch/store"
)

// TestHostileValuesIntegration: the real simulator over sockets sends NaN,
// an array, invalid UTF-8 and a batch id full of control
// characters (NUL, GS, trailing backslash); the collector writes into real
// InfluxDB and publishes on real JetStream. Every value read is stored and
// published (exact counts per tag), and the hostile ones come back whole.
func TestHostileValuesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts InfluxDB, NATS and the simulator")
	}
	sim := startSim(t, simulator.Options{AllowAnonymous: true})
	hostile := map[string]string{ // tag → hostile kind
		"fill_weight":  simulator.HostileNaN,
		"state":        simulator.HostileInvalidUTF8,
		"batch_id":     simulator.HostileControlChars,
		"product_code": simulator.HostileArray,
	}
	for tag, kind := range hostile {
		if err := sim.Inject(simulator.Fault{Kind: simulator.FaultHostile, Target: "filling1.filler." + tag, Hostile: kind}); err != nil {
			t.Fatal(err)
		}
	}
	db := testenv.Influx(t)
	_, js := testenv.NATSConn(t)
	cfg := testConfig(t, sim.Endpoint(), machineOpts{})
	cfg.InfluxDB.URL, cfg.InfluxDB.Database = db.URL, db.Database
	cfg.InfluxDB.FlushInterval = 50 * time.Millisecond
	cfg.InfluxDB.Spool.Dir = t.TempDir()
	log := testLog(t)
	w, err := store.NewWriter(cfg.InfluxDB, store.WriterOptions{Logger: log, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- w.Run(wctx) }()
	defer func() { wcancel(); <-wdone }()

	rec := newRecorder()
	pub := startPublisher(t, js)
	rec.also = readFunc(func(ctx context.Context, r *sample.Read) { // as internal/app fans out
		w.WriteSamples(r.Samples)
		pub.p.Read(ctx, r)
	})
	c, err := New(cfg, Options{Output: rec, Logger: log, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	rec.waitFor(t, "twenty reads of every tag", func(r *recorder) bool {
		sim.Advance(5 * time.Second) // the process moves on between reads
		n := map[string]int{}
		for _, s := range r.samples {
			n[s.Tag]++
		}
		for _, tag := range []string{"fill_weight", "fill_speed", "state", "batch_id", "product_code", "good_count", "reject_count"} {
			if n[tag] < 20 {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("collector Run: %v", err)
	}
	pub.stop() // drained: every telemetry message is acknowledged or given up
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	if err := w.Flush(fctx); err != nil {
		t.Fatal(err)
	}

	rec.mu.Lock()
	read := append([]sample.Sample(nil), rec.samples...)
	rec.mu.Unlock()
	want := map[string]int{}
	for _, s := range read {
		want[s.Machine+"/"+s.Tag]++
	}

	// InfluxDB: every value read, per tag, read back through the store's decoder.
	client, err := store.NewClient(cfg.InfluxDB, store.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	var fromDB []sample.Sample
	for s, err := range client.Samples(fctx, store.SampleQuery{Site: "testsite", Line: "filling1", From: time.Unix(0, 0), To: time.Now().Add(24 * 365 * time.Hour)}) {
		if err != nil {
			t.Fatal(err)
		}
		got[s.Machine+"/"+s.Tag]++
		fromDB = append(fromDB, s)
	}
	// Reads of an unchanged value carry the same source timestamp: InfluxDB
	// keeps one point per series (batch included) and time, so compare
	// distinct (batch, time) pairs.
	type point struct {
		batch string
		t     time.Time
	}
	distinct := map[string]map[point]bool{}
	for _, s := range read {
		k := s.Machine + "/" + s.Tag
		if distinct[k] == nil {
			distinct[k] = map[point]bool{}
		}
		distinct[k][point{s.Batch, s.Time}] = true
	}
	for k := range want {
		if got[k] != len(distinct[k]) {
			t.Errorf("InfluxDB has %d points of %s, want %d (distinct source times of %d reads)", got[k], k, len(distinct[k]), want[k])
		}
	}
	checkHostile(t, "InfluxDB", fromDB)

	// NATS: every value read, per tag, decoded from schema v2.
	cons, err := js.OrderedConsumer(fctx, bus.StreamTelemetry, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	onNATS := map[string]int{}
	var fromNATS []sample.Sample
	info, err := js.Stream(fctx, bus.StreamTelemetry)
	if err != nil {
		t.Fatal(err)
	}
	msgs := info.CachedInfo().State.Msgs
	for i := uint64(0); i < msgs; i++ {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, msgs, err)
		}
		b, err := sample.Unmarshal(m.Data())
		if err != nil {
			t.Fatalf("telemetry message: %v\n%.300s", err, m.Data())
		}
		for _, s := range b.Samples(nil) {
			onNATS[s.Machine+"/"+s.Tag]++
			fromNATS = append(fromNATS, s)
		}
	}
	for k, n := range want {
		if onNATS[k] != n {
			t.Errorf("NATS carried %d values of %s, want %d", onNATS[k], k, n)
		}
	}
	checkHostile(t, "NATS", fromNATS)
	t.Logf("reads per tag %v; InfluxDB points %v; NATS values %v", want, got, onNATS)
}

// checkHostile asserts the hostile values came back whole.
func checkHostile(t *testing.T, where string, ss []sample.Sample) {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range ss {
		if s.Batch != "" && s.Batch != simulator.HostileControlText {
			t.Errorf("%s: %s carries batch %q, want %q", where, s.Key(), s.Batch, simulator.HostileControlText)
		}
		switch s.Tag {
		case "fill_weight":
			seen[s.Tag] = true
			if !math.IsNaN(s.Value) || s.Good() || s.Quality() != sample.Good {
				t.Errorf("%s: fill_weight %+v: want NaN, status Good kept, not usable", where, s)
			}
		case "product_code":
			seen[s.Tag] = true
			if s.Text != "[1.5 NaN +Inf]" {
				t.Errorf("%s: product_code text %q, want the array as text", where, s.Text)
			}
		case "state":
			seen[s.Tag] = true
			if s.Text != simulator.HostileUTF8Text {
				t.Errorf("%s: state text %q, want %q", where, s.Text, simulator.HostileUTF8Text)
			}
		case "batch_id":
			seen[s.Tag] = true
			if s.Text != simulator.HostileControlText {
				t.Errorf("%s: batch_id text %q, want %q", where, s.Text, simulator.HostileControlText)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("%s: hostile tags seen: %v", where, strings.Join(keys(seen), ","))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
