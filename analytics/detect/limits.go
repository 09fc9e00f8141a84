package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// LimitsParams configures a [Limits] detector. Names follow ISA-18.2:
// alarm limits LoLo < Lo < Hi < HiHi (any subset), on-delay (the condition
// must persist this long before the alarm starts), off-delay (the value must
// be back this long before it ends) and deadband (it must come back past the
// limit by this much).
type LimitsParams struct {
	// Detector is the name written into findings; "limits" when empty,
	// "humidity" for [HumidityParams].
	Detector string   `json:"detector,omitempty" yaml:"-"`
	Lo       *float64 `json:"lo,omitempty" yaml:"-"`
	Hi       *float64 `json:"hi,omitempty" yaml:"-"`
	LoLo     *float64 `json:"lolo,omitempty" yaml:"-"`
	HiHi     *float64 `json:"hihi,omitempty" yaml:"-"`
	// OnDelay and OffDelay default to 0 (start and end on the first sample).
	OnDelay  time.Duration `json:"on_delay,omitempty" yaml:"on_delay"`
	OffDelay time.Duration `json:"off_delay,omitempty" yaml:"off_delay"`
	// Deadband is in engineering units, default 0.
	Deadband float64 `json:"deadband,omitempty" yaml:"deadband"`
	// MaxGap caps the span one reading covers in degree-minutes (default
	// 15 min), so a data gap does not inflate an excursion.
	MaxGap time.Duration `json:"max_gap,omitempty" yaml:"-"`
	// MaxExcursions is how many closed excursions are kept (oldest dropped
	// first; default 1000).
	MaxExcursions int `json:"max_excursions,omitempty" yaml:"-"`
}

// F returns a pointer to x, for optional limits in params literals.
func F(x float64) *float64 { return &x }

// HumidityParams is the limits preset for relative humidity (%RH): detector
// name "humidity", lo/hi limits, 1 %RH deadband and a 5 minute on-delay
// against short door-opening spikes.
func HumidityParams(lo, hi float64) LimitsParams {
	return LimitsParams{Detector: NameHumidity, Lo: F(lo), Hi: F(hi), Deadband: 1, OnDelay: 5 * time.Minute}
}

func (p LimitsParams) withDefaults() LimitsParams {
	if p.Detector == "" {
		p.Detector = NameLimits
	}
	if p.MaxGap == 0 {
		p.MaxGap = 15 * time.Minute
	}
	if p.MaxExcursions == 0 {
		p.MaxExcursions = 1000
	}
	return p
}

// Validate reports every problem at once.
func (p LimitsParams) Validate() error {
	var errs []error
	if p.Lo == nil && p.Hi == nil && p.LoLo == nil && p.HiHi == nil {
		errs = append(errs, errors.New("limits: set at least one of lo, hi, lolo, hihi"))
	}
	vals := []struct {
		name string
		v    *float64
	}{{"lolo", p.LoLo}, {"lo", p.Lo}, {"hi", p.Hi}, {"hihi", p.HiHi}}
	prevName, prev := "", math.Inf(-1)
	for _, x := range vals {
		if x.v == nil {
			continue
		}
		if !finite(*x.v) {
			errs = append(errs, fmt.Errorf("limits: %s = %v is not a finite number", x.name, *x.v))
			continue
		}
		if *x.v <= prev {
			errs = append(errs, fmt.Errorf("limits: %s = %g must be above %s = %g (order is lolo < lo < hi < hihi)", x.name, *x.v, prevName, prev))
		}
		prevName, prev = x.name, *x.v
	}
	if p.Deadband < 0 || !finite(p.Deadband) {
		errs = append(errs, fmt.Errorf("limits: deadband = %g must be a finite number >= 0", p.Deadband))
	}
	if p.OnDelay < 0 || p.OffDelay < 0 || p.MaxGap < 0 {
		errs = append(errs, fmt.Errorf("limits: on_delay %v, off_delay %v and max_gap %v must not be negative", p.OnDelay, p.OffDelay, p.MaxGap))
	}
	if p.MaxExcursions < 0 {
		errs = append(errs, fmt.Errorf("limits: max_excursions = %d must not be negative", p.MaxExcursions))
	}
	return errors.Join(errs...)
}

// Excursion is one period during which the value was beyond a limit, from
// the first reading beyond it to the first reading back (End is zero while
// it is still open). DegreeMinutes integrates |value - limit| over the time
// each reading covers (zero-order hold, capped at MaxGap): the usual measure
// of thermal stress of a cold-chain excursion.
type Excursion struct {
	Rule          string        `json:"rule"` // lo, hi, lolo, hihi
	Limit         float64       `json:"limit"`
	Start         time.Time     `json:"start"`
	End           time.Time     `json:"end,omitzero"`
	Duration      time.Duration `json:"duration"`
	Peak          float64       `json:"peak"` // max above a high limit, min below a low limit
	DegreeMinutes float64       `json:"degree_minutes"`
	Batch         string        `json:"batch,omitempty"`
}

// Open reports whether the excursion has not ended yet.
func (e Excursion) Open() bool { return e.End.IsZero() }

const (
	lvLo = iota
	lvHi
	lvLoLo
	lvHiHi
	nLevels
)

var levelRule = [nLevels]string{"lo", "hi", "lolo", "hihi"}

type levelState struct {
	Pending      bool      `json:"pending,omitempty"`
	PendingSince time.Time `json:"pending_since,omitzero"`
	Active       bool      `json:"active,omitempty"`
	Clearing     bool      `json:"clearing,omitempty"`
	ClearSince   time.Time `json:"clear_since,omitzero"`
	Peak         float64   `json:"peak,omitempty"` // of the alarm period
	InExc        bool      `json:"in_exc,omitempty"`
	Exc          Excursion `json:"exc,omitzero"`
}

type limitsState struct {
	Have   bool                `json:"have,omitempty"`
	LastT  time.Time           `json:"last_t,omitzero"`
	LastV  float64             `json:"last_v,omitempty"`
	Levels [nLevels]levelState `json:"levels"`
	Done   []Excursion         `json:"done,omitempty"`
}

// Limits is the limit alarm and excursion tracker of one tag.
type Limits struct {
	core[LimitsParams, limitsState]
	limit [nLevels]float64
	set   [nLevels]bool
	// quiet range: a value in [innerLo, innerHi] with no level in any
	// state changes nothing but the last reading (the fast path).
	innerLo, innerHi float64
}

// NewLimits validates p and returns the detector.
func NewLimits(p LimitsParams) (*Limits, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &Limits{core: core[LimitsParams, limitsState]{name: p.Detector, p: p}, innerLo: math.Inf(-1), innerHi: math.Inf(1)}
	for i, v := range [nLevels]*float64{p.Lo, p.Hi, p.LoLo, p.HiHi} {
		if v != nil {
			d.limit[i], d.set[i] = *v, true
			if isHigh(i) {
				d.innerHi = math.Min(d.innerHi, *v)
			} else {
				d.innerLo = math.Max(d.innerLo, *v)
			}
		}
	}
	return d, nil
}

func isHigh(level int) bool { return level == lvHi || level == lvHiHi }

// beyond reports whether v is past the limit of level by more than margin
// towards the inside (margin 0: strictly beyond).
func (d *Limits) beyond(level int, v, margin float64) bool {
	if isHigh(level) {
		return v > d.limit[level]-margin
	}
	return v < d.limit[level]+margin
}

// Update implements [Detector].
func (d *Limits) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) || (d.st.Have && s.Time.Before(d.st.LastT)) {
		return dst
	}
	v, t := s.Value, s.Time
	if v >= d.innerLo && v <= d.innerHi && d.quiet() {
		d.st.Have, d.st.LastT, d.st.LastV = true, t, v
		return dst
	}
	var span time.Duration
	if d.st.Have {
		span = holdSpan(d.st.LastT, t, d.p.MaxGap)
	}
	for lv := range nLevels {
		if !d.set[lv] {
			continue
		}
		ls := &d.st.Levels[lv]
		d.trackExcursion(lv, ls, s, span)
		dst = d.alarm(lv, ls, s, dst)
	}
	d.st.Have, d.st.LastT, d.st.LastV = true, t, v
	return dst
}

// quiet reports whether no level is pending, active or in an excursion.
func (d *Limits) quiet() bool {
	for i := range d.st.Levels {
		if ls := &d.st.Levels[i]; ls.Pending || ls.Active || ls.InExc {
			return false
		}
	}
	return true
}

func (d *Limits) trackExcursion(lv int, ls *levelState, s sample.Sample, span time.Duration) {
	v, t := s.Value, s.Time
	if ls.InExc {
		ls.Exc.DegreeMinutes += math.Abs(d.st.LastV-d.limit[lv]) * span.Minutes()
		if d.beyond(lv, v, 0) {
			if (isHigh(lv) && v > ls.Exc.Peak) || (!isHigh(lv) && v < ls.Exc.Peak) {
				ls.Exc.Peak = v
			}
			ls.Exc.Duration = t.Sub(ls.Exc.Start)
			return
		}
		ls.Exc.End = t.UTC()
		ls.Exc.Duration = t.Sub(ls.Exc.Start)
		if len(d.st.Done) >= d.p.MaxExcursions && len(d.st.Done) > 0 {
			copy(d.st.Done, d.st.Done[1:])
			d.st.Done = d.st.Done[:len(d.st.Done)-1]
		}
		d.st.Done = append(d.st.Done, ls.Exc)
		ls.InExc, ls.Exc = false, Excursion{}
		return
	}
	if d.beyond(lv, v, 0) {
		ls.InExc = true
		ls.Exc = Excursion{Rule: levelRule[lv], Limit: d.limit[lv], Start: t.UTC(), Peak: v, Batch: s.Batch}
	}
}

func (d *Limits) alarm(lv int, ls *levelState, s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	v, t := s.Value, s.Time
	if !ls.Active {
		if !d.beyond(lv, v, 0) {
			ls.Pending = false
			return dst
		}
		if !ls.Pending {
			ls.Pending, ls.PendingSince, ls.Peak = true, t.UTC(), v
		}
		if (isHigh(lv) && v > ls.Peak) || (!isHigh(lv) && v < ls.Peak) {
			ls.Peak = v
		}
		if t.Sub(ls.PendingSince) < d.p.OnDelay {
			return dst
		}
		ls.Active, ls.Pending, ls.Clearing = true, false, false
		return append(dst, d.limitFinding(lv, ls, s, true))
	}
	if (isHigh(lv) && v > ls.Peak) || (!isHigh(lv) && v < ls.Peak) {
		ls.Peak = v
	}
	// The alarm ends once the value is back inside by the deadband.
	if d.beyond(lv, v, d.p.Deadband) {
		ls.Clearing = false
		return dst
	}
	if !ls.Clearing {
		ls.Clearing, ls.ClearSince = true, t.UTC()
	}
	if t.Sub(ls.ClearSince) < d.p.OffDelay {
		return dst
	}
	ls.Active, ls.Clearing = false, false
	return append(dst, d.limitFinding(lv, ls, s, false))
}

func (d *Limits) limitFinding(lv int, ls *levelState, s sample.Sample, active bool) analytics.Finding {
	rule, lim := levelRule[lv], d.limit[lv]
	sev := analytics.Warning
	if lv == lvLoLo || lv == lvHiHi {
		sev = analytics.Critical
	}
	side := "below"
	if isHigh(lv) {
		side = "above"
	}
	var msg string
	var ev map[string]float64
	v, at := d.fm.v, d.fm.t
	if active {
		msg = fmt.Sprintf("%s %s alarm started: %s, %s the limit (limit %s) since %s",
			s.Tag, rule, v(s.Value), side, v(lim), at(ls.PendingSince))
		ev = map[string]float64{"since_s": float64(ls.PendingSince.Unix())}
	} else {
		msg = fmt.Sprintf("%s %s alarm ended: %s, back within the limit (limit %s, deadband %s); peak %s",
			s.Tag, rule, v(s.Value), v(lim), v(d.p.Deadband), v(ls.Peak))
		ev = map[string]float64{"peak": ls.Peak}
	}
	return finding(s, d.p.Detector, rule, active, s.Value, lim, sev, msg, ev)
}

// Excursions returns the closed excursions (at most MaxExcursions, oldest
// first) followed by the open ones.
func (d *Limits) Excursions() []Excursion {
	out := make([]Excursion, 0, len(d.st.Done)+nLevels)
	out = append(out, d.st.Done...)
	for lv := range nLevels {
		if d.st.Levels[lv].InExc {
			out = append(out, d.st.Levels[lv].Exc)
		}
	}
	return out
}

// AppendStats implements [Detector]: the configured limits, as lo, hi,
// lolo, hihi.
func (d *Limits) AppendStats(dst []Stat) []Stat {
	for lv := range nLevels {
		if d.set[lv] {
			dst = append(dst, Stat{levelRule[lv], d.limit[lv]})
		}
	}
	return dst
}

// ExcursionsOf runs a limits detector over samples (in time order) and
// returns its excursions, for batch reports.
func ExcursionsOf(samples []sample.Sample, p LimitsParams) ([]Excursion, error) {
	d, err := NewLimits(p)
	if err != nil {
		return nil, err
	}
	var buf []analytics.Finding
	for _, s := range samples {
		buf = d.Update(s, buf[:0])
	}
	return d.Excursions(), nil
}

// SetDefaults implements [Spec]: none.
func (p *LimitsParams) SetDefaults() {}

// Check implements [Spec].
func (p *LimitsParams) Check() []Problem {
	if p.Deadband < 0 {
		return []Problem{bad("deadband", p.Deadband, "must be ≥ 0")}
	}
	return nil
}

// CheckTarget implements [TargetChecker]: the tag has limits.
func (p *LimitsParams) CheckTarget(t Target) []Problem {
	if t.Lo == nil && t.Hi == nil && t.LoLo == nil && t.HiHi == nil {
		return []Problem{{Allowed: fmt.Sprintf("tag %s has no limits (set lolo/lo/hi/hihi on the tag)", t.Tag)}}
	}
	return nil
}

// Build implements [Builder]: the tag's limits; on a humidity tag the
// findings are named humidity.
func (p *LimitsParams) Build(t Target) (Detector, error) {
	q := *p
	q.Lo, q.Hi, q.LoLo, q.HiHi = t.Lo, t.Hi, t.LoLo, t.HiHi
	if t.Role == "humidity" {
		q.Detector = NameHumidity
	}
	d, err := NewLimits(q)
	return formatted(d, err, t)
}
