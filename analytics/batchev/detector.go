package batchev

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/display/text"
)

// DetectorName is the Detector of every finding of this package.
const DetectorName = "batch_evolution"

// Rules of the findings (Finding.Rule).
const (
	RuleEnvelope = "envelope" // one variable outside mean ± Sigma·σ (tag: the variable)
	RuleT2       = "t2"       // Hotelling T² over its limit (tag: the model name)
	RuleSPE      = "spe"      // SPE (Q) over its limit (tag: the model name)
	RulePhase    = "phase"    // phase too short, too long or unknown (tag: the phase tag)
)

// DetectorConfig places a detector's findings.
type DetectorConfig struct {
	Site     string
	Severity analytics.Severity
	// Value writes a value of a model variable ("machine/tag") in its
	// tag's unit and decimals for finding messages; nil: DefaultDecimals,
	// no unit.
	Value func(variable string, v float64) string
}

// Detector watches a running batch against a Model. It is not safe for
// concurrent use.
type Detector struct {
	m     *Model
	cfg   DetectorConfig
	al    *Aligner
	st    detState
	evs   []Event
	stats []SliceStat
}

// SliceStat is the running batch at one maturity slice against the model:
// what dashboards draw over the golden envelope.
type SliceStat struct {
	Time                       time.Time
	Batch                      string
	Phase                      string
	Maturity                   time.Duration
	Values                     []float64 // per variable: the slice mean (NaN: no value)
	Mean                       []float64 // the good batches' mean
	Lower                      []float64 // the envelope
	Upper                      []float64
	T2, T2Limit, SPE, SPELimit float64 // zero without a PCA
}

// DrainStats appends and clears the slice statistics since the last call.
func (d *Detector) DrainStats(dst []SliceStat) []SliceStat {
	dst = append(dst, d.stats...)
	d.stats = d.stats[:0]
	return dst
}

type cond struct {
	Run    int  `json:"run"`  // slices in a row over the limit
	Back   int  `json:"back"` // slices in a row back within it, while active
	Active bool `json:"active"`
}

type detState struct {
	Env   []cond `json:"env"`
	T2    cond   `json:"t2"`
	SPE   cond   `json:"spe"`
	Phase cond   `json:"phase"`
	Batch string `json:"batch"`
}

// NewDetector returns a detector for m.
func NewDetector(m *Model, cfg DetectorConfig) (*Detector, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	names := make([]string, len(m.Phases))
	for i, p := range m.Phases {
		names[i] = p.Name
	}
	return &Detector{m: m, cfg: cfg, al: NewAligner(len(m.Variables), m.Step, names),
		st: detState{Env: make([]cond, len(m.Variables))}}, nil
}

// FromBatchStart tells the detector that its samples begin at a batch
// start (a report reads exactly one batch): the first phase value starts
// its phase, so the first phase is judged too.
func (d *Detector) FromBatchStart() { d.al.s.AssumeStart = true }

// Model returns the detector's model.
func (d *Detector) Model() *Model { return d.m }

// Phase takes a value of the phase tag.
func (d *Detector) Phase(batch string, t time.Time, phase string, dst []analytics.Finding) []analytics.Finding {
	d.evs = d.al.PhaseValue(batch, t, phase, d.evs[:0])
	return d.handle(dst)
}

// Value takes a value of variable i.
func (d *Detector) Value(batch string, t time.Time, i int, v float64, dst []analytics.Finding) []analytics.Finding {
	d.evs = d.al.Value(batch, t, i, v, d.evs[:0])
	return d.handle(dst)
}

func (d *Detector) handle(dst []analytics.Finding) []analytics.Finding {
	for _, ev := range d.evs {
		switch ev.Kind {
		case EvCycleStart:
			dst = d.clear(ev, dst)
		case EvPhaseEnd:
			dst = d.phaseEnd(ev, dst)
		case EvSlice:
			dst = d.slice(ev, dst)
		}
	}
	return dst
}

// clear ends every active condition at the start of a new cycle: each
// batch is judged on its own.
func (d *Detector) clear(ev Event, dst []analytics.Finding) []analytics.Finding {
	msg := fmt.Sprintf("new batch %s: the batch evolution conditions of the previous batch end", strconv.Quote(ev.Batch))
	for j := range d.st.Env {
		if d.st.Env[j].Active {
			machine, tag := d.variable(j)
			dst = append(dst, d.finding(ev.Time, machine, tag, RuleEnvelope, false, 0, 0, 0, msg, nil))
		}
		d.st.Env[j] = cond{}
	}
	if d.st.T2.Active {
		dst = append(dst, d.finding(ev.Time, "", d.m.Name, RuleT2, false, 0, 0, 0, msg, nil))
	}
	if d.st.SPE.Active {
		dst = append(dst, d.finding(ev.Time, "", d.m.Name, RuleSPE, false, 0, 0, 0, msg, nil))
	}
	if d.st.Phase.Active {
		machine, tag, _ := strings.Cut(d.m.PhaseTag, "/")
		dst = append(dst, d.finding(ev.Time, machine, tag, RulePhase, false, 0, 0, 0, msg, nil))
	}
	d.st.T2, d.st.SPE, d.st.Phase = cond{}, cond{}, cond{}
	d.st.Batch = ev.Batch
	return dst
}

func (d *Detector) raisePhase(ev Event, value, limit float64, msg string, dst []analytics.Finding) []analytics.Finding {
	if d.st.Phase.Active {
		return dst
	}
	d.st.Phase.Active = true
	machine, tag, _ := strings.Cut(d.m.PhaseTag, "/")
	return append(dst, d.finding(ev.Time, machine, tag, RulePhase, true, value, value, limit, msg,
		map[string]float64{"maturity_h": value / 3600}))
}

// tolerance is how far outside the good batches' phase durations a phase
// may end: 3 σ of their durations, at least two slices.
func (d *Detector) tolerance(ds DurationStats) float64 {
	return max(3*ds.SD, 2*d.m.Step.Seconds())
}

func (d *Detector) phaseEnd(ev Event, dst []analytics.Finding) []analytics.Finding {
	d.st.Batch = ev.Batch
	pi := d.m.PhaseIndex(ev.Phase)
	if pi < 0 {
		return dst
	}
	ds := d.m.Phases[pi].Durations
	if ds.N < 2 {
		return dst
	}
	lower := ds.Min - d.tolerance(ds)
	if got := ev.Duration.Seconds(); got < lower {
		msg := fmt.Sprintf("phase %s ended after %s; the good batches ran it %s – %s (model %s)", ev.Phase,
			hm(got), hm(ds.Min), hm(ds.Max), d.m.Name)
		dst = d.raisePhase(ev, got, lower, msg, dst)
	}
	return dst
}

func (d *Detector) slice(ev Event, dst []analytics.Finding) []analytics.Finding {
	d.st.Batch = ev.Batch
	if ev.Index < 0 || len(ev.Values) != len(d.m.Variables) {
		return dst // cannot happen from the aligner; a guard for restored state
	}
	pi := d.m.PhaseIndex(ev.Phase)
	maturity := float64(ev.Index) * d.m.Step.Seconds()
	if pi < 0 {
		return d.raisePhase(ev, maturity, 0, fmt.Sprintf("phase %s is not a phase of the good batches (model %s)", strconv.Quote(ev.Phase), d.m.Name), dst)
	}
	ph := &d.m.Phases[pi]
	if ev.Index >= len(ph.Points) {
		longest := float64(len(ph.Points)) * d.m.Step.Seconds()
		if ph.Durations.N > 0 {
			longest = max(longest, ph.Durations.Max)
		}
		if limit := longest + d.tolerance(ph.Durations); maturity >= limit {
			msg := fmt.Sprintf("phase %s has run %s, longer than any good batch (%s; model %s)", ev.Phase, hm(maturity), hm(longest), d.m.Name)
			dst = d.raisePhase(ev, maturity, limit, msg, dst)
		}
		return dst
	}
	p := &ph.Points[ev.Index]
	at := fmt.Sprintf("%s maturity %s", ev.Phase, hm(maturity))
	n := d.m.Consecutive
	z := make([]float64, len(ev.Values))
	complete := true
	for j, x := range ev.Values {
		if !finite(x) {
			complete = false
			continue
		}
		z[j] = (x - p.Mean[j]) / p.SD[j]
		c := &d.st.Env[j]
		out := math.Abs(z[j]) > d.m.Sigma
		machine, tag := d.variable(j)
		lo, hi := d.m.Envelope(p, j)
		limit, side := hi, "above"
		if z[j] < 0 {
			limit, side = lo, "below"
		}
		ev2 := map[string]float64{"maturity_h": maturity / 3600, "mean": p.Mean[j], "sd": p.SD[j], "z": z[j]}
		switch {
		case out && !c.Active:
			if c.Run++; c.Run >= n {
				c.Active, c.Back = true, 0
				v := d.value(j)
				msg := fmt.Sprintf("%s %s %s the golden-batch envelope %s (mean %s ± %g σ) for %d slices at %s (model %s)",
					d.m.Variables[j], v(x), side, v(limit), v(p.Mean[j]), d.m.Sigma, c.Run, at, d.m.Name)
				dst = append(dst, d.finding(ev.Time, machine, tag, RuleEnvelope, true, x, z[j], limit, msg, ev2))
			}
		case !out && c.Active:
			if c.Back++; c.Back >= n {
				c.Active, c.Run = false, 0
				v := d.value(j)
				msg := fmt.Sprintf("%s %s back inside the golden-batch envelope [%s, %s] for %d slices at %s (model %s)",
					d.m.Variables[j], v(x), v(lo), v(hi), c.Back, at, d.m.Name)
				dst = append(dst, d.finding(ev.Time, machine, tag, RuleEnvelope, false, x, z[j], limit, msg, ev2))
			}
		case out:
			c.Back = 0
		default:
			c.Run = 0
		}
	}
	st := SliceStat{Time: ev.Time, Batch: ev.Batch, Phase: ev.Phase, Maturity: time.Duration(ev.Index) * d.m.Step,
		Values: ev.Values, Mean: p.Mean, Lower: make([]float64, len(p.Mean)), Upper: make([]float64, len(p.Mean))}
	for j := range p.Mean {
		st.Lower[j], st.Upper[j] = d.m.Envelope(p, j)
	}
	if !complete || p.Components == 0 {
		d.stats = append(d.stats, st)
		return dst
	}
	t2, spe, ct2, cspe := p.Score(z)
	st.T2, st.T2Limit, st.SPE, st.SPELimit = t2, p.T2Limit, spe, p.SPELimit
	d.stats = append(d.stats, st)
	dst = d.stat(&d.st.T2, RuleT2, "T²", t2, p.T2Limit, ct2, ev, maturity, at, dst)
	dst = d.stat(&d.st.SPE, RuleSPE, "SPE", spe, p.SPELimit, cspe, ev, maturity, at, dst)
	return dst
}

func (d *Detector) stat(c *cond, rule, name string, v, limit float64, contrib []float64, ev Event, maturity float64, at string, dst []analytics.Finding) []analytics.Finding {
	out := v > limit
	n := d.m.Consecutive
	switch {
	case out && !c.Active:
		if c.Run++; c.Run >= n {
			c.Active, c.Back = true, 0
			evd := top(d.m.Variables, contrib, 3)
			msg := fmt.Sprintf("%s %s above its limit %s for %d slices at %s (model %s); largest contributions: %s",
				name, ratio(v), ratio(limit), c.Run, at, d.m.Name, describe(evd))
			evd["maturity_h"] = maturity / 3600
			dst = append(dst, d.finding(ev.Time, "", d.m.Name, rule, true, v, v, limit, msg, evd))
		}
	case !out && c.Active:
		if c.Back++; c.Back >= n {
			c.Active, c.Run = false, 0
			msg := fmt.Sprintf("%s %s back below its limit %s at %s (model %s)", name, ratio(v), ratio(limit), at, d.m.Name)
			dst = append(dst, d.finding(ev.Time, "", d.m.Name, rule, false, v, v, limit, msg, nil))
		}
	case out:
		c.Back = 0
	default:
		c.Run = 0
	}
	return dst
}

// value writes a value of variable j for messages (DetectorConfig.Value).
func (d *Detector) value(j int) func(float64) string {
	name := d.m.Variables[j]
	return func(x float64) string {
		if d.cfg.Value == nil {
			return text.Number(x, text.DefaultDecimals, "")
		}
		return d.cfg.Value(name, x)
	}
}

// ratio writes T², SPE and their limits (no unit) for messages.
func ratio(x float64) string { return text.Number(x, 2, "") }

func (d *Detector) variable(j int) (machine, tag string) {
	machine, tag, _ = strings.Cut(d.m.Variables[j], "/")
	return machine, tag
}

func (d *Detector) finding(t time.Time, machine, tag, rule string, active bool, value, stat, limit float64, msg string, ev map[string]float64) analytics.Finding {
	f := analytics.Finding{Time: t.UTC(), Site: d.cfg.Site, Line: d.m.Line, Machine: machine, Tag: tag, Detector: DetectorName,
		Rule: rule, Active: active, Value: value, Statistic: stat, Limit: limit, Severity: d.cfg.Severity, Message: msg,
		Batch: d.st.Batch, Evidence: ev}
	f.ID = analytics.MakeID(f)
	return f
}

// top keeps the n variables with the largest contributions.
func top(names []string, c []float64, n int) map[string]float64 {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] > c[idx[b]] })
	out := make(map[string]float64, n)
	for _, i := range idx[:min(n, len(idx))] {
		out[names[i]] = c[i]
	}
	return out
}

func describe(ev map[string]float64) string {
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return ev[keys[a]] > ev[keys[b]] })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.FormatFloat(ev[k], 'g', 3, 64)
	}
	return strings.Join(parts, ", ")
}

// hm formats seconds as 12h05m.
func hm(s float64) string {
	d := time.Duration(s) * time.Second
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// saved is the checkpoint form of a Detector.
type saved struct {
	V        int        `json:"v"`
	Model    string     `json:"model"`
	Vars     []string   `json:"variables"`
	Aligner  alignState `json:"aligner"`
	Detector detState   `json:"detector"`
}

// Snapshot saves the detector's state.
func (d *Detector) Snapshot() ([]byte, error) {
	return json.Marshal(saved{V: 1, Model: d.m.Name, Vars: d.m.Variables, Aligner: d.al.s, Detector: d.st})
}

// Restore loads a Snapshot of a detector of the same model and variables;
// on error the detector is unchanged.
func (d *Detector) Restore(b []byte) error {
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("batchev: restore %s: %w", d.m.Name, err)
	}
	switch {
	case s.V != 1:
		return fmt.Errorf("batchev: restore %s: checkpoint version %d, this build reads 1", d.m.Name, s.V)
	case s.Model != d.m.Name || strings.Join(s.Vars, "\x00") != strings.Join(d.m.Variables, "\x00"):
		return fmt.Errorf("batchev: restore %s: checkpoint is for model %s variables %q", d.m.Name, s.Model, s.Vars)
	case len(s.Detector.Env) != len(d.m.Variables):
		return fmt.Errorf("batchev: restore %s: %d envelope states for %d variables", d.m.Name, len(s.Detector.Env), len(d.m.Variables))
	}
	if s.Aligner.Index < 0 {
		return fmt.Errorf("batchev: restore %s: slice index %d", d.m.Name, s.Aligner.Index)
	}
	for _, p := range s.Aligner.Points {
		if p.I < 0 || p.I >= len(d.m.Variables) {
			return fmt.Errorf("batchev: restore %s: point of variable %d", d.m.Name, p.I)
		}
	}
	d.al.s, d.st = s.Aligner, s.Detector
	return nil
}
