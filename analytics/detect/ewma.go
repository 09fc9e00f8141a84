package detect

import (
	"errors"
	"fmt"
	"math"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// EWMAParams configures an exponentially weighted moving average chart
// (Roberts 1959; Lucas & Saccucci 1990):
//
//	zᵢ = λ·xᵢ + (1−λ)·zᵢ₋₁,  z₀ = μ₀
//	limits μ₀ ± L·σ·√(λ/(2−λ)·(1−(1−λ)^(2i)))
//
// The exact limits start narrow and widen towards the asymptotic ones
// μ₀ ± L·σ·√(λ/(2−λ)); Asymptotic uses the latter from the first point.
//
// Hysteresis is a deadband on the end of a signal, as a fraction of the
// limits' half-width: a shift that started ends only once the EWMA is back
// inside the limit by that much. A slow drift carries the smooth EWMA
// across the limit a little at a time, and without a deadband its
// reading-to-reading wobble at the limit starts and ends the signal over
// and over (an alarm chattering for minutes). It does not change when a
// shift is signalled, so the in-control run length is that of the chart.
//
// Autocorrelation, when given, is ρ(1), ρ(2), … of the in-control readings
// (lags in readings, as charted), and Sigma their standard deviation. The
// limits then use the EWMA's variance for a stationary process (Zhang
// 1998, the EWMAST chart): with readings that are even slightly positively
// correlated, such as a tablet weight that carries a slowly wandering die
// fill, the iid formula above understates the EWMA's spread and the chart
// raises false alarms far more often than its design says.
type EWMAParams struct {
	SPCParams       `yaml:",inline"`
	Lambda          float64   `json:"lambda,omitempty" yaml:"lambda"` // λ in (0, 1], default 0.2
	L               float64   `json:"L,omitempty" yaml:"l"`           // width in sigma, default 3
	Asymptotic      bool      `json:"asymptotic,omitempty" yaml:"asymptotic"`
	Hysteresis      float64   `json:"hysteresis,omitempty" yaml:"hysteresis"`           // in [0, 1); 0 = none (configurations default to DefaultEWMAHysteresis)
	Autocorrelation []float64 `json:"autocorrelation,omitempty" yaml:"autocorrelation"` // ρ(1)…ρ(M); none = independent readings
}

// MaxAutocorrelationLags bounds EWMAParams.Autocorrelation.
const MaxAutocorrelationLags = 500

func (p EWMAParams) withDefaults() EWMAParams {
	p.SPCParams = p.SPCParams.withDefaults()
	if p.Lambda == 0 {
		p.Lambda = 0.2
	}
	if p.L == 0 {
		p.L = 3
	}
	return p
}

// Validate reports every problem at once.
func (p EWMAParams) Validate() error {
	errs := []error{p.SPCParams.validate(NameEWMA)}
	if p.Lambda < 0 || p.Lambda > 1 || !finite(p.Lambda) {
		errs = append(errs, fmt.Errorf("ewma: lambda = %g must be in (0, 1] (0.05–0.3 is usual)", p.Lambda))
	}
	if p.L < 0 || !finite(p.L) {
		errs = append(errs, fmt.Errorf("ewma: L = %g must be > 0 (usually 2.7–3)", p.L))
	}
	if p.Hysteresis < 0 || p.Hysteresis >= 1 || !finite(p.Hysteresis) {
		errs = append(errs, fmt.Errorf("ewma: hysteresis = %g must be in [0, 1), a fraction of the limits' half-width", p.Hysteresis))
	}
	errs = append(errs, validateAutocorrelation(p.Autocorrelation, p.Lambda))
	return errors.Join(errs...)
}

// validateAutocorrelation checks ρ(1)…ρ(M) and that they give the EWMA a
// positive variance (a sequence that does not is no autocorrelation
// function; for lambda the default is assumed when it is 0).
func validateAutocorrelation(rho []float64, lambda float64) error {
	if ps := autocorrelationProblems(rho); len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = fmt.Errorf("ewma: %s = %s %s", p.Field, p.Value, p.Allowed)
		}
		return errors.Join(errs...)
	}
	if len(rho) == 0 {
		return nil
	}
	if lambda == 0 {
		lambda = 0.2
	}
	if lambda > 0 && lambda <= 1 {
		if f := newEWMAVariance(lambda, rho).inf; !(f > 0) {
			return fmt.Errorf("ewma: autocorrelation %v gives the EWMA a variance factor %g ≤ 0 at lambda %g: not the autocorrelation of a stationary process (estimate it with linewatch analytics autocorrelation)", rho, f, lambda)
		}
	}
	return nil
}

// autocorrelationProblems checks ρ(1)…ρ(M) one by one: each in [-1, 1],
// at most MaxAutocorrelationLags of them.
func autocorrelationProblems(rho []float64) []Problem {
	if len(rho) > MaxAutocorrelationLags {
		return []Problem{{Field: "autocorrelation", Value: fmt.Sprintf("%d lags", len(rho)),
			Allowed: fmt.Sprintf("at most %d lags (ρ beyond a few times the EWMA's memory 1/lambda changes nothing)", MaxAutocorrelationLags)}}
	}
	var out []Problem
	for i, r := range rho {
		if !finite(r) || r < -1 || r > 1 {
			out = append(out, bad(fmt.Sprintf("autocorrelation[%d]", i), r,
				"must be in [-1, 1] (the autocorrelation at lag %d readings; estimate it with linewatch analytics autocorrelation)", i+1))
		}
	}
	return out
}

type ewmaState struct {
	B     baseline `json:"baseline"`
	Z     float64  `json:"z"`
	Decay float64  `json:"decay"` // (1−λ)^(2i)
	N     int      `json:"n"`
	Up    bool     `json:"up,omitempty"`
	Down  bool     `json:"down,omitempty"`
}

// EWMA is the EWMA chart of one tag.
type EWMA struct {
	core[EWMAParams, ewmaState]
	v         ewmaVariance
	asymW     float64 // asymptotic half-width for asymSigma
	asymSigma float64
}

// NewEWMA validates p and returns the detector.
func NewEWMA(p EWMAParams) (*EWMA, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &EWMA{core: core[EWMAParams, ewmaState]{name: NameEWMA, p: p, st: ewmaState{B: newBaseline(p.SPCParams)}}, v: newEWMAVariance(p.Lambda, p.Autocorrelation)}
	d.st.Z, d.st.Decay = d.st.B.Mean, 1
	return d, nil
}

// Width is the half-width of the control limits after i charted points.
func (d *EWMA) Width(i int) float64 {
	if d.p.Asymptotic {
		return d.p.L * d.st.B.Sigma * math.Sqrt(d.v.inf)
	}
	return d.p.L * d.st.B.Sigma * math.Sqrt(d.v.factor(i, math.Pow(1-d.p.Lambda, 2*float64(i))))
}

func (d *EWMA) width() float64 {
	// Once (1−λ)^(2i) is below float64 resolution the exact limits equal
	// the asymptotic ones: skip the square root.
	if d.p.Asymptotic || d.st.Decay == 0 {
		if d.asymSigma != d.st.B.Sigma {
			d.asymSigma = d.st.B.Sigma
			d.asymW = d.p.L * d.st.B.Sigma * math.Sqrt(d.v.inf)
		}
		return d.asymW
	}
	return d.p.L * d.st.B.Sigma * math.Sqrt(d.v.factor(d.st.N, d.st.Decay))
}

// Update implements [Detector].
func (d *EWMA) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) {
		return dst
	}
	st := &d.st
	if !st.B.Ready {
		if st.B.add(s.Value, d.p.Baseline) {
			st.Z, st.Decay, st.N = st.B.Mean, 1, 0
		}
		return dst
	}
	lam := d.p.Lambda
	st.Z = lam*s.Value + (1-lam)*st.Z
	if st.Decay != 0 {
		st.Decay *= (1 - lam) * (1 - lam)
		if st.Decay < 1e-17 {
			st.Decay = 0 // below resolution; also keeps out of slow subnormals
		}
	}
	st.N++
	w := d.width()
	ucl, lcl := st.B.Mean+w, st.B.Mean-w
	band := d.p.Hysteresis * w
	if up := st.Z > ucl || st.Up && st.Z > ucl-band; up != st.Up {
		st.Up = up
		dst = append(dst, d.ewmaFinding(s, "upper", up, ucl, ucl-band))
	}
	if down := st.Z < lcl || st.Down && st.Z < lcl+band; down != st.Down {
		st.Down = down
		dst = append(dst, d.ewmaFinding(s, "lower", down, lcl, lcl+band))
	}
	return dst
}

// ewmaFinding reports limit as the finding's limit; an ended shift also
// names clear, the limit less the deadband, which the EWMA came back past.
func (d *EWMA) ewmaFinding(s sample.Sample, rule string, active bool, limit, clear float64) analytics.Finding {
	st := d.st
	back := ""
	if !active && clear != limit {
		back = ", back past " + d.fm.v(clear)
	}
	msg := fmt.Sprintf("%s EWMA shift %s (%s limit): EWMA %s vs limit %s%s (target %s, sigma %s, lambda %g, L %g, point %d)",
		s.Tag, verb(active), rule, d.fm.v(st.Z), d.fm.v(limit), back, d.fm.v(st.B.Mean), d.fm.v(st.B.Sigma), d.p.Lambda, d.p.L, st.N)
	ev := map[string]float64{"cl": st.B.Mean, "sigma": st.B.Sigma, "point": float64(st.N)}
	return finding(s, NameEWMA, rule, active, st.Z, limit, analytics.Warning, msg, ev)
}

// Value is the current EWMA statistic.
func (d *EWMA) Value() float64 { return d.st.Z }

// Limits returns the current lower and upper control limits.
func (d *EWMA) Limits() (lcl, ucl float64) {
	w := d.width()
	return d.st.B.Mean - w, d.st.B.Mean + w
}

// AppendStats implements [Detector]: ewma, cl, sigma, ucl, lcl.
func (d *EWMA) AppendStats(dst []Stat) []Stat {
	if !d.st.B.Ready {
		return dst
	}
	lcl, ucl := d.Limits()
	return append(dst, Stat{"ewma", d.st.Z}, Stat{"cl", d.st.B.Mean}, Stat{"sigma", d.st.B.Sigma},
		Stat{"ucl", ucl}, Stat{"lcl", lcl})
}

// DefaultEWMAHysteresis is the hysteresis of a configured EWMA chart that
// does not give one (written 0, it is none).
const DefaultEWMAHysteresis = 0.2

// Prefill implements [Prefiller]: only an absent hysteresis takes the
// default.
func (p *EWMAParams) Prefill() { p.Hysteresis = DefaultEWMAHysteresis }

// SetDefaults implements [Spec].
func (p *EWMAParams) SetDefaults() {
	p.SPCParams.setDefaults()
	p.Lambda, p.L = or(p.Lambda, 0.2), or(p.L, 3)
}

// Check implements [Spec]. Whether the autocorrelation gives a positive
// EWMA variance is checked when the detector is built.
func (p *EWMAParams) Check() []Problem {
	out := p.SPCParams.check()
	if p.Lambda <= 0 || p.Lambda > 1 {
		out = append(out, bad("lambda", p.Lambda, "must be in (0, 1]; 0.05–0.3 is usual"))
	}
	if p.L <= 0 {
		out = append(out, bad("l", p.L, "must be > 0; 2.7–3 is usual"))
	}
	if h := p.Hysteresis; h < 0 || h >= 1 {
		out = append(out, bad("hysteresis", h, "must be in [0, 1): a fraction of the limits' half-width (0 = none)"))
	}
	return append(out, autocorrelationProblems(p.Autocorrelation)...)
}

// Build implements [Builder].
func (p *EWMAParams) Build(t Target) (Detector, error) {
	q := *p
	q.SPCParams = p.resolved()
	d, err := NewEWMA(q)
	return formatted(d, err, t)
}
