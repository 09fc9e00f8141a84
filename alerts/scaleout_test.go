package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/internal/testenv"
)

// scaleConfig is the demo config without delays or floods (unless a
// test sets them): every finding of the backlog changes its alarm.
func scaleConfig(t testing.TB) *config.Config {
	cfg := demoConfig(t)
	cfg.Alarms.OnDelay, cfg.Alarms.OffDelay = 0, 0
	cfg.Alarms.Flood.Threshold = 0
	return cfg
}

// connect opens a connection of its own to url (a worker process).
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// backlogMsg is one message of a backlog: a finding or a machine state.
type backlogMsg struct {
	f  *analytics.Finding
	ms *analytics.MachineState
}

// backlog is n findings over three lines, four alarms per line, each
// finding toggling its alarm (so any finding applied out of order or
// dropped changes the transitions), with the filler going into CIP and
// back in the middle (suppression in order with the findings around it).
func backlog(n int) []backlogMsg {
	lines := [][2]string{{"filling1", "filler"}, {"coldroom1", "coldroom"}, {"tableting1", "press"}}
	var out []backlogMsg
	active := map[string]bool{}
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		lm := lines[i%len(lines)]
		if i == n/3 || i == 2*n/3 {
			st := "cip"
			if i == 2*n/3 {
				st = "running"
			}
			out = append(out, backlogMsg{ms: &analytics.MachineState{Time: at, Line: "filling1", Machine: "filler", State: st}})
		}
		tag := fmt.Sprint("t", (i/len(lines))%4)
		k := lm[0] + "/" + tag
		active[k] = !active[k]
		f := fnd(lm[0], lm[1], tag, active[k], at)
		out = append(out, backlogMsg{f: &f})
	}
	return out
}

func publishBacklog(t testing.TB, js jetstream.JetStream, site string, msgs []backlogMsg) {
	t.Helper()
	pub := &engine.Publisher{JS: js, Site: site}
	ctx := context.Background()
	for _, m := range msgs {
		var fs []analytics.Finding
		if m.ms != nil {
			pub.MachineState(*m.ms)
		} else {
			fs = []analytics.Finding{*m.f}
		}
		if err := pub.Notify(ctx, fs); err != nil {
			t.Fatal(err)
		}
	}
}

// drained waits until every line consumer has handed out and seen acked
// every message, and no alarm has an unpublished transition.
func drained(t testing.TB, js jetstream.JetStream, cfg *config.Config, st *Store) {
	t.Helper()
	ctx := context.Background()
	eventually(t, "line consumers drained, outboxes empty", func() bool {
		for _, l := range cfg.Lines {
			c, err := js.Consumer(ctx, bus.StreamFindings, FindingsConsumer(l.ID))
			if err != nil {
				return false
			}
			info, err := c.Info(ctx)
			if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
				return false
			}
		}
		recs, err := st.records(ctx)
		if err != nil {
			return false
		}
		for _, r := range recs {
			if len(r.Pending) > 0 {
				return false
			}
		}
		return true
	})
}

// sequences is every alarm's transitions on ALARMS, in stream order.
func sequences(t testing.TB, js jetstream.JetStream) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tr := range streamTransitions(t, js) {
		out[tr.Alarm.ID] = append(out[tr.Alarm.ID], fmt.Sprintf("%d %s %s→%s", tr.Seq, tr.Event, tr.From, tr.To))
	}
	return out
}

// checkContiguous fails unless each alarm's transitions are numbered
// 1, 2, 3 … in stream order: none lost, none twice, none out of order.
func checkContiguous(t testing.TB, seqs map[string][]string) {
	t.Helper()
	for id, s := range seqs {
		for i, x := range s {
			if !strings.HasPrefix(x, fmt.Sprint(i+1, " ")) {
				t.Fatalf("alarm %s: transition %d is %q:\n%s", id, i+1, x, strings.Join(s, "\n"))
			}
		}
	}
}

func compareSequences(t testing.TB, want, got map[string][]string) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(want[id], got[id]) {
			t.Errorf("alarm %s:\n one worker: %q\n got:        %q", id, want[id], got[id])
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("alarm %s only in the run under test: %q", id, got[id])
		}
	}
}

func counted(s *Service, outcome string) int {
	return int(testutil.ToFloat64(s.metrics.findings.WithLabelValues(outcome)))
}

// reference drains msgs with one worker on a server of its own.
func reference(t *testing.T, cfg *config.Config, msgs []backlogMsg) map[string][]string {
	t.Helper()
	nc, js := testenv.NATSConn(t)
	publishBacklog(t, js, cfg.Site, msgs)
	s := newService(t, cfg, nc, newClock(), nil)
	run(t, s)
	runFindings(t, s)
	drained(t, js, cfg, s.Store())
	seqs := sequences(t, js)
	checkContiguous(t, seqs)
	if n := counted(s, outcomeApplied); n != len(msgs)-2 {
		t.Fatalf("one worker applied %d findings of %d", n, len(msgs)-2)
	}
	return seqs
}

// Two alerts workers draining a backlog give exactly the transitions of
// one worker, alarm by alarm (the issue measured 184 of 986 changes lost
// with the shared consumer).
func TestTwoWorkersDrainBacklogIntegration(t *testing.T) {
	cfg := scaleConfig(t)
	msgs := backlog(600)
	want := reference(t, cfg, msgs)
	if len(want) != 12 {
		t.Fatalf("%d alarms in the reference, want 12", len(want))
	}

	srv := testenv.NATS(t)
	pnc := connect(t, srv.ClientURL())
	js, _ := jetstream.New(pnc)
	if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	publishBacklog(t, js, cfg.Site, msgs)
	var ws []*Service
	for range 2 {
		s := newService(t, cfg, connect(t, srv.ClientURL()), newClock(), nil)
		run(t, s)
		runFindings(t, s)
		ws = append(ws, s)
	}
	drained(t, js, cfg, ws[0].Store())
	got := sequences(t, js)
	checkContiguous(t, got)
	compareSequences(t, want, got)
	applied := 0
	for i, s := range ws {
		applied += counted(s, outcomeApplied)
		if n := counted(s, outcomeSuperseded); n != 0 {
			t.Errorf("worker %d superseded %d findings", i, n)
		}
		t.Logf("worker %d applied %d findings", i, counted(s, outcomeApplied))
	}
	if applied != len(msgs)-2 {
		t.Errorf("the workers applied %d findings, want %d", applied, len(msgs)-2)
	}
}

// A worker killed while it drains a backlog (its connection closed
// abruptly, without acking the message it holds, as SIGKILL would): the
// other worker takes the line's message after the ack wait, recognises
// it as applied when it was, and every transition is on ALARMS exactly
// once and in order (the issue measured 358 of 1 308 changes lost).
func TestWorkerKilledMidDrainIntegration(t *testing.T) {
	cfg := scaleConfig(t)
	msgs := backlog(450)
	want := reference(t, cfg, msgs)

	srv := testenv.NATS(t)
	pnc := connect(t, srv.ClientURL())
	js, _ := jetstream.New(pnc)
	if err := bus.EnsureStreams(context.Background(), js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	publishBacklog(t, js, cfg.Site, msgs)

	// Worker A dies right after publishing its 40th transition: before
	// it clears its outbox and acks the finding.
	anc := connect(t, srv.ClientURL())
	var n atomic.Int32
	var kill sync.Once
	killed := make(chan struct{})
	a, err := New(cfg, anc, Options{Clock: newClock(), FindingsAckWait: time.Second, OnTransition: func(Transition) {
		if n.Add(1) == 40 {
			kill.Do(func() { anc.Close(); close(killed) })
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	clkB := newClock()
	b, err := New(cfg, connect(t, srv.ClientURL()), Options{Clock: clkB, FindingsAckWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	actx, stopA := context.WithCancel(context.Background())
	aDone := make(chan error, 1)
	go func() { aDone <- a.RunFindings(actx) }()
	t.Cleanup(func() { stopA(); <-aDone }) // it fails on its closed connection: a dead worker
	run(t, b)
	runFindings(t, b)
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("worker A did not reach its 40th transition")
	}
	drained(t, js, cfg, b.Store())
	got := sequences(t, js)
	checkContiguous(t, got)
	compareSequences(t, want, got)
	if s := counted(a, outcomeSuperseded) + counted(b, outcomeSuperseded); s != 0 {
		t.Errorf("%d findings superseded", s)
	}
	t.Logf("worker A applied %d before it died; B applied %d, recognised %d redelivered",
		counted(a, outcomeApplied), counted(b, outcomeApplied), counted(b, outcomeRedelivered))
}

// A finding older than the last one applied to its alarm (analytics
// published out of time order) is superseded: not applied, counted and
// logged, and a redelivery of it is recognised, not counted again.
func TestLateFindingSupersededIntegration(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	cfg := scaleConfig(t)
	log := &testenv.Buffer{}
	s, err := New(cfg, nc, Options{Clock: newClock(), Logger: testLogger(log)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	newer := fnd("filling1", "filler", "t0", true, t0.Add(time.Minute))
	older := fnd("filling1", "filler", "t0", false, t0)
	if err := s.notifyOne(ctx, newer, 10); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time: a redelivery of the same message
		if err := s.notifyOne(ctx, older, 11); err != nil {
			t.Fatal(err)
		}
	}
	if n := counted(s, outcomeSuperseded); n != 1 {
		t.Fatalf("superseded %d, want 1", n)
	}
	if n := counted(s, outcomeRedelivered); n != 1 {
		t.Fatalf("redelivered %d, want 1", n)
	}
	if !strings.Contains(log.String(), "finding superseded") || !strings.Contains(log.String(), older.ID) {
		t.Fatalf("superseded finding not logged:\n%s", log.String())
	}
	a, _, _ := s.Store().Get(ctx, AlarmID(cfg.Site, newer))
	if !a.Active || a.LastFinding != newer.ID {
		t.Fatalf("alarm after a superseded clear: %+v", a)
	}
	if n := len(streamTransitions(t, js)); n != 1 {
		t.Fatalf("%d transitions, want 1", n)
	}
}

func testLogger(w *testenv.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Suppression by design with analytics and alerts in separate processes,
// each on its own NATS connection with its role's real credentials and
// permissions (as `linewatch run --roles analytics` and `--roles alerts`
// connect): the machine state reaches the alerts workers only over
// FINDINGS, and with two alerts workers the alarm is suppressed and
// unsuppressed exactly once each.
func TestSuppressionAcrossRoleConnectionsIntegration(t *testing.T) {
	dir := t.TempDir()
	srv := testenv.SecureNATS(t, dir)
	cfg := scaleConfig(t)
	var ws []*Service
	for range 2 {
		nc, _ := testenv.RoleConn(t, srv.ClientURL(), dir, bus.RoleAlerts)
		s := newService(t, cfg, nc, newClock(), nil) // the alerts role makes the streams
		run(t, s)
		runFindings(t, s)
		ws = append(ws, s)
	}
	_, njs := testenv.RoleConn(t, srv.ClientURL(), dir, bus.RoleAnalytics)
	pub := &engine.Publisher{JS: njs, Site: cfg.Site}
	ctx := context.Background()
	on := fnd("filling1", "filler", "fill_weight", true, t0)
	id := AlarmID(cfg.Site, on)
	get := func() Alarm { a, _, _ := ws[0].Store().Get(ctx, id); return a }
	step := func(what string, ms *analytics.MachineState, fs []analytics.Finding, cond func(Alarm) bool) {
		t.Helper()
		if ms != nil {
			pub.MachineState(*ms)
		}
		if err := pub.Notify(ctx, fs); err != nil {
			t.Fatalf("%s: analytics publish: %v", what, err)
		}
		eventually(t, what, func() bool { return cond(get()) })
	}
	step("alarm active", nil, []analytics.Finding{on}, func(a Alarm) bool { return a.State == Unacknowledged })
	step("suppressed during CIP", &analytics.MachineState{Time: t0.Add(time.Minute), Line: "filling1", Machine: "filler", State: "cip"}, nil,
		func(a Alarm) bool { return a.State == SuppressedByDesign })
	step("unsuppressed in production", &analytics.MachineState{Time: t0.Add(2 * time.Minute), Line: "filling1", Machine: "filler", State: "running"}, nil,
		func(a Alarm) bool { return a.State == Unacknowledged && !a.Suppressed })
	_, ajs := testenv.RoleConn(t, srv.ClientURL(), dir, bus.RoleAlerts)
	drained(t, ajs, cfg, ws[0].Store())
	var evs []Event
	for _, tr := range streamTransitions(t, ajs) {
		if tr.Alarm.ID == id {
			evs = append(evs, tr.Event)
		}
	}
	if want := []Event{EvActivate, EvSuppress, EvUnsuppress}; !slices.Equal(evs, want) {
		t.Fatalf("transitions %v, want %v", evs, want)
	}
}

// An upgrade from the shared consumer "alerts": the line consumers start
// right after its ack floor, so findings the old workers applied are not
// applied again and none after them is skipped.
func TestLineConsumersStartAfterLegacyFloorIntegration(t *testing.T) {
	nc, js := testenv.NATSConn(t)
	cfg := scaleConfig(t)
	ctx := context.Background()
	msgs := drainBacklog(40) // ten per line
	publishBacklog(t, js, cfg.Site, msgs)
	legacy, err := js.CreateOrUpdateConsumer(ctx, bus.StreamFindings, jetstream.ConsumerConfig{
		Durable: LegacyFindingsConsumer, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := legacy.Fetch(12)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 12 {
		t.Fatalf("fetched %d, want 12", n)
	}
	s := newService(t, cfg, nc, newClock(), nil)
	runFindings(t, s)
	drained(t, js, cfg, s.Store())
	// The 28 after the floor: per line t3 on, t0 t1 t2 off (no change: in
	// this fresh bucket the old workers' activations are not there), t3
	// off, t0 t1 on.
	if a, same := counted(s, outcomeApplied), counted(s, CodeNoChange); a != 16 || same != 12 {
		t.Fatalf("after the legacy floor: %d applied, %d no change; want 16 and 12 (the 28 after it)", a, same)
	}
	c, err := js.Consumer(ctx, bus.StreamFindings, FindingsConsumer("filling1"))
	if err != nil {
		t.Fatal(err)
	}
	if st := c.CachedInfo().Config.OptStartSeq; st != 13 {
		t.Fatalf("line consumer starts at %d, want 13", st)
	}
}
