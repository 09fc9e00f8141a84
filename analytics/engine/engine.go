package engine

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/analytics/batchev"
	"github.com/linewatch/linewatch/analytics/detect"
	"github.com/linewatch/linewatch/config"
	"github.com/linewatch/linewatch/sample"
)

// DefaultStatsEvery is how often (in sample time) a detector's statistics
// are emitted for the spc measurement: often enough for dashboards, far
// less often than samples arrive.
const DefaultStatsEvery = 10 * time.Second

// StatPoint is one detector's statistics at one time.
type StatPoint struct {
	Time     time.Time
	Site     string
	Line     string
	Machine  string
	Tag      string
	Detector string
	Stats    []detect.Stat
}

// Options tune an Engine.
type Options struct {
	// StatsEvery is the sample-time interval of StatPoints per detector; <0 disables them.
	StatsEvery time.Duration
	// MachineState is called when a machine_state tag changes value (alarm
	// suppression by design), before the findings of the same sample.
	MachineState func(analytics.MachineState)
	// Line builds the detectors of this line only ("" : every line): the
	// engine of one analytics partition (Live runs one per held line).
	Line   string
	Logger *slog.Logger
	// FromBatchStart: the samples begin at a batch start (a batch report),
	// so golden-batch models judge the first phase from its first value.
	FromBatchStart bool
	// BatchSlice, if set, receives every maturity slice a golden-batch model
	// judged (the report's trajectory-over-envelope chart).
	BatchSlice func(m *batchev.Model, st batchev.SliceStat)
}

// Engine routes samples to detectors. It is not safe for concurrent use:
// one goroutine feeds it (one line's state lives on one worker).
type Engine struct {
	site           string
	routes         map[string][]*instance // line/machine/tag → detectors
	instances      []*instance
	yields         map[string]*yieldTracker // line/machine → per-batch yield
	yieldRoutes    map[string]*yieldTracker // line/machine/tag → tracker
	pcaRoutes      map[string][]pcaRoute
	models         []*pcaModel
	batchRoutes    map[string][]batchRoute
	batchModels    []*batchModel
	stateTags      map[string]bool
	states         map[string]string
	critical       map[string]bool // line/machine/tag of tags marked critical
	nonFinite      map[string]bool // critical tags whose last non-bad value was NaN or ±Inf
	includeNonGood bool
	opts           Options
	stats          []StatPoint
	lastTime       map[string]time.Time         // per tag: newest source timestamp processed
	machines       map[machineKey]*machineState // clock, batch, observers and flushers of each machine
	log            *slog.Logger
}

// Detectors that need more than their own tag's samples declare it by
// implementing one of these.
type (
	// observer judges its tag on the machine's clock (stale sensors).
	observer interface {
		Observe(prev, now time.Time, dst []analytics.Finding) []analytics.Finding
	}
	// flusher closes what it accumulates per batch (p-chart subgroup,
	// capability) when the machine's batch changes; s carries the ended
	// batch and the time of the change.
	flusher interface {
		Flush(s sample.Sample, dst []analytics.Finding) []analytics.Finding
	}
)

type machineKey struct{ line, machine string }

func (k machineKey) String() string { return k.line + "/" + k.machine }

// machineState is what the engine knows of one machine beyond its tags.
type machineState struct {
	clock     time.Time // newest source time of any good value
	batch     string
	haveBatch bool
	observers []observer
	flushers  []*instance
}

// New builds the detectors of every analytics rule in cfg.
func New(cfg *config.Config, opts Options) (*Engine, error) {
	if opts.StatsEvery == 0 {
		opts.StatsEvery = DefaultStatsEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	e := &Engine{
		site: cfg.Site, routes: map[string][]*instance{}, yields: map[string]*yieldTracker{},
		yieldRoutes: map[string]*yieldTracker{}, stateTags: map[string]bool{}, states: map[string]string{},
		critical: map[string]bool{}, nonFinite: map[string]bool{},
		includeNonGood: cfg.Analytics.IncludeNonGood, opts: opts, log: opts.Logger, lastTime: map[string]time.Time{},
		machines: map[machineKey]*machineState{},
	}
	for _, t := range cfg.AllTags() {
		if opts.Line != "" && t.Line.ID != opts.Line {
			continue
		}
		if t.Tag.Role == "machine_state" {
			e.stateTags[t.String()] = true
		}
		if t.Tag.Critical {
			e.critical[t.String()] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range cfg.Analytics.Rules {
		var refs []config.TagRef
		for _, p := range r.Tags {
			refs = append(refs, cfg.MatchTags(p)...)
		}
		for _, t := range refs {
			if opts.Line != "" && t.Line.ID != opts.Line {
				continue
			}
			dets, err := buildRule(r, cfg.Target(t))
			if err != nil {
				return nil, err
			}
			for _, d := range dets {
				inst := &instance{line: t.Line.ID, machine: t.Machine.ID, tag: t.Tag.Name, det: d}
				keys := []string{t.String()}
				if pc := r.PChart; pc != nil && d.Name() == detect.NamePChart {
					// one p-chart per machine, fed by both counters
					inst.tag = pc.RejectTag
					inst.upperOnly = !pc.TwoSided
					keys = []string{t.Line.ID + "/" + t.Machine.ID + "/" + pc.GoodTag, t.Line.ID + "/" + t.Machine.ID + "/" + pc.RejectTag}
				}
				inst.id = inst.line + "/" + inst.machine + "/" + inst.tag + "/" + d.Name()
				if seen[inst.id] {
					continue // two rules or patterns selecting the same tag and detector
				}
				seen[inst.id] = true
				e.instances = append(e.instances, inst)
				ms := e.machine(machineKey{inst.line, inst.machine})
				if o, ok := d.(observer); ok {
					ms.observers = append(ms.observers, o)
				}
				if _, ok := d.(flusher); ok {
					ms.flushers = append(ms.flushers, inst)
				}
				for _, k := range keys {
					e.routes[k] = append(e.routes[k], inst)
				}
			}
			if y := r.Yield; y != nil {
				mk := t.Line.ID + "/" + t.Machine.ID
				if e.yields[mk] == nil {
					yt := &yieldTracker{line: t.Line.ID, machine: t.Machine.ID, goodTag: y.GoodTag, rejectTag: y.RejectTag,
						params: y.Params()}
					e.yields[mk] = yt
					e.yieldRoutes[mk+"/"+y.GoodTag] = yt
					e.yieldRoutes[mk+"/"+y.RejectTag] = yt
				}
			}
		}
	}
	var err error
	if e.pcaRoutes, e.models, err = loadModels(cfg, opts.Line); err != nil {
		return nil, err
	}
	if e.batchRoutes, e.batchModels, err = loadBatchModels(cfg, opts.Line); err != nil {
		return nil, err
	}
	if opts.FromBatchStart {
		for _, m := range e.batchModels {
			m.det.FromBatchStart()
		}
	}
	sort.Slice(e.instances, func(i, j int) bool { return e.instances[i].id < e.instances[j].id })
	return e, nil
}

func (e *Engine) machine(key machineKey) *machineState {
	ms := e.machines[key]
	if ms == nil {
		ms = &machineState{}
		e.machines[key] = ms
	}
	return ms
}

// Detectors lists the attached detector ids (line/machine/tag/detector).
func (e *Engine) Detectors() []string {
	out := make([]string, len(e.instances))
	for i, in := range e.instances {
		out[i] = in.id
	}
	return out
}

// Process feeds one sample to its detectors and appends their findings.
// Non-good samples are ignored unless the config includes them.
func (e *Engine) Process(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if s.Site == "" {
		s.Site = e.site
	}
	key := s.Key()
	if e.stateTags[key] && s.Text != "" && e.states[key] != s.Text {
		e.states[key] = s.Text
		if e.opts.MachineState != nil {
			e.opts.MachineState(analytics.MachineState{Time: s.Time.UTC(), Site: s.Site, Line: s.Line, Machine: s.Machine, State: s.Text})
		}
	}
	ms := e.machines[machineKey{s.Line, s.Machine}]
	if ms != nil && len(ms.flushers) > 0 {
		if ms.haveBatch && s.Batch != ms.batch {
			dst = e.flush(ms, s, dst)
		}
		ms.batch, ms.haveBatch = s.Batch, true
	}
	if e.critical[key] {
		dst = e.checkFinite(s, key, dst)
	}
	if !e.includeNonGood && !s.Good() {
		return dst
	}
	if ms != nil && s.Good() && s.Time.After(ms.clock) {
		prev := ms.clock
		ms.clock = s.Time
		if !prev.IsZero() {
			for _, o := range ms.observers {
				dst = o.Observe(prev, ms.clock, dst)
			}
		}
	}
	// A value read again unchanged keeps its source timestamp: it is the
	// same measurement, and counting it twice would bias every chart.
	if last, ok := e.lastTime[key]; ok && !s.Time.After(last) {
		return dst
	}
	e.lastTime[key] = s.Time
	if yt := e.yieldRoutes[key]; yt != nil {
		dst = yt.update(s, dst)
	}
	for _, r := range e.pcaRoutes[key] {
		dst = r.m.update(s, r.idx, dst)
	}
	for _, r := range e.batchRoutes[key] {
		dst = r.m.update(s, r.idx, dst)
		if e.opts.BatchSlice != nil {
			r.m.buf = r.m.det.DrainStats(r.m.buf[:0])
			for _, st := range r.m.buf {
				e.opts.BatchSlice(r.m.det.Model(), st)
			}
			continue
		}
		if e.opts.StatsEvery > 0 {
			e.stats = r.m.drainStats(s.Site, e.stats)
		} else {
			r.m.buf = r.m.det.DrainStats(r.m.buf[:0])
		}
	}
	for _, in := range e.routes[key] {
		n := len(dst)
		dst = in.det.Update(s, dst)
		if in.upperOnly {
			dst = dropRule(dst, n, "lower")
		}
		if e.opts.StatsEvery > 0 && !s.Time.Before(in.nextStat) {
			in.nextStat = s.Time.Truncate(e.opts.StatsEvery).Add(e.opts.StatsEvery)
			if st := in.det.AppendStats(nil); len(st) > 0 {
				e.stats = append(e.stats, StatPoint{Time: s.Time, Site: s.Site, Line: in.line, Machine: in.machine, Tag: in.tag, Detector: in.det.Name(), Stats: st})
			}
		}
	}
	return dst
}

// checkFinite raises a finding when a critical tag starts sending NaN or
// ±Inf with a good or uncertain status (every detector ignores such values,
// so without it the tag would go unwatched in silence) and clears it at the
// next finite value. Bad values leave the condition as it is.
func (e *Engine) checkFinite(s sample.Sample, key string, dst []analytics.Finding) []analytics.Finding {
	if s.Text != "" || s.Quality() == sample.Bad {
		return dst
	}
	nf := !sample.Finite(s.Value)
	if nf == e.nonFinite[key] {
		return dst
	}
	e.nonFinite[key] = nf
	f := analytics.Finding{Time: s.Time.UTC(), Site: s.Site, Line: s.Line, Machine: s.Machine, Tag: s.Tag, Batch: s.Batch,
		Detector: detect.NameNonFinite, Active: nf, Severity: analytics.Critical}
	if nf {
		f.Message = fmt.Sprintf("critical tag %s: the sensor sends non-finite values (%v); analytics ignores them, check the sensor", key, s.Value)
	} else {
		f.Message = fmt.Sprintf("critical tag %s: finite values again", key)
	}
	f.ID = analytics.MakeID(f)
	return append(dst, f)
}

// flush closes the per-batch accumulations of a machine whose batch
// changed with sample s: the findings belong to the batch that ended.
func (e *Engine) flush(ms *machineState, s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	at := s.Time // a re-read value may carry an old timestamp: the machine's clock is newer
	if ms.clock.After(at) {
		at = ms.clock
	}
	for _, in := range ms.flushers {
		end := sample.Sample{Time: at, Site: s.Site, Line: in.line, Machine: in.machine, Tag: in.tag, Batch: ms.batch}
		n := len(dst)
		dst = in.det.(flusher).Flush(end, dst)
		if in.upperOnly {
			dst = dropRule(dst, n, "lower")
		}
	}
	return dst
}

// DrainStats appends and clears the statistics emitted since the last call.
func (e *Engine) DrainStats(dst []StatPoint) []StatPoint {
	dst = append(dst, e.stats...)
	e.stats = e.stats[:0]
	return dst
}

// state is the saved form of all detectors.
type state struct {
	V         int                        `json:"v"`
	Detectors map[string]json.RawMessage `json:"detectors"`
	Yields    map[string]yieldTracker    `json:"yields,omitempty"`
	States    map[string]string          `json:"states,omitempty"`
	Machines  map[string]machineSaved    `json:"machines,omitempty"`
	Models    map[string]json.RawMessage `json:"models,omitempty"`
	// LastSeen keeps re-reads made just after a restart (same source
	// timestamp) from counting as new measurements. LastTime is its
	// earlier, larger form: read, no longer written.
	LastSeen []lastSeenGroup      `json:"last_seen,omitempty"`
	LastTime map[string]time.Time `json:"last_time,omitempty"`
}

type machineSaved struct {
	Clock time.Time `json:"clock,omitzero"`
	Batch *string   `json:"batch,omitempty"`
}

// Snapshot saves every detector's state.
func (e *Engine) Snapshot() ([]byte, error) {
	st := state{V: 1, Detectors: map[string]json.RawMessage{}, Yields: map[string]yieldTracker{}, States: e.states,
		Models: map[string]json.RawMessage{}, Machines: map[string]machineSaved{}, LastSeen: groupLastSeen(e.lastTime)}
	for _, in := range e.instances {
		b, err := in.det.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", in.id, err)
		}
		st.Detectors[in.id] = b
	}
	for _, m := range e.models {
		b, err := m.snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", m.id(), err)
		}
		st.Models[m.id()] = b
	}
	for _, m := range e.batchModels {
		b, err := m.det.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", m.id(), err)
		}
		st.Models[m.id()] = b
	}
	for k, ms := range e.machines {
		sv := machineSaved{Clock: ms.clock}
		if ms.haveBatch {
			sv.Batch = &ms.batch
		}
		st.Machines[k.String()] = sv
	}
	for k, y := range e.yields {
		saved := *y
		saved.GoodTagSaved = y.goodTag
		st.Yields[k] = saved
	}
	return json.Marshal(st)
}

// Restore loads a Snapshot. Detectors whose parameters changed since the
// snapshot start fresh (and say so); others continue where they were.
func (e *Engine) Restore(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("restore analytics state: %w", err)
	}
	for _, in := range e.instances {
		b, ok := st.Detectors[in.id]
		if !ok {
			continue
		}
		if err := in.det.Restore(b); err != nil {
			e.log.Warn("analytics: detector starts fresh", "detector", in.id, "err", err)
		}
	}
	for k, y := range st.Yields {
		if cur := e.yields[k]; cur != nil && cur.goodTag == y.GoodTagSaved {
			cur.restore(y)
		}
	}
	for k, v := range st.States {
		if e.ours(k) {
			e.states[k] = v
		}
	}
	for _, m := range e.models {
		if b, ok := st.Models[m.id()]; ok {
			if err := m.restore(b); err != nil {
				e.log.Warn("analytics: PCA model starts fresh", "model", m.id(), "err", err)
			}
		}
	}
	for _, m := range e.batchModels {
		if b, ok := st.Models[m.id()]; ok {
			if err := m.det.Restore(b); err != nil {
				e.log.Warn("analytics: batch model starts fresh", "model", m.id(), "err", err)
			}
		}
	}
	for k, t := range st.LastTime {
		if e.ours(k) {
			e.lastTime[k] = t
		}
	}
	for _, g := range st.LastSeen {
		for _, rest := range g.Keys {
			if k := g.Prefix + rest; e.ours(k) {
				e.lastTime[k] = g.Time
			}
		}
	}
	for k, sv := range st.Machines {
		line, machine, _ := strings.Cut(k, "/")
		if ms := e.machines[machineKey{line, machine}]; ms != nil {
			ms.clock = sv.Clock
			if sv.Batch != nil {
				ms.batch, ms.haveBatch = *sv.Batch, true
			}
		}
	}
	return nil
}

// ours reports whether key (line/machine/tag) is of this engine's lines:
// a whole-site checkpoint restored into the engine of one line keeps only
// that line's part.
func (e *Engine) ours(key string) bool {
	return e.opts.Line == "" || strings.HasPrefix(key, e.opts.Line+"/")
}

// dropRule removes findings of rule from dst[from:].
func dropRule(dst []analytics.Finding, from int, rule string) []analytics.Finding {
	out := dst[:from]
	for _, f := range dst[from:] {
		if f.Rule != rule {
			out = append(out, f)
		}
	}
	return out
}
