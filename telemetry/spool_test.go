package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/health"
	"github.com/linewatch/linewatch/internal/backoff"
	"github.com/linewatch/linewatch/internal/testenv"
	"github.com/linewatch/linewatch/sample"
)

func spoolEntry(subj string, size int) *entry {
	return &entry{msg: &nats.Msg{Subject: subj}, size: size}
}

// order lists the spool's subjects in arrival order, and checks the
// subject queues against it.
func order(t *testing.T, s *spool) string {
	t.Helper()
	var all []string
	bytes, n := 0, 0
	for e := s.oldest; e != nil; e = e.next {
		all = append(all, fmt.Sprint(e.msg.Data[0]))
		bytes += e.size
		n++
		if e.next != nil && e.next.prev != e {
			t.Fatalf("broken arrival list at %d", e.msg.Data[0])
		}
	}
	if bytes != s.bytes || n != s.msgs {
		t.Errorf("spool counts %d bytes, %d messages; its entries hold %d, %d", s.bytes, s.msgs, bytes, n)
	}
	for _, sub := range s.subjects {
		last := -1
		for e := sub.head; e != nil; e = e.snext {
			if int(e.msg.Data[0]) < last || e.subj != sub {
				t.Errorf("subject %s out of order at %d", sub.name, e.msg.Data[0])
			}
			last = int(e.msg.Data[0])
			if e.snext == nil && sub.tail != e {
				t.Errorf("subject %s: tail is not its last entry", sub.name)
			}
		}
	}
	return strings.Join(all, " ")
}

// The spool counts the bytes it holds, drops the oldest idle messages to
// make room (never one a worker holds), and refuses a message that cannot
// fit.
func TestSpoolBoundDropsOldest(t *testing.T) {
	s := newSpool(100)
	add := func(i int, subj string, size int) (dropped []int, ok bool) {
		e := spoolEntry(subj, size)
		e.msg.Data = []byte{byte(i)}
		d, ok := s.add(e)
		for ; d != nil; d = d.next {
			dropped = append(dropped, int(d.msg.Data[0]))
		}
		return dropped, ok
	}
	for i := range 5 {
		if d, ok := add(i, []string{"a", "b"}[i%2], 20); d != nil || !ok {
			t.Fatalf("add %d to a spool with room: dropped %v, ok %v", i, d, ok)
		}
	}
	if got := order(t, s); got != "0 1 2 3 4" || s.bytes != 100 || s.msgs != 5 {
		t.Fatalf("spool %q, %d bytes, %d messages; want 0–4, 100 bytes", got, s.bytes, s.msgs)
	}
	if d, ok := add(5, "a", 30); fmt.Sprint(d) != "[0 1]" || !ok {
		t.Errorf("30 bytes into a full spool dropped %v (ok %v), want the two oldest [0 1]", d, ok)
	}
	if got := order(t, s); got != "2 3 4 5" || s.bytes != 90 {
		t.Errorf("spool %q, %d bytes; want 2 3 4 5, 90 bytes", got, s.bytes)
	}
	if h := s.subjects["a"].head; h.msg.Data[0] != 2 {
		t.Errorf("subject a starts at %d, want 2", h.msg.Data[0])
	}
	// The oldest is being published: the next oldest goes instead.
	s.subjects["a"].head.busy = true
	if d, ok := add(6, "b", 20); fmt.Sprint(d) != "[3]" || !ok {
		t.Errorf("with the oldest busy, dropped %v (ok %v), want [3]", d, ok)
	}
	if got := order(t, s); got != "2 4 5 6" {
		t.Errorf("spool %q, want 2 4 5 6", got)
	}
	// Larger than the whole bound: refused, after dropping what it could.
	if d, ok := add(7, "c", 101); ok || fmt.Sprint(d) != "[4 5 6]" {
		t.Errorf("a 101-byte message in a 100-byte spool: dropped %v, ok %v; want the idle ones dropped and it refused", d, ok)
	}
	if got := order(t, s); got != "2" || s.bytes != 20 || s.msgs != 1 {
		t.Errorf("spool %q, %d bytes, %d messages; want only the busy 2", got, s.bytes, s.msgs)
	}
	s.remove(s.subjects["a"].head)
	if s.oldest != nil || s.newest != nil || s.bytes != 0 || s.msgs != 0 || s.subjects["a"].head != nil || s.subjects["a"].tail != nil {
		t.Errorf("emptied spool: oldest %v newest %v, %d bytes, %d messages", s.oldest, s.newest, s.bytes, s.msgs)
	}
}

// Removing from the middle of a subject's queue keeps both lists whole.
func TestSpoolRemoveMiddle(t *testing.T) {
	s := newSpool(1 << 20)
	var es []*entry
	for i := range 6 {
		e := spoolEntry([]string{"a", "b"}[i%2], 10)
		e.msg.Data = []byte{byte(i)}
		s.add(e)
		es = append(es, e)
	}
	s.remove(es[2]) // a: 0 2 4
	s.remove(es[5]) // b's tail, the newest
	s.remove(es[0]) // a's head, the oldest
	if got := order(t, s); got != "1 3 4" || s.bytes != 30 {
		t.Errorf("spool %q, %d bytes; want 1 3 4, 30 bytes", got, s.bytes)
	}
	if a := s.subjects["a"]; a.head != es[4] || a.tail != es[4] {
		t.Errorf("subject a: head %v tail %v, want only message 4", a.head.msg.Data, a.tail.msg.Data)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want outcome
	}{
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}, conflict},
		{fmt.Errorf("nats: %w", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant}), conflict},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamMessageExceedsMaximum}, refused},
		{jetstream.ErrNoStreamResponse, refused},
		{&jetstream.APIError{Code: 503, ErrorCode: 10008}, failed},
		{jetstream.ErrAsyncPublishTimeout, failed},
		{nats.ErrDisconnected, failed},
	} {
		if got := classify(c.err); got != c.want {
			t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// waitFor polls cond (state on real servers) until it holds or 30 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func streamState(t testing.TB, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	si, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return si.State
}

// stored is one stored message: its stream sequence, subject, Nats-Msg-Id
// and, for telemetry, the value of its one sample.
type storedMsg struct {
	seq   uint64
	subj  string
	id    string
	value float64
}

// readStream reads n messages of stream matching filter in stream order.
func readStream(t testing.TB, js jetstream.JetStream, stream, filter string, n int) []storedMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []storedMsg
	for len(out) < n {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("read %d of %d messages: %v", len(out), n, err)
		}
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		s := storedMsg{seq: md.Sequence.Stream, subj: m.Subject(), id: m.Headers().Get(jetstream.MsgIDHeader)}
		if b, err := sample.Unmarshal(m.Data()); err == nil && len(b.Values) == 1 {
			s.value = b.Values[0].Value
		}
		out = append(out, s)
	}
	return out
}

var tick0 = time.Date(2026, 1, 5, 6, 0, 0, 0, time.UTC)

// readOf is read i of a machine: tick0 + i s, one sample of value i.
func readOf(machine string, i int) *sample.Read {
	at := tick0.Add(time.Duration(i) * time.Second)
	return &sample.Read{Site: "s1", Line: "l1", Machine: machine, Group: "g", Tick: at,
		Samples: []sample.Sample{{Time: at, Site: "s1", Line: "l1", Machine: machine, Tag: "t", Value: float64(i)}}}
}

func fastRetries(p *Publisher) {
	p.backoff = backoff.Policy{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}
}

// NATS stops while three machines publish: reads go on (nothing waits),
// their messages wait in the spool, and once the server is back (same
// store) every message is stored exactly once, in order per subject,
// with no sequence spent on a duplicate.
func TestPublisherSpoolsThroughNATSOutageIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rn := testenv.NewRestartableNATS(t, "collector-test")
	js, err := jetstream.New(rn.NC, JetStreamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	p := newTestPublisher(t, js, 16)
	fastRetries(p)
	pctx, stop := context.WithCancel(ctx)
	go p.Run(pctx)
	defer func() { stop(); <-p.done }()

	machines := []string{"m1", "m2", "m3"}
	const before, during, after = 5, 40, 5
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			for _, m := range machines {
				p.Read(ctx, readOf(m, i))
			}
		}
	}
	publish(0, before)
	waitFor(t, "the first messages stored", func() bool { return testutil.ToFloat64(p.m.spoolMessages) == 0 })

	// Reads of one machine back to back wait behind each other: counted.
	spooled0 := testutil.ToFloat64(p.m.spooled)
	rn.Stop()
	waitFor(t, "the client to see the server gone", func() bool { return !rn.NC.IsConnected() })
	start := time.Now()
	publish(before, before+during)
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d reads took %s with NATS down: a read must not wait for NATS", during*3, d)
	}
	waitFor(t, "every message of the outage spooled", func() bool { return testutil.ToFloat64(p.m.spooled)-spooled0 == during*3 })
	if n := testutil.ToFloat64(p.m.spoolMessages); n != during*3 {
		t.Errorf("linewatch_collector_nats_spool_messages = %v during the outage, want %d", n, during*3)
	}
	if b := testutil.ToFloat64(p.m.spoolBytes); b < during*3*entryOverhead {
		t.Errorf("linewatch_collector_nats_spool_bytes = %v, want at least %d", b, during*3*entryOverhead)
	}

	rn.Start()
	publish(before+during, before+during+after)
	const total = (before + during + after) * 3
	waitFor(t, "every message stored", func() bool { return testutil.ToFloat64(p.m.spoolMessages) == 0 })
	st := streamState(t, js, bus.StreamTelemetry)
	if st.Msgs != total || st.LastSeq != total {
		t.Errorf("TELEMETRY holds %d messages up to sequence %d, want %d and %d (each once, no sequence spent on a double)", st.Msgs, st.LastSeq, total, total)
	}
	next := map[string]float64{}
	for _, m := range readStream(t, js, bus.StreamTelemetry, bus.TelemetryAll, int(st.Msgs)) {
		if m.value != next[m.subj] {
			t.Errorf("%s: sequence %d holds value %v, want %v (in order, each once)", m.subj, m.seq, m.value, next[m.subj])
		}
		next[m.subj] = m.value + 1
	}
	for _, m := range machines {
		if n := next[bus.TelemetrySubject("s1", "l1", m)]; n != before+during+after {
			t.Errorf("%s: %v messages in order, want %d", m, n, before+during+after)
		}
	}
	if d := testutil.ToFloat64(p.m.dropped); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	if e := testutil.ToFloat64(p.m.errors); e == 0 {
		t.Error("no failed attempt counted during the outage")
	}
}

// A spool with room for 10 messages while NATS is down: of 50 reads the
// 40 oldest are dropped and counted, "NATS spool dropping" is raised with
// the count, and the 10 newest are stored once NATS is back; the
// condition clears once the spool has drained.
func TestPublisherSpoolDropsOldestIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rn := testenv.NewRestartableNATS(t, "collector-test")
	js, err := jetstream.New(rn.NC, JetStreamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	conds := make(chan health.Condition, 256)
	p, err := New(js, Options{MaxInflight: 4, Registerer: reg, Health: func(c health.Condition) { conds <- c },
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	fastRetries(p)
	pctx, stop := context.WithCancel(ctx)
	go p.Run(pctx)
	defer func() { stop(); <-p.done }()

	rn.Stop()
	waitFor(t, "the client to see the server gone", func() bool { return !rn.NC.IsConnected() })
	const n, room = 50, 10
	p.Read(ctx, readOf("m1", 100)) // values 100…149: every message the same size
	size := testutil.ToFloat64(p.m.spoolBytes)
	p.mu.Lock()
	p.sp.limit = room * int(size)
	p.mu.Unlock()
	for i := 1; i < n; i++ {
		p.Read(ctx, readOf("m1", 100+i))
	}
	for name, want := range map[string]float64{
		"linewatch_collector_nats_spool_messages":      room,
		"linewatch_collector_nats_spool_bytes":         room * size,
		"linewatch_collector_nats_spool_dropped_total": n - room,
		"linewatch_collector_nats_dropped_total":       n - room,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	var drop []health.Condition
	for len(conds) > 0 {
		if c := <-conds; c.Name == health.NATSSpoolDrop {
			drop = append(drop, c)
		}
	}
	// Reported at the 1st, 2nd, 4th… drop: 1, 2, 4, 8, 16, 32.
	if len(drop) != 6 || !drop[0].Active || drop[0].Source != health.SourceCollector || !strings.Contains(drop[0].Reason, ": 1 oldest messages dropped") ||
		!strings.Contains(drop[5].Reason, ": 32 oldest messages dropped") {
		t.Errorf("nats_spool_dropping reports %+v, want 6, raised, the last naming 32 dropped", drop)
	}

	rn.Start()
	waitFor(t, "the spool drained", func() bool { return testutil.ToFloat64(p.m.spoolMessages) == 0 })
	var want []float64
	for i := n - room; i < n; i++ {
		want = append(want, float64(100+i))
	}
	var got []float64
	for _, m := range readStream(t, js, bus.StreamTelemetry, bus.TelemetryAll, room) {
		got = append(got, m.value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored values %v, want the %d newest %v", got, room, want)
	}
	if st := streamState(t, js, bus.StreamTelemetry); st.Msgs != room {
		t.Errorf("TELEMETRY holds %d messages, want %d", st.Msgs, room)
	}
	for {
		select {
		case c := <-conds:
			if c.Name == health.NATSSpoolDrop && !c.Active {
				return
			}
		case <-ctx.Done():
			t.Fatal("nats_spool_dropping not cleared after the spool drained")
		}
	}
}

func gathered(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// Per-subject order when a publish must be retried, with the collector's
// own NATS permissions, through a link that loses traffic on demand:
//  1. message 5 is stored but its acknowledgement is lost with the
//     connection, and the stream has forgotten its Nats-Msg-Id by the
//     time the publisher can retry: the retry, expecting the subject's
//     last sequence, is refused; the publisher reads the subject's last
//     message, finds message 5 and does not store it twice;
//  2. message 6 is lost on the way while another writer appends to the
//     subject: the retry expects a stale sequence, is refused, and goes
//     behind the other writer's message.
//
// Message 7 then follows in order.
func TestPublisherKeepsSubjectOrderOnRetryIntegration(t *testing.T) {
	testenv.SkipShort(t, "NATS")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	s := testenv.SecureNATS(t, dir)
	_, admin := testenv.RoleConn(t, s.ClientURL(), dir, bus.RoleAdmin)
	for _, sc := range bus.StreamConfigs(bus.StreamOptions{}) {
		if sc.Name == bus.StreamTelemetry {
			sc.Duplicates = 100 * time.Millisecond // the shortest allowed: a test can outwait it
		}
		if _, err := admin.CreateOrUpdateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	link := testenv.NewDropProxy(t, s.Addr().String())
	key, err := nats.NkeyOptionFromSeed(bus.SeedFile(bus.CredentialsDir(dir), bus.RoleCollector))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(link.URL(), key, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.Name("collector-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cjs, err := jetstream.New(nc, JetStreamOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPublisher(t, cjs, 16)
	fastRetries(p)
	pctx, stop := context.WithCancel(ctx)
	go p.Run(pctx)
	defer func() { stop(); <-p.done }()

	subj := bus.TelemetrySubject("s1", "l1", "m1")
	drained := func() bool { return testutil.ToFloat64(p.m.spoolMessages) == 0 }
	stored := func(want uint64) func() bool {
		return func() bool { return streamState(t, admin, bus.StreamTelemetry).Msgs == want }
	}
	// reconnect lets the client back in once the stream has forgotten the
	// Nats-Msg-Ids stored so far: a probe stored after them is forgotten
	// after them.
	reconnect := func() {
		t.Helper()
		probe := nats.NewMsg("linewatch.telemetry.s1.l1.probe")
		probe.Header.Set(jetstream.MsgIDHeader, "probe")
		if _, err := admin.PublishMsg(ctx, probe); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the duplicate window to pass", func() bool {
			ack, err := admin.PublishMsg(ctx, probe)
			return err == nil && !ack.Duplicate
		})
		link.Pass(testenv.ToClient)
		link.Pass(testenv.ToServer)
		link.Refuse(false)
	}
	disconnect := func() {
		t.Helper()
		link.Refuse(true)
		link.Disconnect()
		waitFor(t, "the client to see the link cut", func() bool { return !nc.IsConnected() })
	}
	for i := range 5 {
		p.Read(ctx, readOf("m1", i))
	}
	waitFor(t, "messages 0–4 stored", drained)

	// 1. Stored, acknowledgement lost.
	link.Drop(testenv.ToClient, "", 0)
	p.Read(ctx, readOf("m1", 5))
	waitFor(t, "message 5 stored", stored(5+1))
	disconnect()
	reconnect()
	waitFor(t, "message 5 settled", drained)

	// 2. Lost on the way; another writer appends meanwhile.
	link.Drop(testenv.ToServer, "", 0)
	out := nc.Stats().OutMsgs
	p.Read(ctx, readOf("m1", 6))
	waitFor(t, "message 6 sent", func() bool { return nc.Stats().OutMsgs > out })
	foreign := nats.NewMsg(subj)
	foreign.Header.Set(jetstream.MsgIDHeader, "foreign")
	if _, err := admin.PublishMsg(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	disconnect()
	reconnect()
	p.Read(ctx, readOf("m1", 7))
	waitFor(t, "messages 6 and 7 stored", drained)

	idOf := func(i int) string { return telemetryMsgID("l1", "m1", "g", readOf("m1", i).Tick) }
	want := []string{idOf(0), idOf(1), idOf(2), idOf(3), idOf(4), idOf(5), "foreign", idOf(6), idOf(7)}
	var got []string
	for _, m := range readStream(t, admin, bus.StreamTelemetry, subj, len(want)) {
		got = append(got, m.id)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subject %s holds\n%v\nwant\n%v", subj, got, want)
	}
	st, err := admin.Stream(ctx, bus.StreamTelemetry)
	if err != nil {
		t.Fatal(err)
	}
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		t.Fatal(err)
	}
	if n := si.State.Subjects[subj]; n != uint64(len(want)) {
		t.Errorf("%s holds %d messages, want %d (nothing stored twice)", subj, n, len(want))
	}
	if d := testutil.ToFloat64(p.m.dropped); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
}

// BenchmarkPublishBacklog: draining a backlog of 10 000 telemetry messages
// of 100 machines (one in flight per machine, 256 in all) into a local
// JetStream.
func BenchmarkPublishBacklog(b *testing.B) {
	const backlog, machines = 10000, 100
	_, js := testenv.NATSConn(b)
	p := newTestPublisher(b, js, 256)
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx)
	defer func() { cancel(); <-p.done }()
	reads := make([]*sample.Read, backlog)
	n := 0
	b.ResetTimer()
	var spent time.Duration
	for range b.N {
		b.StopTimer()
		for i := range reads {
			reads[i] = readOf(fmt.Sprintf("m%d", i%machines), n)
			n++
		}
		// Hold every in-flight slot while the backlog builds.
		for range cap(p.slots) {
			p.slots <- struct{}{}
		}
		for _, r := range reads {
			p.Read(ctx, r)
		}
		b.StartTimer()
		t0 := time.Now()
		for range cap(p.slots) {
			<-p.slots
		}
		for {
			p.mu.Lock()
			left := p.sp.msgs
			p.mu.Unlock()
			if left == 0 {
				break
			}
			<-p.emptied
		}
		spent += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N*backlog), "ns/msg")
	if d := testutil.ToFloat64(p.m.dropped); d != 0 {
		b.Fatalf("%v messages dropped", d)
	}
}
