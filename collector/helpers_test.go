package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/collector/pki"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
	"github.com/linewatch/linewatch/simulator"
	"github.com/linewatch/linewatch/telemetry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// deadline is generous: CI machines are slow, and the tests wait on values, not on time.
const deadline = 30 * time.Second

func quietLog() *slog.Logger {
	if os.Getenv("LINEWATCH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testLog sends warnings and errors to t.Log (shown when a test fails), and
// nothing once the test is over.
func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("LINEWATCH_TEST_LOG") != "" {
		return quietLog()
	}
	w := &testWriter{t: t}
	t.Cleanup(w.close) // registered first, so it runs after the collector and simulator stopped
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func startSim(t testing.TB, o simulator.Options) *simulator.Simulator {
	t.Helper()
	o.Logger = testLog(t)
	s, err := simulator.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// machineYAML is the filler and checkweigher of filling1 on endpoint.
type machineOpts struct {
	Policy, Mode, Auth string // Auth: "" anonymous, else "username"
	PollInterval       string
	Subscribe          bool
	MaxNodesPerRead    int
	ExtraTags          int // poll synthetic.load tags 1..n on a third machine
}

func testConfig(t testing.TB, endpoint string, o machineOpts) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if o.Policy == "" {
		o.Policy, o.Mode = "None", "None"
	}
	if o.PollInterval == "" {
		o.PollInterval = "50ms"
	}
	auth := "{type: anonymous}"
	if o.Auth == "username" {
		auth = "{type: username, username: operator, password_env: LINEWATCH_TEST_OPCUA_PASSWORD}"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `site: testsite
data_dir: %s
collector: {reconnect_min: 50ms, reconnect_max: 400ms, request_timeout: 2s}
lines:
  - id: filling1
    batch_tag: filler/batch_id
    machines:
      - id: filler
        endpoint: %s
        security_policy: %s
        security_mode: %s
        max_nodes_per_read: %d
        auth: %s
        poll_groups:
          - {name: process, interval: %s, tags: [fill_weight, fill_speed, state, batch_id, product_code]}
`, dir, endpoint, o.Policy, o.Mode, o.MaxNodesPerRead, auth, o.PollInterval)
	if o.Subscribe {
		b.WriteString(`        subscriptions:
          - {name: counters, publishing_interval: 50ms, sampling_interval: 20ms, queue_size: 10, deadband: {type: absolute, value: 0}, tags: [stopper_rejects]}
`)
	}
	b.WriteString(`        tags:
          - {name: fill_weight, node_id: "ns=2;s=filling1.filler.fill_weight", unit: g, role: fill_weight}
          - {name: fill_speed, node_id: "ns=2;s=filling1.filler.fill_speed", unit: vials/min, role: speed}
          - {name: stopper_rejects, node_id: "ns=2;s=filling1.filler.stopper_rejects", unit: count, role: reject_count}
          - {name: state, node_id: "ns=2;s=filling1.filler.state", role: machine_state}
          - {name: batch_id, node_id: "ns=2;s=filling1.filler.batch_id", role: batch_id}
          - {name: product_code, node_id: "ns=2;s=filling1.filler.product_code", role: product_code}
`)
	fmt.Fprintf(&b, `      - id: checkweigher
        endpoint: %s
        security_policy: %s
        security_mode: %s
        auth: %s
        poll_groups:
          - {name: counters, interval: %s, tags: [good_count, reject_count]}
        tags:
          - {name: good_count, node_id: "ns=2;s=filling1.checkweigher.good_count", unit: count, role: good_count}
          - {name: reject_count, node_id: "ns=2;s=filling1.checkweigher.reject_count", unit: count, role: reject_count}
`, endpoint, o.Policy, o.Mode, auth, o.PollInterval)
	if o.ExtraTags > 0 {
		fmt.Fprintf(&b, `      - id: load
        endpoint: %s
        max_nodes_per_read: %d
        poll_groups:
          - name: all
            interval: %s
            tags: [`, endpoint, o.MaxNodesPerRead, o.PollInterval)
		for i := 1; i <= o.ExtraTags; i++ {
			if i > 1 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "t%05d", i)
		}
		b.WriteString("]\n        tags:\n")
		for i := 1; i <= o.ExtraTags; i++ {
			fmt.Fprintf(&b, "          - {name: t%05d, node_id: \"ns=2;s=synthetic.load.tag%05d\"}\n", i, i)
		}
	}
	cfg, err := config.Parse([]byte(b.String()), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v\n%s", err, b.String())
	}
	return cfg
}

// recorder collects everything the collector hands out.
type recorder struct {
	mu      sync.Mutex
	samples []sample.Sample
	batches []sample.BatchEvent
	status  []sample.MachineStatus
	changed chan struct{}
	also    Output // reads are handed on to it (a JetStream publisher, as internal/app fans out)
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) bump() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) Read(ctx context.Context, rd *sample.Read) {
	r.mu.Lock()
	r.samples = append(r.samples, rd.Samples...)
	r.batches = append(r.batches, rd.Batches...)
	r.bump()
	r.mu.Unlock()
	if r.also != nil {
		r.also.Read(ctx, rd)
	}
}

func (r *recorder) Status(_ context.Context, st sample.MachineStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = append(r.status, st)
	r.bump()
}

// readFunc is an Output that hands each read to a function and drops
// status changes.
type readFunc func(ctx context.Context, r *sample.Read)

func (f readFunc) Read(ctx context.Context, r *sample.Read)   { f(ctx, r) }
func (readFunc) Status(context.Context, sample.MachineStatus) {}

// runningPublisher is a JetStream output (package telemetry) whose acks are
// settled until stop; stop drains it.
type runningPublisher struct {
	p    *telemetry.Publisher
	stop func()
}

// startPublisher runs a publisher until stop or the end of the test. Started
// before runCollector, it is stopped after the collector (cleanups run in
// reverse order), so the last reads are drained.
func startPublisher(t testing.TB, js jetstream.JetStream) runningPublisher {
	t.Helper()
	p, err := telemetry.New(js, telemetry.Options{Logger: quietLog(), Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("publisher Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return runningPublisher{p: p, stop: stop}
}

// waitFor blocks until cond (called under the lock) holds, or fails the test.
func (r *recorder) waitFor(t testing.TB, what string, cond func(r *recorder) bool) {
	t.Helper()
	timeout := time.NewTimer(deadline)
	defer timeout.Stop()
	for {
		r.mu.Lock()
		ok := cond(r)
		ch := r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timeout.C:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out after %s waiting for %s; have %d samples, status %+v", deadline, what, len(r.samples), r.status)
		}
	}
}

// last returns the latest sample of machine/tag after index from.
func (r *recorder) last(machine, tag string, from int) (sample.Sample, bool) {
	for i := len(r.samples) - 1; i >= from; i-- {
		if s := r.samples[i]; s.Machine == machine && s.Tag == tag {
			return s, true
		}
	}
	return sample.Sample{}, false
}

// runCollector starts the collector and stops it (and checks it stopped) at cleanup.
func runCollector(t testing.TB, cfg *config.Config, o Options) *Collector {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLog(t)
	}
	c, err := New(cfg, o)
	if err != nil {
		t.Fatalf("collector.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return within 15s of cancel")
		}
	})
	return c
}

// trustServer puts the simulator's certificate into the collector's trust list.
func trustServer(t testing.TB, cfg *config.Config, sim *simulator.Simulator) {
	t.Helper()
	dir := pki.Open(cfg.Collector.PKIDir).TrustedDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sim.der"), sim.ServerCertificate(), 0o644); err != nil {
		t.Fatal(err)
	}
}
