package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/linewatch/linewatch/alerts"
	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/engine"
	"github.com/linewatch/linewatch/bus"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// ReadStream calls fn for every message of stream stored up to now, in
// stream order (an ordered consumer: no state left on the server).
func ReadStream(ctx context.Context, js jetstream.JetStream, stream string, fn func(jetstream.Msg) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	// A read that stalls (a node of the cluster just restarted) starts
	// again after the last message read, at most three times.
	next := info.State.FirstSeq
	for attempt := 1; ; attempt++ {
		done, err := readFrom(ctx, s, next, last, fn, &next)
		if done || err == nil {
			return err
		}
		if attempt == 3 || ctx.Err() != nil {
			return fmt.Errorf("stream %s: reading up to %d: %w", stream, last, err)
		}
	}
}

// readFrom reads from seq from to last; next is the sequence after the
// last message handed to fn. done: fn failed (its error is final).
func readFrom(ctx context.Context, s jetstream.Stream, from, last uint64, fn func(jetstream.Msg) error, next *uint64) (bool, error) {
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return false, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return false, err
	}
	defer it.Stop()
	for {
		nctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		m, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err != nil {
			return false, err
		}
		md, err := m.Metadata()
		if err != nil {
			return false, err
		}
		if err := fn(m); err != nil {
			return true, err
		}
		*next = md.Sequence.Stream + 1
		if md.Sequence.Stream >= last {
			return true, nil
		}
	}
}

// Result is what a run produced, or what the reference says it should have.
type Result struct {
	Findings    []analytics.Finding
	States      []analytics.MachineState
	Transitions []alerts.Transition
	Telemetry   int // TELEMETRY messages replayed (reference only)
	// Order is FINDINGS as alerts consume it: findings and machine
	// states in stream order (for Explain).
	Order []analytics.Message
}

// Produced reads FINDINGS and ALARMS as the cluster wrote them (raw, so a
// duplicate shows).
func Produced(ctx context.Context, js jetstream.JetStream) (*Result, error) {
	r := &Result{}
	err := ReadStream(ctx, js, bus.StreamFindings, func(m jetstream.Msg) error {
		msg, err := analytics.DecodeMessage(m.Data())
		if err != nil {
			return fmt.Errorf("FINDINGS %s: %w", m.Subject(), err)
		}
		if msg.Finding != nil {
			r.Findings = append(r.Findings, *msg.Finding)
		} else if msg.MachineState != nil {
			r.States = append(r.States, *msg.MachineState)
		}
		r.Order = append(r.Order, msg)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = ReadStream(ctx, js, bus.StreamAlarms, func(m jetstream.Msg) error {
		tr, err := alerts.DecodeTransition(m.Data())
		if err != nil {
			return fmt.Errorf("ALARMS %s: %w", m.Subject(), err)
		}
		r.Transitions = append(r.Transitions, tr)
		return nil
	})
	return r, err
}

// Reference replays the whole TELEMETRY stream, in stream order, through
// one analytics engine built from cfgFile (the analytics process's own
// config), and its findings and machine-state changes, in that order,
// through one alerts worker in this process (its own embedded NATS
// server): what a single worker that never failed would have produced.
func Reference(ctx context.Context, js jetstream.JetStream, cfgFile string) (*Result, error) {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return nil, err
	}
	r := &Result{}
	var (
		events    []refEvent
		msgStates []analytics.MachineState // of the telemetry message being replayed
		msgFinds  []analytics.Finding
		seen      = map[string]bool{} // FINDINGS message ids
	)
	e, err := engine.New(cfg, engine.Options{StatsEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MachineState: func(m analytics.MachineState) {
			if m.Site == "" {
				m.Site = cfg.Site
			}
			msgStates = append(msgStates, m)
		}})
	if err != nil {
		return nil, err
	}
	var samples []sample.Sample
	var fs []analytics.Finding
	err = ReadStream(ctx, js, bus.StreamTelemetry, func(m jetstream.Msg) error {
		r.Telemetry++
		b, err := sample.Unmarshal(m.Data())
		if err != nil {
			return nil // the live engine skips it too
		}
		msgStates, msgFinds = msgStates[:0], msgFinds[:0]
		samples = b.Samples(samples[:0])
		for _, s := range samples {
			fs = e.Process(s, fs[:0])
			for _, f := range fs {
				if f.Site == "" {
					f.Site = cfg.Site
				}
				if f.ID == "" {
					f.ID = analytics.MakeID(f)
				}
				msgFinds = append(msgFinds, f)
			}
		}
		for _, ev := range processOrder(msgStates, msgFinds) {
			// FINDINGS drops a message whose Nats-Msg-Id it has (its
			// duplicate window outlasts a case): a sample the collector
			// published twice gives its state change or finding once.
			id := ""
			if ev.m != nil {
				id = ev.m.ID()
			} else {
				id = ev.f.ID
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			events = append(events, ev)
			if ev.m != nil {
				r.States = append(r.States, *ev.m)
			} else {
				r.Findings = append(r.Findings, *ev.f)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ev := range events {
		r.Order = append(r.Order, analytics.Message{Finding: ev.f, MachineState: ev.m})
	}
	r.Transitions, err = referenceTransitions(ctx, cfg, events)
	return r, err
}

// refEvent is a finding or a machine-state change, in process order.
type refEvent struct {
	f *analytics.Finding
	m *analytics.MachineState
}

// processOrder is what alerts must apply, in order, of one telemetry
// message: the machine-state changes and findings the engine made of it
// by process time (a state holds from its sample's time on: it goes
// before a finding of that same time, after an older one such as a
// batch-end finding made when the next batch's first poll arrives).
// Findings keep the engine's order among themselves, states too. This is
// the reference's statement of the rule; engine.Publisher implements it.
func processOrder(states []analytics.MachineState, fs []analytics.Finding) []refEvent {
	var out []refEvent
	for len(states) > 0 || len(fs) > 0 {
		if len(states) > 0 && (len(fs) == 0 || !fs[0].Time.Before(states[0].Time)) {
			m := states[0]
			out, states = append(out, refEvent{m: &m}), states[1:]
		} else {
			f := fs[0]
			out, fs = append(out, refEvent{f: &f}), fs[1:]
		}
	}
	return out
}

// referenceTransitions publishes the reference findings and machine states
// on FINDINGS of a server of its own, exactly as an analytics process does
// (engine.Publisher), and lets one alerts worker (Run, RunFindings) apply
// them: one alerts worker that never failed, in a process of its own.
func referenceTransitions(ctx context.Context, cfg *config.Config, events []refEvent) ([]alerts.Transition, error) {
	dir, err := os.MkdirTemp("", "linewatch-reference-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg.MoveDataDir(dir)
	cfg.NATS.Replicas = 1
	cfg.NATS.URL = ""
	cfg.Console.UsersFile = ""
	cfg.Alarms.Routes = nil
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: dir + "/nats", Anonymous: true})
	if err != nil {
		return nil, err
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := alerts.New(cfg, nc, alerts.Options{Logger: quiet})
	if err != nil {
		return nil, fmt.Errorf("reference alerts worker: %w", err)
	}
	pub := &engine.Publisher{JS: js, Site: cfg.Site}
	for _, ev := range events {
		var fs []analytics.Finding
		if ev.m != nil {
			pub.MachineState(*ev.m)
		} else {
			fs = []analytics.Finding{*ev.f}
		}
		if err := pub.Notify(ctx, fs); err != nil {
			return nil, fmt.Errorf("reference FINDINGS: %w", err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { svc.Run(rctx); done <- struct{}{} }()
	go func() { svc.RunFindings(rctx); done <- struct{}{} }()
	// Settled: every line consumer has nothing pending and ALARMS stopped growing.
	var last uint64
	since := time.Now()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Since(since) < 3*time.Second {
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("reference alerts worker: not settled within 5 min")
		}
		time.Sleep(200 * time.Millisecond)
		var cur uint64
		if st, err := js.Stream(ctx, bus.StreamAlarms); err == nil {
			if info, err := st.Info(ctx); err == nil {
				cur = info.State.LastSeq
			}
		}
		pending := uint64(0)
		if st, err := js.Stream(ctx, bus.StreamFindings); err == nil {
			for name := range st.ConsumerNames(ctx).Name() {
				if c, err := st.Consumer(ctx, name); err == nil {
					if ci, err := c.Info(ctx); err == nil {
						pending += ci.NumPending + uint64(ci.NumAckPending)
					}
				}
			}
		}
		if cur != last || pending > 0 {
			last, since = cur, time.Now()
		}
	}
	cancel()
	<-done
	<-done
	var trs []alerts.Transition
	err = ReadStream(ctx, js, bus.StreamAlarms, func(m jetstream.Msg) error {
		tr, err := alerts.DecodeTransition(m.Data())
		if err != nil {
			return err
		}
		trs = append(trs, tr)
		return nil
	})
	return trs, err
}

// Diff counts what a run got wrong against the reference.
type Diff struct {
	What                    string // findings, machine states, transitions
	Want, Got               int
	Lost, Duplicated, False int
	Examples                []string // a few of each, for the failure message
}

func (d Diff) OK() bool { return d.Lost == 0 && d.Duplicated == 0 && d.False == 0 && d.Want == d.Got }

func (d Diff) String() string {
	s := fmt.Sprintf("%s: reference %d, cluster %d: %d lost, %d duplicated, %d false", d.What, d.Want, d.Got, d.Lost, d.Duplicated, d.False)
	if len(d.Examples) > 0 {
		s += "\n  " + strings.Join(d.Examples, "\n  ")
	}
	return s
}

// Compare is findings, machine states and alarm transitions of got
// against want. Findings and states are identified by their
// deterministic ids; a transition by alarm, event, states and the
// finding it applied. System alarms (a node or process the test killed)
// and flood summaries are not the engine's and are left out.
func Compare(want, got *Result) []Diff {
	fkey := func(f analytics.Finding) string { return f.ID + " " + f.Key() + " " + f.Time.Format(time.RFC3339Nano) }
	var wf, gf, ws, gs, wt, gt []string
	for _, f := range want.Findings {
		wf = append(wf, fkey(f))
	}
	for _, f := range got.Findings {
		gf = append(gf, fkey(f))
	}
	for _, m := range want.States {
		ws = append(ws, m.ID()+" "+m.Line+"/"+m.Machine+"="+m.State)
	}
	for _, m := range got.States {
		gs = append(gs, m.ID()+" "+m.Line+"/"+m.Machine+"="+m.State)
	}
	for _, tr := range want.Transitions {
		if k, ok := trKey(tr); ok {
			wt = append(wt, k)
		}
	}
	for _, tr := range got.Transitions {
		if k, ok := trKey(tr); ok {
			gt = append(gt, k)
		}
	}
	return []Diff{diff("findings", wf, gf), diff("machine states", ws, gs), diff("alarm transitions", wt, gt)}
}

// TransitionsFor is the transitions a Compare looks at.
func trKey(tr alerts.Transition) (string, bool) {
	if tr.Alarm.Detector == alerts.SystemDetector || tr.Event == alerts.EvFloodStart || tr.Event == alerts.EvFloodEnd {
		return "", false
	}
	return fmt.Sprintf("%s %s %s→%s finding %s", tr.Alarm.ID, tr.Event, tr.From, tr.To, tr.Alarm.LastFinding), true
}

func diff(what string, want, got []string) Diff {
	d := Diff{What: what, Want: len(want), Got: len(got)}
	wc, gc := map[string]int{}, map[string]int{}
	for _, k := range want {
		wc[k]++
	}
	for _, k := range got {
		gc[k]++
	}
	var ex []string
	keys := make([]string, 0, len(wc)+len(gc))
	for k := range wc {
		keys = append(keys, k)
	}
	for k := range gc {
		if _, ok := wc[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, g := wc[k], gc[k]
		switch {
		case w > 0 && g < w:
			d.Lost += w - g
			ex = append(ex, "lost: "+k)
		case w > 0 && g > w:
			d.Duplicated += g - w
			ex = append(ex, fmt.Sprintf("duplicated ×%d: %s", g-w, k))
		case w == 0:
			d.False += g
			ex = append(ex, "false: "+k)
		}
	}
	if len(ex) > 12 {
		ex = append(ex[:12], fmt.Sprintf("… %d more", len(ex)-12))
	}
	d.Examples = ex
	return d
}

// Explain lists, for each alarm a transition Diff names, the transitions
// of want and got in order (event, states, finding, process time), and
// the findings and machine states of its machine as each carried them on
// FINDINGS: what a failure message needs to tell an order problem from a
// lost message.
func Explain(want, got *Result, d Diff) []string {
	ids := map[string]bool{}
	for _, ex := range d.Examples {
		_, rest, ok := strings.Cut(ex, ": ")
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, " ")
		ids[id] = true
	}
	var out []string
	for _, id := range sortedKeys(ids) {
		for _, side := range []struct {
			name string
			r    *Result
		}{{"reference", want}, {"cluster", got}} {
			out = append(out, fmt.Sprintf("%s, alarm %s:", side.name, id))
			var line, machine string
			for _, tr := range side.r.Transitions {
				if tr.Alarm.ID != id {
					continue
				}
				line, machine = tr.Alarm.Line, tr.Alarm.Machine
				out = append(out, fmt.Sprintf("  #%d %s %s→%s finding %s at %s", tr.Seq, tr.Event, tr.From, tr.To, tr.Alarm.LastFinding, tr.At().Format(time.RFC3339Nano)))
			}
			out = append(out, fmt.Sprintf("  FINDINGS of %s/%s:", line, machine))
			for _, m := range side.r.Order {
				switch {
				case m.MachineState != nil && m.MachineState.Line == line && m.MachineState.Machine == machine:
					out = append(out, fmt.Sprintf("    state %s at %s", m.MachineState.State, m.MachineState.Time.Format(time.RFC3339Nano)))
				case m.Finding != nil && m.Finding.Line == line && m.Finding.Machine == machine && strings.HasPrefix(id, m.Finding.Site+"/"+line+"/"+machine+"/"+m.Finding.Tag+"/"+m.Finding.Detector):
					out = append(out, fmt.Sprintf("    finding %s active=%t at %s", m.Finding.ID, m.Finding.Active, m.Finding.Time.Format(time.RFC3339Nano)))
				}
			}
		}
	}
	return out
}

// ExplainFindings says per line how many findings and machine states
// each side has, the cluster's last one and the first the cluster lacks:
// a line whose analytics stopped shows as one missing tail.
func ExplainFindings(want, got *Result) []string {
	type side struct {
		n    int
		last time.Time
		ids  map[string]bool
	}
	count := func(r *Result) map[string]*side {
		out := map[string]*side{}
		for _, m := range r.Order {
			line, id, at := "", "", time.Time{}
			if m.Finding != nil {
				line, id, at = m.Finding.Line, m.Finding.ID, m.Finding.Time
			} else {
				line, id, at = m.MachineState.Line, m.MachineState.ID(), m.MachineState.Time
			}
			sd := out[line]
			if sd == nil {
				sd = &side{ids: map[string]bool{}}
				out[line] = sd
			}
			sd.n++
			sd.ids[id] = true
			if at.After(sd.last) {
				sd.last = at
			}
		}
		return out
	}
	w, g := count(want), count(got)
	lines := map[string]bool{}
	for l := range w {
		lines[l] = true
	}
	for l := range g {
		lines[l] = true
	}
	var out []string
	for _, l := range sortedKeys(lines) {
		ws, gs := w[l], g[l]
		if ws == nil {
			ws = &side{ids: map[string]bool{}}
		}
		if gs == nil {
			gs = &side{ids: map[string]bool{}}
		}
		s := fmt.Sprintf("line %s: reference %d (last at %s), cluster %d (last at %s)", l, ws.n, ws.last.Format(time.RFC3339), gs.n, gs.last.Format(time.RFC3339))
		for _, m := range want.Order {
			if m.Finding != nil && m.Finding.Line == l && !gs.ids[m.Finding.ID] {
				s += fmt.Sprintf("; first missing: finding %s at %s", m.Finding.ID, m.Finding.Time.Format(time.RFC3339))
				break
			}
			if m.MachineState != nil && m.MachineState.Line == l && !gs.ids[m.MachineState.ID()] {
				s += fmt.Sprintf("; first missing: state %s at %s", m.MachineState.State, m.MachineState.Time.Format(time.RFC3339))
				break
			}
		}
		out = append(out, s)
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrNotSettled: the cluster still produced findings or transitions.
var ErrNotSettled = errors.New("not settled")

// Settle waits until FINDINGS and ALARMS have not grown for quiet and
// every alerts line consumer (alerts.FindingsConsumer) has nothing
// pending and nothing waiting for an ack, at most d: the workers have
// caught up. Streams that stopped growing are not enough: a line whose
// message waits for its ack wait (a worker killed holding it) or for a
// re-issued pull still has findings in flight, and a comparison then
// would count them as lost.
func (p *Plant) Settle(ctx context.Context, quiet, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last [2]uint64
	since := time.Now()
	for {
		var cur [2]uint64
		for i, s := range []string{bus.StreamFindings, bus.StreamAlarms} {
			if info, err := p.StreamInfo(ctx, s); err == nil {
				cur[i] = info.State.LastSeq
			}
		}
		inFlight, err := p.linesInFlight(ctx)
		switch {
		case cur != last || inFlight > 0 || err != nil:
			last, since = cur, time.Now()
		case time.Since(since) >= quiet:
			return nil
		}
		if time.Now().After(deadline) {
			why := "FINDINGS/ALARMS still growing"
			switch {
			case err != nil:
				why = "alerts line consumers unreadable: " + err.Error()
			case inFlight > 0:
				why = fmt.Sprintf("%d findings messages pending or unacknowledged on the alerts line consumers", inFlight)
			}
			return fmt.Errorf("not settled after %s: %s: %w", d, why, ErrNotSettled)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// linesInFlight is the number of FINDINGS messages the alerts line
// consumers have not handed out (num pending) or not seen acknowledged
// (ack pending).
func (p *Plant) linesInFlight(ctx context.Context) (uint64, error) {
	st, err := p.JS.Stream(ctx, bus.StreamFindings)
	if err != nil {
		return 0, err
	}
	var n uint64
	prefix := alerts.FindingsConsumer("")
	lister := st.ListConsumers(ctx)
	for info := range lister.Info() {
		if strings.HasPrefix(info.Name, prefix) {
			n += info.NumPending + uint64(info.NumAckPending)
		}
	}
	return n, lister.Err()
}
