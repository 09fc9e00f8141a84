package detect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/linewatch/linewatch/analytics"
	"github.com/linewatch/linewatch/sample"
)

// PChartParams configures a p-chart of the reject fraction of one machine
// from two counter tags. A subgroup is the parts counted over one interval:
// SubgroupSamples readings (default 1) or, if set, SubgroupSpan of time.
//
//	p = rejects / (good + rejects)
//	limits p̄ ± 3·√(p̄(1−p̄)/n)            (Shewhart p-chart)
//	limits p̄ ± 3·σz·√(p̄(1−p̄)/n)         (Laney p′, Laney 2002)
//
// where σz = MR̄(z)/1.128 of the baseline subgroups' z = (p − p̄)/√(p̄(1−p̄)/n).
// Laney p′ corrects the too-narrow limits of large subgroups with
// between-subgroup variation (over-dispersion).
type PChartParams struct {
	GoodTag         string        `json:"good_tag" yaml:"good_tag"`
	RejectTag       string        `json:"reject_tag" yaml:"reject_tag"`
	SubgroupSamples int           `json:"subgroup_samples,omitempty" yaml:"-"`
	SubgroupSpan    time.Duration `json:"subgroup_span,omitempty" yaml:"subgroup"`
	// PBar is the known reject fraction; 0: estimated from the first
	// BaselineSubgroups subgroups (default 20), as is σz for Laney when
	// SigmaZ is 0.
	PBar              float64 `json:"p_bar,omitempty" yaml:"p_bar"`
	BaselineSubgroups int     `json:"baseline_subgroups,omitempty" yaml:"baseline_subgroups"`
	Laney             bool    `json:"laney,omitempty" yaml:"laney"`
	SigmaZ            float64 `json:"sigma_z,omitempty" yaml:"-"`
	// Modulus of the counters for wrap-around (0: a decrease is a reset).
	Modulus float64 `json:"modulus,omitempty" yaml:"-"`
	// MinSubgroup: subgroups with fewer parts are not charted (default 1).
	MinSubgroup float64 `json:"min_subgroup,omitempty" yaml:"-"`
	// TwoSided also reports subgroups below the lower limit (fewer rejects
	// than usual: worth a look, not waste); by default the engine keeps
	// the upper limit's findings only.
	TwoSided bool `json:"-" yaml:"two_sided"`
}

func (p PChartParams) withDefaults() PChartParams {
	if p.SubgroupSamples == 0 {
		p.SubgroupSamples = 1
	}
	if p.BaselineSubgroups == 0 {
		p.BaselineSubgroups = 20
	}
	if p.MinSubgroup == 0 {
		p.MinSubgroup = 1
	}
	return p
}

// Validate reports every problem at once.
func (p PChartParams) Validate() error {
	var errs []error
	if p.GoodTag == "" || p.RejectTag == "" || p.GoodTag == p.RejectTag {
		errs = append(errs, fmt.Errorf("p_chart: good_tag %q and reject_tag %q must be two different counter tags", p.GoodTag, p.RejectTag))
	}
	if p.SubgroupSamples < 0 || p.SubgroupSpan < 0 {
		errs = append(errs, fmt.Errorf("p_chart: subgroup_samples = %d and subgroup_span = %v must not be negative", p.SubgroupSamples, p.SubgroupSpan))
	}
	if p.PBar < 0 || p.PBar >= 1 || math.IsNaN(p.PBar) {
		errs = append(errs, fmt.Errorf("p_chart: p_bar = %g must be in (0, 1), or 0 to estimate it", p.PBar))
	}
	if p.BaselineSubgroups < 0 || (p.BaselineSubgroups > 0 && p.BaselineSubgroups < 2) || p.BaselineSubgroups > 10000 {
		errs = append(errs, fmt.Errorf("p_chart: baseline_subgroups = %d must be between 2 and 10000 (20–25 is usual)", p.BaselineSubgroups))
	}
	if p.SigmaZ < 0 || !finite(p.SigmaZ) || p.Modulus < 0 || !finite(p.Modulus) || p.MinSubgroup < 0 {
		errs = append(errs, fmt.Errorf("p_chart: sigma_z = %g, modulus = %g and min_subgroup = %g must be >= 0", p.SigmaZ, p.Modulus, p.MinSubgroup))
	}
	return errors.Join(errs...)
}

// PLimits returns the Shewhart p-chart limits for subgroup size n
// (sigmaZ 1), or the Laney p′ limits (sigmaZ = σz). LCL is floored at 0.
func PLimits(pbar, n, sigmaZ float64) (lcl, ucl float64) {
	sp := sigmaZ * math.Sqrt(pbar*(1-pbar)/n)
	return max(0, pbar-3*sp), min(1, pbar+3*sp)
}

// LaneySigmaZ is σz = MR̄(z)/1.128 of subgroups with reject fractions p
// and sizes n around pbar.
func LaneySigmaZ(p, n []float64, pbar float64) float64 {
	var sum, prev float64
	k := 0
	for i := range p {
		z := (p[i] - pbar) / math.Sqrt(pbar*(1-pbar)/n[i])
		if i > 0 {
			sum += math.Abs(z - prev)
			k++
		}
		prev = z
	}
	if k == 0 {
		return math.NaN()
	}
	return sum / float64(k) / D2
}

type pSubgroup struct {
	P float64 `json:"p"`
	N float64 `json:"n"`
}

type pchartState struct {
	Good, Reject Counter
	Open         bool        `json:"open,omitempty"`
	Start        time.Time   `json:"start,omitzero"`
	LastT        time.Time   `json:"last_t,omitzero"`
	Stamps       int         `json:"stamps"`
	G, R         float64     // parts in the open subgroup
	Batch        string      `json:"batch,omitempty"`
	Base         []pSubgroup `json:"base,omitempty"`
	Ready        bool        `json:"ready,omitempty"`
	PBar         float64     `json:"p_bar"`
	SigmaZ       float64     `json:"sigma_z"`
	P, N         float64     // last charted subgroup
	Up, Down     bool
}

// PChart is the p-chart of one machine's reject fraction.
type PChart struct {
	core[PChartParams, pchartState]
}

// NewPChart validates p and returns the detector.
func NewPChart(p PChartParams) (*PChart, error) {
	p, err := prepare(p)
	if err != nil {
		return nil, err
	}
	d := &PChart{core: core[PChartParams, pchartState]{name: NamePChart, p: p}}
	d.st.Good.Modulus, d.st.Reject.Modulus = p.Modulus, p.Modulus
	d.st.PBar, d.st.SigmaZ = p.PBar, 1
	if p.Laney {
		d.st.SigmaZ = p.SigmaZ
	}
	d.st.Ready = p.PBar > 0 && (!p.Laney || p.SigmaZ > 0)
	if d.st.Ready {
		d.st.Base = nil
	}
	return d, nil
}

// Update implements [Detector]; samples of tags other than the two counters
// are ignored.
//
// The two counters are independent streams: a counter keeps the source
// timestamp of its last change, so the reject counter's timestamp is often
// older than the good counter's of the same read. Each counter's increments
// are therefore taken in that counter's own order (the engine passes each
// tag's samples in time order), never ordered against the other counter,
// and nothing is dropped: an increment read after a subgroup closed counts
// in the next one. Subgroup boundaries follow the newest time seen on
// either counter.
func (d *PChart) Update(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !usable(s) || (s.Tag != d.p.GoodTag && s.Tag != d.p.RejectTag) {
		return dst
	}
	st := &d.st
	newer := s.Time.After(st.LastT)
	// A new batch starts a new subgroup: a subgroup never mixes batches.
	if st.Open && ((newer && d.complete(s.Time)) || s.Batch != st.Batch) {
		dst = d.close(s, dst)
	}
	if !st.Open {
		start := s.Time
		if !newer {
			start = st.LastT
		}
		st.Open, st.Start, st.Stamps, st.G, st.R, st.Batch = true, start, 1, 0, 0, s.Batch
	} else if newer {
		st.Stamps++
	}
	if newer {
		st.LastT = s.Time
	}
	if s.Tag == d.p.GoodTag {
		if inc, ok := st.Good.Delta(s.Value); ok {
			st.G += inc
		}
	} else if inc, ok := st.Reject.Delta(s.Value); ok {
		st.R += inc
	}
	return dst
}

// complete reports whether the open subgroup is full once a value at next
// arrives: a span subgroup holds the values in [start, start+span), a
// count subgroup SubgroupSamples distinct read times.
func (d *PChart) complete(next time.Time) bool {
	if d.p.SubgroupSpan > 0 {
		return next.Sub(d.st.Start) >= d.p.SubgroupSpan
	}
	return d.st.Stamps >= d.p.SubgroupSamples
}

// Flush closes the open subgroup now (end of batch or of a replay); s gives
// the identity (site, line, machine) for findings.
func (d *PChart) Flush(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	if !d.st.Open {
		return dst
	}
	return d.close(s, dst)
}

func (d *PChart) close(s sample.Sample, dst []analytics.Finding) []analytics.Finding {
	st := &d.st
	st.Open = false
	n := st.G + st.R
	if n < d.p.MinSubgroup || n <= 0 {
		return dst
	}
	p := st.R / n
	if !st.Ready {
		d.learn(p, n)
		return dst
	}
	st.P, st.N = p, n
	lcl, ucl := PLimits(st.PBar, n, st.SigmaZ)
	g := s
	g.Tag, g.Time, g.Value, g.Batch = d.p.RejectTag, st.LastT, p, st.Batch
	if up := p > ucl; up != st.Up {
		st.Up = up
		dst = append(dst, d.pFinding(g, "upper", up, ucl, analytics.Warning))
	}
	if down := p < lcl; down != st.Down {
		st.Down = down
		dst = append(dst, d.pFinding(g, "lower", down, lcl, analytics.Info))
	}
	return dst
}

func (d *PChart) learn(p, n float64) {
	st := &d.st
	st.Base = append(st.Base, pSubgroup{p, n})
	if len(st.Base) < d.p.BaselineSubgroups {
		return
	}
	pbar := d.p.PBar
	if pbar == 0 {
		var r, t float64
		for _, b := range st.Base {
			r += b.P * b.N
			t += b.N
		}
		pbar = r / t
	}
	if pbar <= 0 || pbar >= 1 {
		st.Base = st.Base[:0] // no rejects (or only rejects) yet: no chart possible
		return
	}
	sz := 1.0
	if d.p.Laney && d.p.SigmaZ > 0 {
		sz = d.p.SigmaZ
	} else if d.p.Laney {
		var sum, prev float64
		for i, b := range st.Base {
			z := (b.P - pbar) / math.Sqrt(pbar*(1-pbar)/b.N)
			if i > 0 {
				sum += math.Abs(z - prev)
			}
			prev = z
		}
		sz = sum / float64(len(st.Base)-1) / D2
		if !(sz > 0) {
			st.Base = st.Base[:0] // no variation between subgroups yet: limits would collapse
			return
		}
	}
	st.PBar, st.SigmaZ, st.Ready, st.Base = pbar, sz, true, nil
}

func (d *PChart) pFinding(g sample.Sample, rule string, active bool, limit float64, sev analytics.Severity) analytics.Finding {
	st := d.st
	kind := "p-chart"
	if d.p.Laney {
		kind = "Laney p'-chart"
	}
	msg := fmt.Sprintf("%s/%s reject fraction %s %s limit: %s (%s of %s parts) vs %s (p-bar %s, sigma_z %s, %s)",
		g.Machine, d.p.RejectTag, map[bool]string{true: "beyond", false: "back within"}[active], rule, percent(g.Value),
		count(st.R), count(st.N), percent(limit), percent(st.PBar), ratio(st.SigmaZ), kind)
	ev := map[string]float64{"n": st.N, "rejects": st.R, "p_bar": st.PBar, "sigma_z": st.SigmaZ}
	return finding(g, NamePChart, rule, active, g.Value, limit, sev, msg, ev)
}

// AppendStats implements [Detector]: p, n, p_bar, ucl, lcl, sigma_z of the
// last charted subgroup.
func (d *PChart) AppendStats(dst []Stat) []Stat {
	st := d.st
	if !st.Ready || st.N == 0 {
		return dst
	}
	lcl, ucl := PLimits(st.PBar, st.N, st.SigmaZ)
	return append(dst, Stat{"p", st.P}, Stat{"n", st.N}, Stat{"p_bar", st.PBar},
		Stat{"ucl", ucl}, Stat{"lcl", lcl}, Stat{"sigma_z", st.SigmaZ})
}

// Defaults of a configured p-chart.
const (
	DefaultPChartSubgroup = 10 * time.Minute
	DefaultPChartBaseline = 20
)

// SetDefaults implements [Spec].
func (p *PChartParams) SetDefaults() {
	if p.SubgroupSpan == 0 {
		p.SubgroupSpan = DefaultPChartSubgroup
	}
	if p.BaselineSubgroups == 0 {
		p.BaselineSubgroups = DefaultPChartBaseline
	}
}

// Check implements [Spec].
func (p *PChartParams) Check() []Problem {
	out := counterTags(p.GoodTag, p.RejectTag)
	out = append(out, atLeast("subgroup", p.SubgroupSpan, time.Second)...)
	if p.PBar < 0 || p.PBar >= 1 {
		out = append(out, bad("p_bar", p.PBar, "must be in [0, 1) (0 = estimate from the baseline)"))
	}
	return out
}

// CheckTarget implements [TargetChecker]: the machine has both counters.
func (p *PChartParams) CheckTarget(t Target) []Problem { return hasCounters(t, p.GoodTag, p.RejectTag) }

// Build implements [Builder].
func (p *PChartParams) Build(t Target) (Detector, error) {
	d, err := NewPChart(PChartParams{GoodTag: p.GoodTag, RejectTag: p.RejectTag, SubgroupSpan: p.SubgroupSpan,
		PBar: p.PBar, BaselineSubgroups: p.BaselineSubgroups, Laney: p.Laney})
	return formatted(d, err, t)
}

// counterTags checks that a counter-based detector names both counters.
func counterTags(good, reject string) []Problem {
	if good == "" || reject == "" {
		return []Problem{{Allowed: "good_tag and reject_tag (counter tag names of the machine) required"}}
	}
	return nil
}

// hasCounters checks that the target's machine has both counters.
func hasCounters(t Target, good, reject string) []Problem {
	if good == "" || reject == "" || t.HasTag == nil {
		return nil
	}
	var out []Problem
	for _, name := range []string{good, reject} {
		if !t.HasTag(name) {
			out = append(out, Problem{Value: name, Allowed: fmt.Sprintf("machine %s has no tag %q", t.Machine, name)})
		}
	}
	return out
}
