package detect

import (
	"errors"
	"fmt"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// CUSUMParams configures a tabular CUSUM (Page 1954; Montgomery,
// Introduction to Statistical Quality Control, 9.1):
//
//	C⁺ᵢ = max(0, xᵢ − (μ₀ + K) + C⁺ᵢ₋₁)
//	C⁻ᵢ = max(0, (μ₀ − K) − xᵢ + C⁻ᵢ₋₁)
//
// with reference value K = k·σ and decision interval H = h·σ. When it
// signals, the new process mean is estimated as μ₀ + K + C⁺/N⁺ (or
// μ₀ − K − C⁻/N⁻), N being the number of periods the sum has been non-zero.
type CUSUMParams struct {
	SPCParams `yaml:",inline"`
	K         float64 `json:"k,omitempty" yaml:"k"` // in sigma, default 0.5
	H         float64 `json:"h,omitempty" yaml:"h"` // in sigma, default 5
	// ResetOnSignal restarts both sums at zero after a signal (the usual
	// practice once the cause is acted on); default: the condition lasts
	// while the sum stays above H.
	ResetOnSignal bool `json:"reset_on_signal,omitempty" yaml:"-"`
}

func (p CUSUMParams) withDefaults() CUSUMParams {
	p.SPCParams = p.SPCParams.withDefaults()
	if p.K == 0 {
		p.K = 0.5
	}
	if p.H == 0 {
		p.H = 5
	}
	return p
}

// Validate reports every problem at once.
func (p CUSUMParams) Validate() error {
	errs := []error{p.SPCParams.validate(NameCUSUM)}
	if p.K < 0 || p.H < 0 || !finite(p.K) || !finite(p.H) {
		errs = append(errs, fmt.Errorf("cusum: k = %g and h = %g must be > 0 (usually k 0.5, h 4 or 5)", p.K, p.H))
	}
	return errors.Join(errs...)
}

type cusumState struct {
	B    baseline `json:"baseline"`
	Hi   float64  `json:"c_hi"`
	Lo   float64  `json:"c_lo"`
	NHi  int      `json:"n_hi"`
	NLo  int      `json:"n_lo"`
	Up   bool     `json:"up,omitempty"`
	Down bool     `json:"down,omitempty"`
}

// CUSUM is the tabular CUSUM of one tag.
type CUSUM struct {
	core[CUSUMParams, cusumState]
}

// NewCUSUM validates p and returns the detector.
func NewCUSUM(p CUSUMParams) (*CUSUM, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	return &CUSUM{core: core[CUSUMParams, cusumState]{name: NameCUSUM, p: p, st: cusumState{B: newBaseline(p.SPCParams)}}}, nil
}

// Update implements [Detector].
func (d *CUSUM) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) {
		return dst
	}
	st := &d.st
	if !st.B.Ready {
		st.B.add(s.Value, d.p.Baseline)
		return dst
	}
	mu, k, h := st.B.Mean, d.p.K*st.B.Sigma, d.p.H*st.B.Sigma
	st.Hi = max(0, s.Value-(mu+k)+st.Hi)
	st.Lo = max(0, (mu-k)-s.Value+st.Lo)
	if st.Hi > 0 {
		st.NHi++
	} else {
		st.NHi = 0
	}
	if st.Lo > 0 {
		st.NLo++
	} else {
		st.NLo = 0
	}
	up, down := st.Hi > h, st.Lo > h
	if up != st.Up {
		st.Up = up
		dst = append(dst, d.cusumFinding(s, "upper", up, st.Hi, h, mu+k+st.Hi/float64(max(st.NHi, 1)), st.NHi))
	}
	if down != st.Down {
		st.Down = down
		dst = append(dst, d.cusumFinding(s, "lower", down, st.Lo, h, mu-k-st.Lo/float64(max(st.NLo, 1)), st.NLo))
	}
	if d.p.ResetOnSignal && (up || down) {
		st.Hi, st.Lo, st.NHi, st.NLo = 0, 0, 0, 0
		// The sums restart; the conditions end on the next point unless
		// the shift persists long enough to signal again.
	}
	return dst
}

func (d *CUSUM) cusumFinding(s sample.Sample, rule string, active bool, c, h, newMean float64, n int) analytics.Finding {
	b := d.st.B
	var msg string
	var ev map[string]float64
	if active {
		msg = fmt.Sprintf("%s CUSUM %s signal: C = %s > H = %s (target %s, sigma %s, k %g, h %g); estimated new mean %s, shift began about %d points ago",
			s.Tag, rule, d.fm.v(c), d.fm.v(h), d.fm.v(b.Mean), d.fm.v(b.Sigma), d.p.K, d.p.H, d.fm.v(newMean), n)
		ev = map[string]float64{"new_mean": newMean, "periods": float64(n), "cl": b.Mean, "sigma": b.Sigma}
	} else {
		msg = fmt.Sprintf("%s CUSUM %s signal ended: C = %s <= H = %s", s.Tag, rule, d.fm.v(c), d.fm.v(h))
	}
	return finding(s, NameCUSUM, rule, active, c, h, analytics.Warning, msg, ev)
}

// Sums returns C⁺ and C⁻ (in engineering units).
func (d *CUSUM) Sums() (hi, lo float64) { return d.st.Hi, d.st.Lo }

// AppendStats implements [Detector]: cusum_hi, cusum_lo, cusum_h, cl, sigma.
func (d *CUSUM) AppendStats(dst []Stat) []Stat {
	b := d.st.B
	if !b.Ready {
		return dst
	}
	return append(dst, Stat{"cusum_hi", d.st.Hi}, Stat{"cusum_lo", d.st.Lo},
		Stat{"cusum_h", d.p.H * b.Sigma}, Stat{"cl", b.Mean}, Stat{"sigma", b.Sigma})
}

// SetDefaults implements [Spec].
func (p *CUSUMParams) SetDefaults() {
	p.SPCParams.setDefaults()
	p.K, p.H = or(p.K, 0.5), or(p.H, 5)
}

// Check implements [Spec].
func (p *CUSUMParams) Check() []Problem {
	out := p.SPCParams.check()
	if p.K < 0 {
		out = append(out, bad("k", p.K, "must be ≥ 0 (sigma units; 0.5 detects a 1-sigma shift)"))
	}
	if p.H <= 0 {
		out = append(out, bad("h", p.H, "must be > 0 (sigma units; 4–5 is usual)"))
	}
	return out
}

// Build implements [Builder].
func (p *CUSUMParams) Build(t Target) (Detector, error) {
	q := *p
	q.SPCParams = p.resolved()
	d, err := NewCUSUM(q)
	return formatted(d, err, t)
}
