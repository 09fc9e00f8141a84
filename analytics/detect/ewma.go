package detect

import (
	"errors"
	"fmt"
	"math"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/collector/sample"
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
type EWMAParams struct {
	SPCParams
	Lambda     float64 `json:"lambda,omitempty"` // λ in (0, 1], default 0.2
	L          float64 `json:"L,omitempty"`      // width in sigma, default 3
	Asymptotic bool    `json:"asymptotic,omitempty"`
	Hysteresis float64 `json:"hysteresis,omitempty"` // in [0, 1); 0 = none (configurations default to 0.2)
}

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
	return errors.Join(errs...)
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
	p         EWMAParams
	asymW     float64 // asymptotic half-width for asymSigma
	asymSigma float64
	st        ewmaState
}

// NewEWMA validates p and returns the detector.
func NewEWMA(p EWMAParams) (*EWMA, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	p = p.withDefaults()
	d := &EWMA{p: p, st: ewmaState{B: newBaseline(p.SPCParams)}}
	d.st.Z, d.st.Decay = d.st.B.Mean, 1
	return d, nil
}

// Name implements [Detector].
func (d *EWMA) Name() string { return NameEWMA }

// Width is the half-width of the control limits after i charted points.
func (d *EWMA) Width(i int) float64 {
	lam := d.p.Lambda
	f := lam / (2 - lam)
	if !d.p.Asymptotic {
		f *= 1 - math.Pow(1-lam, 2*float64(i))
	}
	return d.p.L * d.st.B.Sigma * math.Sqrt(f)
}

func (d *EWMA) width() float64 {
	// Once (1−λ)^(2i) is below float64 resolution the exact limits equal
	// the asymptotic ones: skip the square root.
	if d.p.Asymptotic || d.st.Decay == 0 {
		if d.asymSigma != d.st.B.Sigma {
			d.asymSigma = d.st.B.Sigma
			d.asymW = d.p.L * d.st.B.Sigma * math.Sqrt(d.p.Lambda/(2-d.p.Lambda))
		}
		return d.asymW
	}
	lam := d.p.Lambda
	return d.p.L * d.st.B.Sigma * math.Sqrt(lam/(2-lam)*(1-d.st.Decay))
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
		back = fmt.Sprintf(", back past %.4g", clear)
	}
	msg := fmt.Sprintf("%s EWMA shift %s (%s limit): EWMA %.4g vs limit %.4g%s (target %g, sigma %g, lambda %g, L %g, point %d)",
		s.Tag, verb(active), rule, st.Z, limit, back, st.B.Mean, st.B.Sigma, d.p.Lambda, d.p.L, st.N)
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

// Snapshot implements [Detector].
func (d *EWMA) Snapshot() ([]byte, error) { return snapshot(NameEWMA, d.p, &d.st) }

// Restore implements [Detector].
func (d *EWMA) Restore(data []byte) error {
	var st ewmaState
	if err := restore(data, NameEWMA, d.p, &st); err != nil {
		return err
	}
	d.st = st
	return nil
}
