package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// DefaultActivation is ΔH/R in kelvin used by USP <1079> for mean kinetic
// temperature: ΔH = 83.144 kJ/mol, R = 8.3144 J/(mol·K).
const DefaultActivation = 10000.0

const kelvin = 273.15

// mktRef keeps exp() near 1: weights are exp(Ea·(1/Tref − 1/T)) instead of
// exp(−Ea/T) (≈1e-16 at 5 °C). It cancels out of the result.
const mktRef = 298.15

func mktWeight(activation, celsius float64) float64 {
	return math.Exp(activation * (1/mktRef - 1/(celsius+kelvin)))
}

// mktFromMean turns a (weighted) mean of mktWeight values into °C.
func mktFromMean(activation, meanWeight float64) float64 {
	return activation/(activation/mktRef-math.Log(meanWeight)) - kelvin
}

// MKTOf is the mean kinetic temperature (°C) of equally weighted
// temperatures (°C), the formula of USP <1079> (Haynes):
//
//	Tk = (ΔH/R) / −ln( (e^(−ΔH/RT1) + … + e^(−ΔH/RTn)) / n )
//
// activation is ΔH/R in kelvin (0: DefaultActivation). NaN if empty.
func MKTOf(celsius []float64, activation float64) float64 {
	if activation == 0 {
		activation = DefaultActivation
	}
	if len(celsius) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, c := range celsius {
		sum += mktWeight(activation, c)
	}
	return mktFromMean(activation, sum/float64(len(celsius)))
}

// MKT is the mean kinetic temperature (°C) of temperature samples (°C, in
// time order), each good reading weighted by the span it covers until the
// next reading (zero-order hold, a span capped at 15 minutes so a data gap
// does not count a stale value for hours), with ΔH/R = 10 000 K. If no
// reading covers any time (one sample), the readings are weighted equally.
// NaN when there is no good sample.
func MKT(samples []sample.Sample) float64 {
	return MKTWith(samples, DefaultActivation, 15*time.Minute)
}

// MKTWith is [MKT] with a chosen ΔH/R (kelvin) and gap cap (<= 0: none).
func MKTWith(samples []sample.Sample, activation float64, maxGap time.Duration) float64 {
	var sumW, sumD, sumEq float64
	var n int
	var prev sample.Sample
	have := false
	for _, s := range samples {
		if !usable(s) || s.Value <= -kelvin || (have && s.Time.Before(prev.Time)) {
			continue
		}
		if have {
			dt := holdSpan(prev.Time, s.Time, maxGap).Seconds()
			sumW += mktWeight(activation, prev.Value) * dt
			sumD += dt
		}
		sumEq += mktWeight(activation, s.Value)
		n++
		prev, have = s, true
	}
	switch {
	case n == 0:
		return math.NaN()
	case sumD == 0:
		return mktFromMean(activation, sumEq/float64(n))
	default:
		return mktFromMean(activation, sumW/sumD)
	}
}

// MKTParams configures a [RollingMKT].
type MKTParams struct {
	// Window of the rolling MKT: 24 h for 2–8 °C storage, 30 days for
	// controlled room temperature (see MKTColdChain, MKTRoomTemperature).
	Window time.Duration `json:"window" yaml:"window"`
	// Limit is the label storage limit in the tag's unit (°C, °F or K, see
	// Scale): MKT above it alarms.
	Limit float64 `json:"limit" yaml:"limit"`
	// Scale is the temperature scale of the readings and of Limit
	// (ScaleCelsius, ScaleFahrenheit, ScaleKelvin); Build sets it from the
	// tag's unit. The formula works in kelvin; MKT is reported in Scale.
	Scale string `json:"scale,omitempty" yaml:"-"`
	// Activation is ΔH/R in kelvin (default 10 000 K, USP <1079>).
	Activation float64 `json:"activation,omitempty" yaml:"delta_h_over_r"`
	// Buckets is the time resolution of the window (default 1440: one
	// minute buckets for 24 h); memory and restore size are O(Buckets).
	Buckets int `json:"buckets,omitempty" yaml:"-"`
	// MaxGap caps the span one reading covers (default 15 min).
	MaxGap time.Duration `json:"max_gap,omitempty" yaml:"-"`
	// MinCoverage: no alarm before readings cover this much of the window
	// (default 0).
	MinCoverage time.Duration `json:"min_coverage,omitempty" yaml:"-"`
}

// MKTColdChain is the preset for 2–8 °C storage: 24 h window, limit 8 °C.
func MKTColdChain() MKTParams { return MKTParams{Window: 24 * time.Hour, Limit: 8} }

// MKTRoomTemperature is the preset for controlled room temperature: 30 day
// window, limit 25 °C.
func MKTRoomTemperature() MKTParams { return MKTParams{Window: 30 * 24 * time.Hour, Limit: 25} }

func (p MKTParams) withDefaults() MKTParams {
	if p.Activation == 0 {
		p.Activation = DefaultActivation
	}
	if p.Buckets == 0 {
		p.Buckets = 1440
	}
	if p.MaxGap == 0 {
		p.MaxGap = 15 * time.Minute
	}
	return p
}

// Validate reports every problem at once.
func (p MKTParams) Validate() error {
	var errs []error
	if p.Window <= 0 {
		errs = append(errs, fmt.Errorf("mkt: window = %v must be > 0 (24h for 2-8 °C, 720h for room temperature)", p.Window))
	}
	if err := checkScale(p.Scale); err != nil {
		errs = append(errs, fmt.Errorf("mkt: %w", err))
	} else if !finite(p.Limit) || toCelsius(p.Scale, p.Limit) <= -kelvin {
		errs = append(errs, fmt.Errorf("mkt: limit = %g is not a temperature (below absolute zero)", p.Limit))
	}
	if p.Activation < 0 || !finite(p.Activation) {
		errs = append(errs, fmt.Errorf("mkt: activation (ΔH/R) = %g K must be > 0", p.Activation))
	}
	if p.Buckets < 0 || p.Buckets > 100000 {
		errs = append(errs, fmt.Errorf("mkt: buckets = %d must be between 1 and 100000", p.Buckets))
	}
	if p.Window > 0 && p.Buckets > 0 && p.Window/time.Duration(p.Buckets) <= 0 {
		errs = append(errs, fmt.Errorf("mkt: window %v is too short for %d buckets", p.Window, p.Buckets))
	}
	if p.MaxGap < 0 || p.MinCoverage < 0 || p.MinCoverage > p.Window {
		errs = append(errs, fmt.Errorf("mkt: max_gap = %v must be >= 0 and min_coverage = %v between 0 and the window", p.MaxGap, p.MinCoverage))
	}
	return errors.Join(errs...)
}

type mktState struct {
	Have     bool      `json:"have,omitempty"`
	LastT    time.Time `json:"last_t,omitzero"`
	LastV    float64   `json:"last_v"`
	LastNs   int64     `json:"last_ns"`
	LastAbs  int64     `json:"last_abs"`  // bucket of the last reading
	LastSlot int       `json:"last_slot"` // and its ring slot
	Head     int64     `json:"head"`      // absolute index of the newest bucket
	Slot     []int64   `json:"slot"`      // absolute index held by each ring slot
	W        []float64 `json:"w"`         // Σ weight·seconds per bucket
	D        []float64 `json:"d"`         // Σ seconds per bucket
	SumW     float64   `json:"sum_w"`
	SumD     float64   `json:"sum_d"`
	Moves    int       `json:"moves"` // slot advances since the last exact resum
	MKT      float64   `json:"mkt"`
	Active   bool      `json:"active,omitempty"`
}

// RollingMKT is the mean kinetic temperature over a rolling window, O(1)
// amortised per sample: the window is a ring of time buckets holding
// Σ exp(−ΔH/RT)·dt and Σ dt, with running totals that are re-summed exactly
// once per ring turn to stop rounding drift.
type RollingMKT struct {
	core[MKTParams, mktState]
	width  int64   // bucket width, ns
	limitW float64 // weight of the limit temperature
	zero   float64 // absolute zero in the tag's scale: readings at or below it are not temperatures
	wcache [256]weightEntry
	// cached bucket of the newest reading (not state: derived)
	curAbs, curStart int64
	curSlot          int
	curOK            bool
}

// NewRollingMKT validates p and returns the detector.
func NewRollingMKT(p MKTParams) (*RollingMKT, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &RollingMKT{core: core[MKTParams, mktState]{name: NameMKT, p: p}, width: int64(p.Window) / int64(p.Buckets), limitW: mktWeight(p.Activation, toCelsius(p.Scale, p.Limit)),
		zero: fromCelsius(p.Scale, -kelvin)}
	d.st.Slot = make([]int64, p.Buckets)
	d.st.W = make([]float64, p.Buckets)
	d.st.D = make([]float64, p.Buckets)
	for i := range d.st.Slot {
		d.st.Slot[i] = math.MinInt64
	}
	return d, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

// advance moves the newest bucket to head, clearing buckets that leave the
// window.
func (d *RollingMKT) advance(head int64) {
	st := &d.st
	n := int64(len(st.Slot))
	if st.Have && head <= st.Head {
		return
	}
	from := st.Head + 1
	if !st.Have || head-st.Head >= n {
		from = head - n + 1
	}
	for abs := from; abs <= head; abs++ {
		i := int(((abs % n) + n) % n)
		st.SumW -= st.W[i]
		st.SumD -= st.D[i]
		st.Slot[i], st.W[i], st.D[i] = abs, 0, 0
		st.Moves++
	}
	st.Head = head
	if st.Moves >= len(st.Slot) {
		st.Moves, st.SumW, st.SumD = 0, 0, 0
		for i := range st.W {
			st.SumW += st.W[i]
			st.SumD += st.D[i]
		}
	}
}

// weight returns mktWeight for a temperature through a small direct-mapped
// cache: PLC values are quantised (0.1 °C, float32) and a cold room visits
// few distinct values, while exp() is most of the cost of an update.
func (d *RollingMKT) weight(c float64) float64 {
	k := math.Float64bits(c)
	e := &d.wcache[(k*0x9E3779B97F4A7C15)>>56]
	if !e.ok || e.k != k {
		e.k, e.w, e.ok = k, mktWeight(d.p.Activation, toCelsius(d.p.Scale, c)), true
	}
	return e.w
}

type weightEntry struct {
	k  uint64
	w  float64
	ok bool
}

// bucketOf returns the absolute bucket of a time (ns) and its ring slot,
// dividing only when the time leaves the cached bucket.
func (d *RollingMKT) bucketOf(ns int64) (int64, int) {
	if !d.curOK || ns < d.curStart || ns-d.curStart >= d.width {
		abs := floorDiv(ns, d.width)
		n := int64(len(d.st.Slot))
		d.curAbs, d.curStart, d.curSlot, d.curOK = abs, abs*d.width, int(((abs%n)+n)%n), true
	}
	return d.curAbs, d.curSlot
}

// Update implements [Detector].
func (d *RollingMKT) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	now := s.Time.UnixNano()
	if !usable(s) || s.Value <= d.zero || (st.Have && now < st.LastNs) {
		return dst
	}
	head, slot := d.bucketOf(now)
	d.advance(head)
	if st.Have {
		dt := now - st.LastNs
		if gap := int64(d.p.MaxGap); gap > 0 && dt > gap {
			dt = gap
		}
		// The previous reading's span goes into its own bucket, if that
		// is still inside the window.
		if dt > 0 && st.LastAbs > st.Head-int64(len(st.Slot)) {
			sec := float64(dt) / 1e9
			w := d.weight(st.LastV) * sec
			st.W[st.LastSlot] += w
			st.D[st.LastSlot] += sec
			st.SumW += w
			st.SumD += sec
		}
	}
	st.LastNs, st.LastAbs, st.LastSlot = now, head, slot
	st.Have, st.LastT, st.LastV = true, s.Time, s.Value
	if st.SumD <= 0 {
		return dst
	}
	// MKT is monotone in the mean weight: compare weights and take the
	// logarithm only when a finding or a statistic needs the temperature.
	covered := time.Duration(st.SumD * float64(time.Second))
	over := st.SumW > d.limitW*st.SumD && covered >= d.p.MinCoverage
	if over == st.Active {
		return dst
	}
	st.Active = over
	st.MKT = d.Value()
	msg := fmt.Sprintf("%s mean kinetic temperature over %v %s: %s vs label limit %s (%.1f h of readings, ΔH/R %g K)",
		s.Tag, d.p.Window, map[bool]string{true: "above limit", false: "back within limit"}[over], d.fm.v(st.MKT), d.fm.v(d.p.Limit), covered.Hours(), d.p.Activation)
	ev := map[string]float64{"window_h": d.p.Window.Hours(), "covered_h": covered.Hours()}
	return append(dst, finding(s, NameMKT, "limit", over, st.MKT, d.p.Limit, analytics.Critical, msg, ev))
}

// Value is the current rolling MKT in the tag's scale (NaN before any
// reading covers time).
func (d *RollingMKT) Value() float64 {
	if d.st.SumD <= 0 {
		return math.NaN()
	}
	return fromCelsius(d.p.Scale, mktFromMean(d.p.Activation, d.st.SumW/d.st.SumD))
}

// AppendStats implements [Detector]: mkt, mkt_limit, mkt_covered_h.
func (d *RollingMKT) AppendStats(dst []Stat) []Stat {
	if d.st.SumD <= 0 {
		return dst
	}
	return append(dst, Stat{"mkt", d.Value()}, Stat{"mkt_limit", d.p.Limit},
		Stat{"mkt_covered_h", d.st.SumD / 3600})
}

// Restore implements [Detector].
func (d *RollingMKT) Restore(data []byte) error {
	st, err := d.load(data)
	if err != nil {
		return err
	}
	if len(st.Slot) != d.p.Buckets || len(st.W) != d.p.Buckets || len(st.D) != d.p.Buckets {
		return fmt.Errorf("restore mkt state: %d buckets saved, %d configured", len(st.Slot), d.p.Buckets)
	}
	if st.LastSlot < 0 || st.LastSlot >= d.p.Buckets || st.Moves < 0 {
		return fmt.Errorf("restore mkt state: corrupt (slot %d of %d); discard the saved state", st.LastSlot, d.p.Buckets)
	}
	d.st, d.curOK = st, false
	return nil
}

// DefaultMKTWindow is the window of a configured MKT that gives none.
const DefaultMKTWindow = 24 * time.Hour

// SetDefaults implements [Spec].
func (p *MKTParams) SetDefaults() {
	if p.Window == 0 {
		p.Window = DefaultMKTWindow
	}
	p.Activation = or(p.Activation, 10000)
}

// Check implements [Spec].
func (p *MKTParams) Check() []Problem {
	out := atLeast("window", p.Window, time.Hour)
	if p.Activation <= 0 {
		out = append(out, bad("delta_h_over_r", p.Activation, "must be > 0 (USP <1079>: 10000 K)"))
	}
	if p.Limit == 0 {
		out = append(out, Problem{Field: "limit", Allowed: "required: the label storage limit in the tag's unit, e.g. 8 for 2–8 °C product, 25 for CRT"})
	}
	return out
}

// CheckTarget implements [TargetChecker]: the tag is a temperature.
func (p *MKTParams) CheckTarget(t Target) []Problem { return temperatureTarget(t) }

// Build implements [Builder]: the limit and readings in the tag's unit.
func (p *MKTParams) Build(t Target) (Detector, error) {
	scale, err := TemperatureScale(t.Unit)
	if err != nil {
		return nil, err
	}
	d, err := NewRollingMKT(MKTParams{Window: p.Window, Limit: p.Limit, Activation: p.Activation, Scale: scale})
	return formatted(d, err, t)
}
