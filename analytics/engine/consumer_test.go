package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

// seqLog records every stream sequence each line's engine processed.
type seqLog struct {
	mu   sync.Mutex
	seqs map[string][]uint64
}

func (s *seqLog) add(line string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs[line] = append(s.seqs[line], seq)
}

func (s *seqLog) get(line string) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seqs[line])
}

// stallEnv is one analytics worker on a restartable embedded server,
// publishing the demo scenario's samples of one line.
type stallEnv struct {
	t    *testing.T
	srv  *testenv.RestartableNATS
	js   jetstream.JetStream // the test's own client
	cfg  *config.Config
	line string
	seqs *seqLog
	live *Live
	reg  *prometheus.Registry
	logs *testenv.Buffer
	// published: the line's stream sequences, in order.
	published []uint64
	samples   []sample.Sample
}

func newStallEnv(t *testing.T) *stallEnv {
	t.Helper()
	e := &stallEnv{t: t, srv: testenv.NewRestartableNATS(t, "test"), line: "filling1", seqs: &seqLog{seqs: map[string][]uint64{}},
		reg: prometheus.NewRegistry(), logs: &testenv.Buffer{}}
	var err error
	if e.js, err = jetstream.New(e.srv.NC); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(t.Context(), e.js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.cfg, err = config.Demo(); err != nil {
		t.Fatal(err)
	}
	for _, s := range scenario() {
		if s.Line == e.line {
			e.samples = append(e.samples, s)
		}
	}
	// The worker's own connection rides the server's restarts.
	nc, err := nats.Connect(e.srv.NC.ConnectedUrl(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	wjs, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.live = &Live{JS: wjs, Site: e.cfg.Site, Lines: []string{e.line}, Consumer: "analytics", Worker: "w", CheckpointEvery: 50 * time.Millisecond,
		// A lease that outlives the server's restart: the line stays with
		// this worker, so only the consumer is made again.
		LeaseTTL: 30 * time.Second, LeaseRenew: 500 * time.Millisecond,
		StallAfter: time.Second, Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Registerer: e.reg,
		Open: func(line string) (*Engine, Notifier, error) {
			eng, err := New(e.cfg, Options{Line: line, Logger: quiet})
			return eng, nopNotifier{}, err
		},
		onHandled: e.seqs.add}
	return e
}

// run starts the worker and waits until it holds the line.
func (e *stallEnv) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.live.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	})
	waitFor(e.t, func() bool { return len(e.live.Held()) == 1 })
}

// publish puts the next n samples of the line on TELEMETRY, one message each.
func (e *stallEnv) publish(n int) {
	e.t.Helper()
	for range n {
		s := e.samples[len(e.published)]
		b := sample.NewBatch([]sample.Sample{s})
		data, _ := b.Marshal()
		var ack *jetstream.PubAck
		err := eventually(e.t, func() error {
			var err error
			ack, err = e.js.Publish(e.t.Context(), bus.TelemetrySubject(e.cfg.Site, b.Line, b.Machine), data)
			return err
		})
		if err != nil {
			e.t.Fatal(err)
		}
		e.published = append(e.published, ack.Sequence)
	}
}

// eventually retries f (a server coming back) for up to 20 s.
func eventually(t *testing.T, f func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// waitProcessed waits until the line's engine processed every published
// message, then asserts the exact sequence: each once, in order.
func (e *stallEnv) waitProcessed() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.seqs.get(e.line)) < len(e.published) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	if got := e.seqs.get(e.line); !slices.Equal(got, e.published) {
		e.t.Fatalf("processed stream sequences differ from the published ones:\n got  %d %v\n want %d %v\nworker log:\n%s",
			len(got), got, len(e.published), e.published, e.logs.String())
	}
}

// consumer is the line's consumer on the server (there is one).
func (e *stallEnv) consumer() string {
	e.t.Helper()
	var name string
	err := eventually(e.t, func() error {
		st, err := e.js.Stream(e.t.Context(), bus.StreamTelemetry)
		if err != nil {
			return err
		}
		var names []string
		for info := range st.ListConsumers(e.t.Context()).Info() {
			if info.Config.FilterSubject == bus.TelemetrySubject(e.cfg.Site, e.line, ">") {
				names = append(names, info.Name)
			}
		}
		if len(names) != 1 {
			return fmt.Errorf("consumers of line %s: %v, want one", e.line, names)
		}
		name = names[0]
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return name
}

// restarts is the line's linewatch_analytics_consumer_restarts_total.
func (e *stallEnv) restarts() float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "linewatch_analytics_consumer_restarts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "line" && l.GetValue() == e.line {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	e.t.Fatalf("no linewatch_analytics_consumer_restarts_total{line=%q}", e.line)
	return 0
}

// checkpoint is the stream sequence of the line's checkpoint.
func (e *stallEnv) checkpoint() (uint64, bool) {
	kv, err := e.js.KeyValue(e.t.Context(), StateBucket)
	if err != nil {
		return 0, false
	}
	en, err := kv.Get(e.t.Context(), checkpointKey("analytics", e.line))
	if err != nil {
		return 0, false
	}
	var cp checkpoint
	if json.Unmarshal(en.Value(), &cp) != nil {
		return 0, false
	}
	return cp.Seq, true
}

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, []analytics.Finding) error { return nil }

// The line's consumer is deleted (what a kill of the node holding it
// does), then the server itself is killed and started again: each time
// the line is analysed again from the checkpoint + 1 — every message
// processed exactly once, in order.
func TestLineConsumerNodeKilledIntegration(t *testing.T) {
	e := newStallEnv(t)
	e.run()
	e.publish(100)
	e.waitProcessed()

	// The consumer disappears while the line is idle: the stall check
	// finds it gone.
	first := e.consumer()
	if err := e.js.DeleteConsumer(t.Context(), bus.StreamTelemetry, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.restarts() >= 1 })
	e.publish(100)
	e.waitProcessed()
	if c := e.consumer(); c == first {
		t.Errorf("consumer %s still in use after it was deleted", c)
	}

	// The node (the only one) killed and restarted: the in-memory
	// consumer is gone with it; messages published after the restart.
	before := e.restarts()
	e.srv.Stop()
	e.srv.Start()
	e.publish(100)
	e.waitProcessed()
	if e.restarts() <= before {
		t.Errorf("restarts %v after the node restart, want more than %v", e.restarts(), before)
	}
	// The checkpoint catches up with the last message (the line's authority).
	waitFor(t, func() bool {
		cp, ok := e.checkpoint()
		return ok && cp == e.published[len(e.published)-1]
	})
	if !strings.Contains(e.logs.String(), "line consumer made again") {
		t.Errorf("no restart logged:\n%s", e.logs.String())
	}
	t.Logf("%d messages processed once each; %v consumer restarts:\n%s", len(e.published), e.restarts(), restartLines(e.logs.String()))
}

// A consumer paused through the JetStream API delivers nothing while
// the line has messages: the stall check makes it again, and the line
// resumes from the checkpoint + 1.
func TestLineConsumerPausedIsMadeAgainIntegration(t *testing.T) {
	e := newStallEnv(t)
	e.run()
	e.publish(50)
	e.waitProcessed()
	paused := e.consumer()
	if _, err := e.js.PauseConsumer(t.Context(), bus.StreamTelemetry, paused, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.publish(150)
	e.waitProcessed()
	if e.restarts() != 1 {
		t.Errorf("restarts %v, want 1", e.restarts())
	}
	if !strings.Contains(e.logs.String(), "reason=\"consumer paused\"") {
		t.Errorf("restart reason not logged as paused:\n%s", e.logs.String())
	}
	if c := e.consumer(); c == paused {
		t.Errorf("the paused consumer %s is still the line's", c)
	}
}

func restartLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "made again") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestStallReason(t *testing.T) {
	for _, c := range []struct {
		name string
		ci   jetstream.ConsumerInfo
		last uint64
		want string
	}{
		{"idle line", jetstream.ConsumerInfo{Delivered: jetstream.SequenceInfo{Stream: 10}}, 10, ""},
		{"paused", jetstream.ConsumerInfo{Paused: true, Delivered: jetstream.SequenceInfo{Stream: 10}}, 10, "consumer paused"},
		{"pending", jetstream.ConsumerInfo{NumPending: 7, Delivered: jetstream.SequenceInfo{Stream: 10}}, 10, "7 messages pending, none delivered for 3s"},
		{"lost in flight", jetstream.ConsumerInfo{Delivered: jetstream.SequenceInfo{Stream: 12}}, 10, "delivered up to stream sequence 12, received up to 10"},
	} {
		if got := stallReason(&c.ci, c.last, 3*time.Second); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
