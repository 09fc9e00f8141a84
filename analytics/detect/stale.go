package detect

import (
	"errors"
	"fmt"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// StaleParams configures the stale-sensor check: the tag's source timestamp
// has not advanced for After while its machine goes on reporting newer
// values on other tags.
//
// A sensor that freezes usually freezes its timestamp too: the server keeps
// returning the last value with the time it was taken. Such re-reads carry
// no new measurement (the engine drops them), so the flatline check, which
// works on measurements, never sees the sensor stop. Staleness is judged on
// the machine's clock instead: the newest source time of any good value of
// the same machine. A whole machine going quiet (server down, network cut)
// is the collector's connection alarm, not this one: a step of the machine's
// clock of After or more is a gap in its data and does not age the tag.
type StaleParams struct {
	After time.Duration `json:"after" yaml:"after"` // required, > 0; several poll intervals
}

// Validate reports every problem at once.
func (p StaleParams) Validate() error {
	if p.After <= 0 {
		return errors.New("stale: after must be > 0 (e.g. 5m, several poll intervals)")
	}
	return nil
}

type staleState struct {
	Have   bool          `json:"have,omitempty"`
	Last   sample.Sample `json:"last"` // newest measurement of the tag
	Age    time.Duration `json:"age"`  // machine reporting time since Last
	Active bool          `json:"active,omitempty"`
}

// Stale detects a sensor that stopped producing new measurements. Update
// takes the tag's own samples; Observe takes the machine's clock.
type Stale struct {
	core[StaleParams, staleState]
}

// NewStale validates p and returns the detector.
func NewStale(p StaleParams) (*Stale, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Stale{core: core[StaleParams, staleState]{name: NameStale, p: p}}, nil
}

// Update implements [Detector]: a newer measurement of the tag ends a
// stale finding.
func (d *Stale) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) || (d.st.Have && !s.Time.After(d.st.Last.Time)) {
		return dst
	}
	d.st.Have, d.st.Last, d.st.Age = true, s, 0
	if d.st.Active {
		d.st.Active = false
		msg := fmt.Sprintf("%s reports new values again (%s)", s.Tag, d.fm.v(s.Value))
		return append(dst, finding(s, NameStale, "stale", false, 0, d.p.After.Seconds(), analytics.Warning, msg, nil))
	}
	return dst
}

// Observe is called when the machine's clock (the newest source time of
// any good value of the tag's machine) moves from prev to now; the finding
// is stamped with now.
func (d *Stale) Observe(prev, now time.Time, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	if !st.Have || st.Active {
		return dst
	}
	if st.Last.Time.After(prev) {
		prev = st.Last.Time
	}
	if step := now.Sub(prev); step > 0 && step < d.p.After {
		st.Age += step
	}
	age := st.Age
	if age < d.p.After {
		return dst
	}
	st.Active = true
	s := st.Last
	s.Time = now
	msg := fmt.Sprintf("%s is stale: no new value for %v of %s reporting (last %s at %s)",
		s.Tag, age.Round(time.Second), s.Machine, d.fm.v(s.Value), d.fm.t(st.Last.Time))
	return append(dst, finding(s, NameStale, "stale", true, age.Seconds(), d.p.After.Seconds(), analytics.Warning, msg, nil))
}

// AppendStats implements [Detector]: none; the age is only known on the
// machine's clock and is in the finding.
func (d *Stale) AppendStats(dst []Stat) []Stat { return dst }

// SetDefaults implements [Spec]: none.
func (p *StaleParams) SetDefaults() {}

// Check implements [Spec].
func (p *StaleParams) Check() []Problem { return atLeast("after", p.After, time.Second) }

// Build implements [Builder].
func (p *StaleParams) Build(t Target) (Detector, error) {
	d, err := NewStale(*p)
	return formatted(d, err, t)
}
