package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// FlatlineParams configures the stuck-sensor check: the value stays within
// Tolerance of where the flat run started for at least Duration.
type FlatlineParams struct {
	Duration  time.Duration `json:"duration" yaml:"window"`               // required, > 0
	Tolerance float64       `json:"tolerance,omitempty" yaml:"tolerance"` // engineering units, default 0 (exactly equal)
}

// Validate reports every problem at once.
func (p FlatlineParams) Validate() error {
	var errs []error
	if p.Duration <= 0 {
		errs = append(errs, fmt.Errorf("flatline: duration = %v must be > 0 (e.g. 30m)", p.Duration))
	}
	if p.Tolerance < 0 || !finite(p.Tolerance) {
		errs = append(errs, fmt.Errorf("flatline: tolerance = %g must be a finite number >= 0", p.Tolerance))
	}
	return errors.Join(errs...)
}

type flatlineState struct {
	Have   bool      `json:"have,omitempty"`
	Ref    float64   `json:"ref"`
	Since  time.Time `json:"since,omitzero"`
	LastT  time.Time `json:"last_t,omitzero"`
	Active bool      `json:"active,omitempty"`
}

// Flatline detects a stuck sensor.
type Flatline struct {
	core[FlatlineParams, flatlineState]
}

// NewFlatline validates p and returns the detector.
func NewFlatline(p FlatlineParams) (*Flatline, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Flatline{core: core[FlatlineParams, flatlineState]{name: NameFlatline, p: p}}, nil
}

// Update implements [Detector].
func (d *Flatline) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) || (d.st.Have && s.Time.Before(d.st.LastT)) {
		return dst
	}
	st := &d.st
	st.LastT = s.Time
	if !st.Have || math.Abs(s.Value-st.Ref) > d.p.Tolerance {
		st.Have, st.Ref, st.Since = true, s.Value, s.Time.UTC()
		if st.Active {
			st.Active = false
			msg := fmt.Sprintf("%s no longer stuck: value changed to %s", s.Tag, d.fm.v(s.Value))
			return append(dst, finding(s, NameFlatline, "stuck", false, 0, d.p.Duration.Seconds(), analytics.Warning, msg, nil))
		}
		return dst
	}
	flat := s.Time.Sub(st.Since)
	if !st.Active && flat >= d.p.Duration {
		st.Active = true
		msg := fmt.Sprintf("%s looks stuck: value %s (±%s) unchanged for %v since %s",
			s.Tag, d.fm.v(st.Ref), d.fm.v(d.p.Tolerance), flat.Round(time.Second), d.fm.t(st.Since))
		return append(dst, finding(s, NameFlatline, "stuck", true, flat.Seconds(), d.p.Duration.Seconds(), analytics.Warning, msg, nil))
	}
	return dst
}

// AppendStats implements [Detector]: flat_s, the length of the current flat run.
func (d *Flatline) AppendStats(dst []Stat) []Stat {
	if !d.st.Have {
		return dst
	}
	return append(dst, Stat{"flat_s", d.st.LastT.Sub(d.st.Since).Seconds()})
}

// ROCParams configures the rate-of-change check between consecutive
// readings, in engineering units per minute. Zero disables a direction.
type ROCParams struct {
	MaxRise float64 `json:"max_rise_per_min,omitempty" yaml:"-"`
	MaxFall float64 `json:"max_fall_per_min,omitempty" yaml:"-"` // positive number
	// MinInterval: readings closer than this are compared with the last
	// reading at least MinInterval older, damping noise (default 0).
	MinInterval time.Duration `json:"min_interval,omitempty" yaml:"-"`
	// MaxPerMinute is the configuration's one limit for both directions
	// (key max_per_minute); the engine sets MaxRise and MaxFall from it.
	MaxPerMinute float64 `json:"-" yaml:"max_per_minute"`
}

// Validate reports every problem at once.
func (p ROCParams) Validate() error {
	var errs []error
	if p.MaxRise <= 0 && p.MaxFall <= 0 {
		errs = append(errs, errors.New("roc: set max_rise_per_min and/or max_fall_per_min (> 0)"))
	}
	if p.MaxRise < 0 || p.MaxFall < 0 || !finite(p.MaxRise) || !finite(p.MaxFall) {
		errs = append(errs, fmt.Errorf("roc: max_rise_per_min = %g and max_fall_per_min = %g must be finite and >= 0", p.MaxRise, p.MaxFall))
	}
	if p.MinInterval < 0 {
		errs = append(errs, fmt.Errorf("roc: min_interval = %v must not be negative", p.MinInterval))
	}
	return errors.Join(errs...)
}

type rocState struct {
	Have       bool      `json:"have,omitempty"`
	RefT       time.Time `json:"ref_t,omitzero"`
	RefV       float64   `json:"ref_v"`
	LastT      time.Time `json:"last_t,omitzero"`
	Rate       float64   `json:"rate"`
	RiseActive bool      `json:"rise,omitempty"`
	FallActive bool      `json:"fall,omitempty"`
}

// RateOfChange alarms on a too fast rise or fall.
type RateOfChange struct {
	core[ROCParams, rocState]
}

// NewROC validates p and returns the detector.
func NewROC(p ROCParams) (*RateOfChange, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &RateOfChange{core: core[ROCParams, rocState]{name: NameROC, p: p}}, nil
}

// Update implements [Detector].
func (d *RateOfChange) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) || (d.st.Have && !s.Time.After(d.st.LastT)) {
		return dst
	}
	st := &d.st
	st.LastT = s.Time
	if !st.Have {
		st.Have, st.RefT, st.RefV = true, s.Time, s.Value
		return dst
	}
	dt := s.Time.Sub(st.RefT)
	if dt < d.p.MinInterval {
		return dst
	}
	rate := (s.Value - st.RefV) / dt.Minutes()
	st.Rate, st.RefT, st.RefV = rate, s.Time, s.Value
	if d.p.MaxRise > 0 {
		dst = d.edge(&st.RiseActive, rate > d.p.MaxRise, "rise", rate, d.p.MaxRise, s, dst)
	}
	if d.p.MaxFall > 0 {
		dst = d.edge(&st.FallActive, -rate > d.p.MaxFall, "fall", -rate, d.p.MaxFall, s, dst)
	}
	return dst
}

func (d *RateOfChange) edge(active *bool, cond bool, rule string, rate, limit float64, s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if cond == *active {
		return dst
	}
	*active = cond
	msg := fmt.Sprintf("%s rate of %s %s: %s per minute (limit %s per minute)", s.Tag, rule, verb(cond), d.fm.v(rate), d.fm.v(limit))
	return append(dst, finding(s, NameROC, rule, cond, rate, limit, analytics.Warning, msg, nil))
}

// AppendStats implements [Detector]: rate_per_min.
func (d *RateOfChange) AppendStats(dst []Stat) []Stat {
	return append(dst, Stat{"rate_per_min", d.st.Rate})
}

// SetDefaults implements [Spec]: none.
func (p *FlatlineParams) SetDefaults() {}

// Check implements [Spec].
func (p *FlatlineParams) Check() []Problem { return atLeast("window", p.Duration, time.Second) }

// Build implements [Builder].
func (p *FlatlineParams) Build(t Target) (Detector, error) {
	d, err := NewFlatline(*p)
	return formatted(d, err, t)
}

// SetDefaults implements [Spec]: none.
func (p *ROCParams) SetDefaults() {}

// Check implements [Spec].
func (p *ROCParams) Check() []Problem {
	if p.MaxPerMinute <= 0 {
		return []Problem{bad("max_per_minute", p.MaxPerMinute, "must be > 0")}
	}
	return nil
}

// Build implements [Builder].
func (p *ROCParams) Build(t Target) (Detector, error) {
	d, err := NewROC(ROCParams{MaxRise: p.MaxPerMinute, MaxFall: p.MaxPerMinute})
	return formatted(d, err, t)
}
