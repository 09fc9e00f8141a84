package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/internal/display/text"
	"github.com/linewatch/linewatch/sample"
)

// TORParams configures the time-out-of-refrigeration budget of a product
// (per batch): time above High or below Low is counted against Budget, with
// warnings at the Warn fractions and an alarm ("budget") at 100 %.
type TORParams struct {
	High   float64       `json:"high" yaml:"high"`     // tag's unit, default 8 (°C)
	Low    float64       `json:"low" yaml:"low"`       // tag's unit, default 2 (°C)
	Budget time.Duration `json:"budget" yaml:"budget"` // allowed time out of 2–8 °C per batch, required
	// Warn fractions of the budget (default 0.5 and 0.8 → rules warn50, warn80).
	Warn []float64 `json:"warn,omitempty" yaml:"-"`
	// FreezeSensitive products also count time at or below FreezeLimit
	// (default 0 °C in Scale); when it exceeds FreezeBudget (default 0: the first
	// reading at or below the limit) the "freeze" alarm starts.
	FreezeSensitive bool          `json:"freeze_sensitive,omitempty" yaml:"freeze_sensitive"`
	FreezeLimit     *float64      `json:"freeze_limit,omitempty" yaml:"-"`
	FreezeBudget    time.Duration `json:"freeze_budget,omitempty" yaml:"-"`
	// KeepAcrossBatches keeps the used budget when the batch id changes
	// (default: a new batch starts with the full budget).
	KeepAcrossBatches bool `json:"keep_across_batches,omitempty" yaml:"-"`
	// MaxGap caps the span one reading covers (default 15 min).
	MaxGap time.Duration `json:"max_gap,omitempty" yaml:"-"`
	// Scale is the temperature scale of the readings (see MKTParams.Scale):
	// it places the default freeze limit; Build sets it from the tag's unit.
	Scale string `json:"scale,omitempty" yaml:"-"`
}

// TORColdChain is the 2–8 °C preset with the given budget.
func TORColdChain(budget time.Duration) TORParams {
	return TORParams{High: 8, Low: 2, Budget: budget}
}

func (p TORParams) withDefaults() TORParams {
	if p.High == 0 && p.Low == 0 {
		p.High, p.Low = 8, 2
	}
	if p.Warn == nil {
		p.Warn = []float64{0.5, 0.8}
	}
	if p.FreezeLimit == nil {
		p.FreezeLimit = F(fromCelsius(p.Scale, 0))
	}
	if p.MaxGap == 0 {
		p.MaxGap = 15 * time.Minute
	}
	return p
}

// Validate reports every problem at once.
func (p TORParams) Validate() error {
	p = p.withDefaults()
	var errs []error
	if !finite(p.High) || !finite(p.Low) || p.Low >= p.High {
		errs = append(errs, fmt.Errorf("tor: low = %g must be below high = %g", p.Low, p.High))
	}
	if err := checkScale(p.Scale); err != nil {
		errs = append(errs, fmt.Errorf("tor: %w", err))
	}
	if p.Budget <= 0 {
		errs = append(errs, fmt.Errorf("tor: budget = %v must be > 0 (the allowed time out of refrigeration, e.g. 72h)", p.Budget))
	}
	prev := 0.0
	for _, w := range p.Warn {
		if !(w > prev && w < 1) {
			errs = append(errs, fmt.Errorf("tor: warn fraction %g must be increasing and between 0 and 1 (e.g. 0.5, 0.8)", w))
		}
		prev = w
	}
	if !finite(*p.FreezeLimit) || p.FreezeBudget < 0 || p.MaxGap < 0 {
		errs = append(errs, fmt.Errorf("tor: freeze_limit = %g must be finite, freeze_budget = %v and max_gap = %v not negative", *p.FreezeLimit, p.FreezeBudget, p.MaxGap))
	}
	return errors.Join(errs...)
}

type torState struct {
	Have   bool          `json:"have,omitempty"`
	LastT  time.Time     `json:"last_t,omitzero"`
	LastV  float64       `json:"last_v"`
	Batch  string        `json:"batch,omitempty"`
	Used   time.Duration `json:"used"`
	Frozen time.Duration `json:"frozen"`
	Fired  []bool        `json:"fired"` // per warn level, then budget, then freeze
}

// TOR tracks the time-out-of-refrigeration budget. A reading counts for
// the span until the next reading (zero-order hold), so a warning is raised
// on the sample at which the used time reaches the threshold.
type TOR struct {
	core[TORParams, torState]
	rules []string // warnNN…, budget, freeze
}

// NewTOR validates p and returns the detector.
func NewTOR(p TORParams) (*TOR, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &TOR{core: core[TORParams, torState]{name: NameTOR, p: p}}
	for _, w := range p.Warn {
		d.rules = append(d.rules, fmt.Sprintf("warn%d", int(math.Round(w*100))))
	}
	d.rules = append(d.rules, "budget", "freeze")
	d.st.Fired = make([]bool, len(d.rules))
	return d, nil
}

func (d *TOR) out(v float64) bool { return v > d.p.High || v < d.p.Low }

// Update implements [Detector].
func (d *TOR) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	if !usable(s) || (st.Have && s.Time.Before(st.LastT)) {
		return dst
	}
	newBatch := st.Have && s.Batch != st.Batch && !d.p.KeepAcrossBatches
	if st.Have {
		span := holdSpan(st.LastT, s.Time, d.p.MaxGap)
		if d.out(st.LastV) {
			st.Used += span
		}
		if d.p.FreezeSensitive && st.LastV <= *d.p.FreezeLimit {
			st.Frozen += span
		}
	}
	if newBatch {
		// The span of the last reading belongs to the old batch: judge it,
		// then give the new batch the full budget.
		old := s
		old.Batch, old.Value = st.Batch, st.LastV
		dst = d.check(old, false, dst)
		dst = d.resetBatch(s, dst)
	}
	st.Have, st.LastT, st.LastV, st.Batch = true, s.Time, s.Value, s.Batch
	return d.check(s, true, dst)
}

// check raises the thresholds reached; current says whether s is a new
// reading (the freeze alarm looks at the reading itself).
func (d *TOR) check(s sample.Sample, current bool, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	nw := len(d.p.Warn)
	for i, w := range d.p.Warn {
		if !st.Fired[i] && float64(st.Used) >= w*float64(d.p.Budget) {
			st.Fired[i] = true
			dst = append(dst, d.torFinding(s, i, true, analytics.Warning))
		}
	}
	if !st.Fired[nw] && st.Used >= d.p.Budget {
		st.Fired[nw] = true
		dst = append(dst, d.torFinding(s, nw, true, analytics.Critical))
	}
	frozenNow := current && s.Value <= *d.p.FreezeLimit
	if d.p.FreezeSensitive && !st.Fired[nw+1] && (frozenNow || st.Frozen > 0) && st.Frozen >= d.p.FreezeBudget {
		st.Fired[nw+1] = true
		dst = append(dst, d.torFinding(s, nw+1, true, analytics.Critical))
	}
	return dst
}

// resetBatch ends the conditions of the previous batch and restores the
// full budget.
func (d *TOR) resetBatch(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	prev := s
	prev.Batch = d.st.Batch
	for i, fired := range d.st.Fired {
		if fired {
			sev := analytics.Warning
			if i >= len(d.p.Warn) {
				sev = analytics.Critical
			}
			dst = append(dst, d.torFinding(prev, i, false, sev))
			d.st.Fired[i] = false
		}
	}
	d.st.Used, d.st.Frozen = 0, 0
	return dst
}

func (d *TOR) torFinding(s sample.Sample, i int, active bool, sev analytics.Severity) analytics.Finding {
	st := &d.st
	rule := d.rules[i]
	used := 100 * float64(st.Used) / float64(d.p.Budget)
	ev := map[string]float64{"used_s": st.Used.Seconds(), "budget_s": d.p.Budget.Seconds(), "frozen_s": st.Frozen.Seconds()}
	var msg string
	switch {
	case !active:
		msg = fmt.Sprintf("%s time-out-of-refrigeration %s cleared: batch %s ended with %v of %v used (%s)",
			s.Tag, rule, s.Batch, st.Used.Round(time.Second), d.p.Budget, usedPct(used))
	case rule == "freeze":
		msg = fmt.Sprintf("%s freeze-sensitive product at or below %s: %s, %v frozen (allowed %v)",
			s.Tag, d.fm.v(*d.p.FreezeLimit), d.fm.v(s.Value), st.Frozen.Round(time.Second), d.p.FreezeBudget)
		return finding(s, NameTOR, rule, active, st.Frozen.Seconds(), d.p.FreezeBudget.Seconds(), sev, msg, ev)
	case rule == "budget":
		msg = fmt.Sprintf("%s time-out-of-refrigeration budget used up: %v outside %s – %s of %v allowed (%s)",
			s.Tag, st.Used.Round(time.Second), d.fm.v(d.p.Low), d.fm.v(d.p.High), d.p.Budget, usedPct(used))
	default:
		msg = fmt.Sprintf("%s time-out-of-refrigeration at %s of budget: %v outside %s – %s of %v allowed",
			s.Tag, usedPct(used), st.Used.Round(time.Second), d.fm.v(d.p.Low), d.fm.v(d.p.High), d.p.Budget)
	}
	limit := 100.0
	if i < len(d.p.Warn) {
		limit = 100 * d.p.Warn[i]
	}
	return finding(s, NameTOR, rule, active, used, limit, sev, msg, ev)
}

// Used is the time out of refrigeration counted for the current batch.
func (d *TOR) Used() time.Duration { return d.st.Used }

// AppendStats implements [Detector]: tor_used_s, tor_used_pct, tor_budget_s
// and, for freeze-sensitive product, tor_frozen_s.
func (d *TOR) AppendStats(dst []Stat) []Stat {
	dst = append(dst, Stat{"tor_used_s", d.st.Used.Seconds()},
		Stat{"tor_used_pct", 100 * float64(d.st.Used) / float64(d.p.Budget)},
		Stat{"tor_budget_s", d.p.Budget.Seconds()})
	if d.p.FreezeSensitive {
		dst = append(dst, Stat{"tor_frozen_s", d.st.Frozen.Seconds()})
	}
	return dst
}

// Restore implements [Detector].
func (d *TOR) Restore(data []byte) error {
	st, err := d.load(data)
	if err != nil {
		return err
	}
	if len(st.Fired) != len(d.rules) {
		return fmt.Errorf("restore tor state: %d rules saved, %d configured", len(st.Fired), len(d.rules))
	}
	d.st = st
	return nil
}

// SetDefaults implements [Spec]: none (low, high and budget are required).
func (p *TORParams) SetDefaults() {}

// Check implements [Spec].
func (p *TORParams) Check() []Problem {
	var out []Problem
	if p.High <= p.Low {
		out = append(out, bad("high", p.High, "must be greater than low (%g), e.g. low 2, high 8", p.Low))
	}
	return append(out, atLeast("budget", p.Budget, time.Minute)...)
}

// CheckTarget implements [TargetChecker]: the tag is a temperature.
func (p *TORParams) CheckTarget(t Target) []Problem { return temperatureTarget(t) }

// Build implements [Builder]: the range in the tag's unit.
func (p *TORParams) Build(t Target) (Detector, error) {
	scale, err := TemperatureScale(t.Unit)
	if err != nil {
		return nil, err
	}
	d, err := NewTOR(TORParams{Low: p.Low, High: p.High, Budget: p.Budget, FreezeSensitive: p.FreezeSensitive, Scale: scale})
	return formatted(d, err, t)
}

// usedPct writes the used share of a budget: "62.5 %".
func usedPct(x float64) string { return text.Number(x, 1, "%") }
