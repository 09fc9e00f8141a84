package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sort"
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

// The two lines of scenario(): one partition each.
var scenarioLines = []string{"coldroom1", "filling1"}

const (
	testLeaseTTL   = 2 * time.Second
	testLeaseRenew = 500 * time.Millisecond
)

// liveEnv is a NATS server with the linewatch streams, the demo config
// and a record of every finding notified by any worker.
type liveEnv struct {
	t   *testing.T
	url string
	js  jetstream.JetStream
	cfg *config.Config

	mu    sync.Mutex
	found []notified
}

type notified struct {
	worker string
	f      analytics.Finding
}

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	s := testenv.NATS(t)
	e := &liveEnv{t: t, url: s.ClientURL()}
	_, e.js = e.connect()
	if err := bus.EnsureStreams(context.Background(), e.js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.cfg, err = config.Demo(); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *liveEnv) connect() (*nats.Conn, jetstream.JetStream) {
	nc, err := nats.Connect(e.url, nats.MaxReconnects(0))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return nc, js
}

// publish puts each sample in its own TELEMETRY message, in order.
func (e *liveEnv) publish(ss []sample.Sample) {
	e.t.Helper()
	for i := range ss {
		b := sample.NewBatch(ss[i : i+1])
		data, _ := b.Marshal()
		if _, err := e.js.Publish(context.Background(), bus.TelemetrySubject("demo-plant", b.Line, b.Machine), data); err != nil {
			e.t.Fatal(err)
		}
	}
}

// gate blocks a worker's notifications (before they are recorded) from
// the after-th on, until opened: a worker stuck in the middle of a backlog.
type gate struct {
	mu      sync.Mutex
	after   int
	n       int
	blocked chan struct{} // closed when the first notification blocks
	open    chan struct{}
}

func newGate(after int) *gate {
	return &gate{after: after, blocked: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) wait(ctx context.Context) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	g.n++
	block := g.n >= g.after
	if block && g.n == g.after {
		close(g.blocked)
	}
	g.mu.Unlock()
	if !block {
		return nil
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type lineNotifier struct {
	env    *liveEnv
	worker string
	gate   *gate
}

func (n *lineNotifier) Notify(ctx context.Context, fs []analytics.Finding) error {
	if err := n.gate.wait(ctx); err != nil {
		return err
	}
	n.env.mu.Lock()
	defer n.env.mu.Unlock()
	for _, f := range fs {
		n.env.found = append(n.env.found, notified{n.worker, f})
	}
	return nil
}

type liveWorker struct {
	live   *Live
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan error
}

func (e *liveEnv) start(name string, lines []string, g *gate) *liveWorker {
	e.t.Helper()
	nc, js := e.connect()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		quiet = slog.Default().With("w", name)
	}
	l := &Live{JS: js, Site: e.cfg.Site, Lines: lines, Consumer: "analytics", Worker: name, CheckpointEvery: 50 * time.Millisecond,
		LeaseTTL: testLeaseTTL, LeaseRenew: testLeaseRenew, Logger: quiet, Registerer: prometheus.NewRegistry(),
		Open: func(line string) (*Engine, Notifier, error) {
			eng, err := New(e.cfg, Options{Line: line, Logger: quiet})
			return eng, &lineNotifier{env: e, worker: name, gate: g}, err
		}}
	ctx, cancel := context.WithCancel(context.Background())
	w := &liveWorker{live: l, nc: nc, cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- l.Run(ctx) }()
	e.t.Cleanup(func() { cancel(); <-w.done; w.done <- nil })
	return w
}

// stop is a clean shutdown: final checkpoints, leases deleted.
func (w *liveWorker) stop(t *testing.T) {
	w.cancel()
	if err := <-w.done; err != nil {
		t.Error(err)
	}
	w.done <- nil
}

// kill is a SIGKILL as the server sees it: the connection goes first, so
// nothing is checkpointed or released after it.
func (w *liveWorker) kill() {
	w.nc.Close()
	w.cancel()
	<-w.done
	w.done <- nil
}

func findingID(f analytics.Finding) string {
	if f.ID != "" {
		return f.ID
	}
	return analytics.MakeID(f)
}

// reference is the replay of ss through one whole-site engine.
func (e *liveEnv) reference(ss []sample.Sample) map[string]bool {
	eng, err := New(e.cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range run(eng, ss) {
		want[findingID(f)] = true
	}
	if len(want) == 0 {
		e.t.Fatal("the reference has no finding: the test would prove nothing")
	}
	return want
}

func (e *liveEnv) unique() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := map[string]int{}
	for _, n := range e.found {
		got[findingID(n.f)]++
	}
	return got
}

// compare checks the findings notified (duplicates removed by id, as
// alerts does) against want: none missing, none false; dups tells whether
// repeated ids are allowed (a takeover re-makes the findings after the
// checkpoint).
func (e *liveEnv) compare(want map[string]bool, dups bool) {
	e.t.Helper()
	got := e.unique()
	var missing, false_, dup []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	nd := 0
	for id, n := range got {
		if !want[id] {
			false_ = append(false_, id)
		}
		if n > 1 {
			dup = append(dup, id)
			nd += n - 1
		}
	}
	sort.Strings(missing)
	sort.Strings(false_)
	if len(missing) > 0 || len(false_) > 0 {
		e.t.Errorf("findings differ from the reference replay (%d): %d missing %v, %d false %v", len(want), len(missing), missing, len(false_), false_)
	}
	if len(dup) > 0 && !dups {
		e.t.Errorf("%d findings notified more than once: %v", nd, dup)
	}
	e.t.Logf("%d findings as the reference; %d repeated (dropped by alerts by id)", len(want), nd)
}

func (e *liveEnv) waitAll(want map[string]bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, all := e.unique(), true
		for id := range want {
			all = all && got[id] > 0
		}
		if all {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.compare(want, true)
	e.t.Fatal("not every finding of the reference within 20 s")
}

func heldBy(ws ...*liveWorker) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.live.Held()...)
	}
	slices.Sort(out)
	return out
}

func TestTwoWorkersSplitLinesIntegration(t *testing.T) {
	e := newLiveEnv(t)
	ss := scenario()
	want := e.reference(ss)
	a := e.start("a", scenarioLines, nil)
	b := e.start("b", scenarioLines, nil)
	waitFor(t, func() bool {
		return len(a.live.Held()) == 1 && len(b.live.Held()) == 1 && slices.Equal(heldBy(a, b), scenarioLines)
	})
	e.publish(ss)
	e.waitAll(want)
	a.stop(t)
	b.stop(t)
	e.compare(want, false)
	// Each line's findings came from one worker only.
	by := map[string]map[string]bool{}
	for _, n := range e.found {
		if by[n.f.Line] == nil {
			by[n.f.Line] = map[string]bool{}
		}
		by[n.f.Line][n.worker] = true
	}
	for line, ws := range by {
		if len(ws) != 1 {
			t.Errorf("line %s analysed by %d workers: %v", line, len(ws), ws)
		}
	}
}

func TestKillWhileDrainingTakeoverIntegration(t *testing.T) {
	e := newLiveEnv(t)
	ss := scenario()
	want := e.reference(ss)
	g := newGate(2) // a is stuck at its second notification
	a := e.start("a", scenarioLines, g)
	b := e.start("b", scenarioLines, nil)
	waitFor(t, func() bool { return len(a.live.Held()) == 1 && len(b.live.Held()) == 1 })
	e.publish(ss)
	select {
	case <-g.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("worker a never reached its second notification")
	}
	aLine := a.live.Held()[0]
	a.kill()
	killed := time.Now()
	waitFor(t, func() bool { return slices.Equal(b.live.Held(), scenarioLines) })
	took := time.Since(killed)
	// The lease expires TTL after its last renewal; b takes it at its next round.
	if bound := testLeaseTTL + 2*testLeaseRenew + 500*time.Millisecond; took > bound {
		t.Errorf("line %s taken over %s after the kill, want ≤ %s", aLine, took, bound)
	}
	t.Logf("line %s taken over %s after the kill (lease TTL %s, renew %s)", aLine, took.Round(time.Millisecond), testLeaseTTL, testLeaseRenew)
	e.waitAll(want)
	b.stop(t)
	e.compare(want, true)
}

func TestWorkerJoinRebalanceIntegration(t *testing.T) {
	e := newLiveEnv(t)
	ss := scenario()
	want := e.reference(ss)
	g := newGate(2)
	a := e.start("a", scenarioLines, g)
	waitFor(t, func() bool { return len(a.live.Held()) == 2 })
	e.publish(ss)
	select {
	case <-g.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("worker a never reached its second notification")
	}
	b := e.start("b", scenarioLines, nil)
	waitFor(t, func() bool { return len(a.live.Held()) == 1 && len(b.live.Held()) == 1 })
	close(g.open)
	e.waitAll(want)
	a.stop(t)
	b.stop(t)
	// The release interrupted a's notification in flight (the gate): b
	// starts from a's last checkpoint before it and makes that finding
	// again, with the same id.
	e.compare(want, true)
}

// A worker that lost its line (another owner claimed the checkpoint with
// a newer lease) has its next checkpoint refused and stops the line.
func TestFencedCheckpointAfterLeaseLossIntegration(t *testing.T) {
	e := newLiveEnv(t)
	ss := scenario()
	var first []sample.Sample // filling1 only
	for _, s := range ss {
		if s.Line == "filling1" {
			first = append(first, s)
		}
	}
	a := e.start("a", []string{"filling1"}, nil)
	waitFor(t, func() bool { return len(a.live.Held()) == 1 })
	e.publish(first[:600])
	ctx := context.Background()
	state, err := e.js.KeyValue(ctx, StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	leases, err := e.js.KeyValue(ctx, LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	key := checkpointKey("analytics", "filling1")
	var cp checkpoint
	var rev uint64
	waitFor(t, func() bool {
		en, err := state.Get(ctx, key)
		if err != nil {
			return false
		}
		rev = en.Revision()
		return json.Unmarshal(en.Value(), &cp) == nil && cp.Seq == 600
	})
	// Another worker takes over: the lease expires (purge) and is created
	// again; its claim rewrites the checkpoint with the new epoch.
	if err := leases.Purge(ctx, "analytics.lease.filling1"); err != nil {
		t.Fatal(err)
	}
	epoch, err := leases.Create(ctx, "analytics.lease.filling1", []byte("b"))
	if err != nil {
		t.Fatal(err)
	}
	claim := checkpoint{Seq: cp.Seq, State: cp.State, Line: "filling1", Owner: "b", Epoch: epoch}
	b, _ := json.Marshal(claim)
	if _, err := state.Update(ctx, key, b, rev); err != nil {
		t.Fatal(err)
	}
	e.publish(first[600:])
	waitFor(t, func() bool { return len(a.live.Held()) == 0 })
	en, err := state.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var after checkpoint
	if err := json.Unmarshal(en.Value(), &after); err != nil {
		t.Fatal(err)
	}
	if after.Owner != "b" || after.Epoch != epoch || after.Seq != cp.Seq {
		t.Errorf("checkpoint after the takeover: owner %q epoch %d seq %d, want b's claim (epoch %d, seq %d): a's write was not fenced",
			after.Owner, after.Epoch, after.Seq, epoch, cp.Seq)
	}
	// a's line is stopped for good: nothing of the messages after the
	// takeover is analysed by it (filling1 drifts from message 600 on).
	n := len(e.unique())
	e.publish(first[600:700])
	if got := len(e.unique()); got != n {
		t.Errorf("a notified %d findings after it lost the line", got-n)
	}
}

// The whole-site checkpoint of the release before partitions (key =
// consumer name) is migrated: each line resumes from its part of it.
func TestMigrateWholeSiteCheckpointIntegration(t *testing.T) {
	e := newLiveEnv(t)
	ss := scenario()
	half := 1800
	old, err := New(e.cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for _, f := range run(old, ss[:half]) {
		before[findingID(f)] = true
	}
	want := map[string]bool{}
	for _, f := range run(old, ss[half:]) {
		want[findingID(f)] = true
	}
	// the old engine went on; the checkpoint is of the first half
	old2, _ := New(e.cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	run(old2, ss[:half])
	st, err := old2.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, err := e.js.CreateKeyValue(ctx, StateBucketConfig(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		Seq   uint64 `json:"seq"`
		State []byte `json:"state"`
	}{uint64(half), st}) // the earlier release's format
	if _, err := kv.Put(ctx, "analytics", b); err != nil {
		t.Fatal(err)
	}
	e.publish(ss)
	a := e.start("a", scenarioLines, nil)
	e.waitAll(want)
	a.stop(t)
	got := e.unique()
	var stale []string
	for id := range got {
		if before[id] && !want[id] {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		t.Errorf("findings of the first half made again after the migration: %s", strings.Join(stale, " "))
	}
	e.compare(want, false)
}
