package detect

import (
	"errors"
	"fmt"
	"math"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// PageHinkleyParams configures the Page–Hinkley test for a change of the
// mean (Page 1954; Hinkley 1971; as in Gama et al. 2013 and scikit-multiflow
// / river):
//
//	x̄ₜ = mean of x₁…xₜ
//	mₜ = α·mₜ₋₁ + (xₜ − x̄ₜ − δ),  Mₜ = min mₜ,  PHₜ = mₜ − Mₜ > λ  → drift up
//
// and the mirror test for a drift down. After a drift the test restarts
// (learning the new level); the finding ends once MinInstances readings have
// been seen after the restart without a new drift.
type PageHinkleyParams struct {
	Delta        float64 `json:"delta,omitempty" yaml:"delta"`     // δ, tolerated change, default 0.005
	Lambda       float64 `json:"lambda,omitempty" yaml:"lambda"`   // λ, detection threshold, default 50
	Alpha        float64 `json:"alpha,omitempty" yaml:"alpha"`     // α, fading factor, default 0.9999
	MinInstances int     `json:"min_instances,omitempty" yaml:"-"` // readings before testing, default 30
}

func (p PageHinkleyParams) withDefaults() PageHinkleyParams {
	if p.Delta == 0 {
		p.Delta = 0.005
	}
	if p.Lambda == 0 {
		p.Lambda = 50
	}
	if p.Alpha == 0 {
		p.Alpha = 0.9999
	}
	if p.MinInstances == 0 {
		p.MinInstances = 30
	}
	return p
}

// Validate reports every problem at once.
func (p PageHinkleyParams) Validate() error {
	var errs []error
	if p.Delta < 0 || p.Lambda < 0 || !finite(p.Delta) || !finite(p.Lambda) {
		errs = append(errs, fmt.Errorf("page_hinkley: delta = %g and lambda = %g must be finite and >= 0", p.Delta, p.Lambda))
	}
	if p.Alpha < 0 || p.Alpha > 1 || math.IsNaN(p.Alpha) {
		errs = append(errs, fmt.Errorf("page_hinkley: alpha = %g must be in (0, 1] (1 = no forgetting)", p.Alpha))
	}
	if p.MinInstances < 0 {
		errs = append(errs, fmt.Errorf("page_hinkley: min_instances = %d must not be negative", p.MinInstances))
	}
	return errors.Join(errs...)
}

type phState struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	MUp    float64 `json:"m_up"`
	MinUp  float64 `json:"min_up"`
	MDown  float64 `json:"m_down"`
	MinDn  float64 `json:"min_down"`
	Up     bool    `json:"up,omitempty"`
	Down   bool    `json:"down,omitempty"`
	PHUp   float64 `json:"ph_up"`
	PHDown float64 `json:"ph_down"`
}

// PageHinkley is the Page–Hinkley drift test of one tag.
type PageHinkley struct {
	core[PageHinkleyParams, phState]
}

// NewPageHinkley validates p and returns the detector.
func NewPageHinkley(p PageHinkleyParams) (*PageHinkley, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &PageHinkley{core: core[PageHinkleyParams, phState]{name: NamePageHinkley, p: p.withDefaults()}}, nil
}

// Update implements [Detector].
func (d *PageHinkley) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) {
		return dst
	}
	st := &d.st
	x := s.Value
	st.N++
	st.Mean += (x - st.Mean) / float64(st.N)
	st.MUp = d.p.Alpha*st.MUp + (x - st.Mean - d.p.Delta)
	st.MDown = d.p.Alpha*st.MDown + (st.Mean - x - d.p.Delta)
	st.MinUp = min(st.MinUp, st.MUp)
	st.MinDn = min(st.MinDn, st.MDown)
	st.PHUp, st.PHDown = st.MUp-st.MinUp, st.MDown-st.MinDn
	if st.N < d.p.MinInstances {
		return dst
	}
	// A drift whose restart has re-learned the level ends.
	if st.Up {
		st.Up = false
		dst = append(dst, d.phFinding(s, "up", false, st.PHUp))
	}
	if st.Down {
		st.Down = false
		dst = append(dst, d.phFinding(s, "down", false, st.PHDown))
	}
	up, down := st.PHUp > d.p.Lambda, st.PHDown > d.p.Lambda
	if !up && !down {
		return dst
	}
	if up {
		dst = append(dst, d.phFinding(s, "up", true, st.PHUp))
	}
	if down {
		dst = append(dst, d.phFinding(s, "down", true, st.PHDown))
	}
	d.st = phState{Up: up, Down: down}
	return dst
}

func (d *PageHinkley) phFinding(s sample.Sample, rule string, active bool, ph float64) analytics.Finding {
	var msg string
	var ev map[string]float64
	if active {
		msg = fmt.Sprintf("%s drift %s detected (Page-Hinkley): PH = %s > lambda %s after %d readings with mean %s (delta %s, alpha %g)",
			s.Tag, rule, d.fm.v(ph), d.fm.v(d.p.Lambda), d.st.N, d.fm.v(d.st.Mean), d.fm.v(d.p.Delta), d.p.Alpha)
		ev = map[string]float64{"mean_before": d.st.Mean, "readings": float64(d.st.N)}
	} else {
		msg = fmt.Sprintf("%s drift %s: new level learned, mean %s over %d readings", s.Tag, rule, d.fm.v(d.st.Mean), d.st.N)
	}
	return finding(s, NamePageHinkley, rule, active, ph, d.p.Lambda, analytics.Warning, msg, ev)
}

// AppendStats implements [Detector]: ph_up, ph_down, ph_mean.
func (d *PageHinkley) AppendStats(dst []Stat) []Stat {
	return append(dst, Stat{"ph_up", d.st.PHUp}, Stat{"ph_down", d.st.PHDown}, Stat{"ph_mean", d.st.Mean})
}

// SetDefaults implements [Spec]: none (lambda is required).
func (p *PageHinkleyParams) SetDefaults() {}

// Check implements [Spec].
func (p *PageHinkleyParams) Check() []Problem {
	var out []Problem
	if p.Lambda <= 0 {
		out = append(out, bad("lambda", p.Lambda, "must be > 0 (detection threshold)"))
	}
	if p.Delta < 0 {
		out = append(out, bad("delta", p.Delta, "must be ≥ 0 (tolerated change)"))
	}
	if p.Alpha < 0 || p.Alpha > 1 {
		out = append(out, bad("alpha", p.Alpha, "must be in [0, 1] (forgetting factor; 0 = none)"))
	}
	return out
}

// Build implements [Builder].
func (p *PageHinkleyParams) Build(t Target) (Detector, error) {
	d, err := NewPageHinkley(*p)
	return formatted(d, err, t)
}
